/**
 * Builds the test images offline (see test/support/images.ts) and prints their tags.
 *   pnpm --filter @beemesh/podman build:test-images
 */
import { Effect } from "effect"
import { PodmanClient } from "../src/index.js"
import { ensureTestImages } from "../test/support/images.js"

const program = ensureTestImages(process.execPath).pipe(
  Effect.tap((images) => Effect.sync(() => console.log(JSON.stringify(images, null, 2)))),
  Effect.provide(PodmanClient.layer({})),
)

Effect.runPromise(program).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exit(1)
})
