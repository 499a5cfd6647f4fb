import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ConfigStore } from "./ConfigStore"

const inDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "beemesh-configs-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)
const open = (dir: string) =>
  Effect.service(ConfigStore).pipe(
    Effect.provide(
      ConfigStore.layer({ file: join(dir, "configs.json"), keyFile: join(dir, "secrets.key") }),
    ),
  )
const secret = {
  kind: "Secret" as const,
  namespace: "shop",
  name: "db",
  data: { password: Buffer.from("correct horse").toString("base64") },
}

describe("ConfigStore", () => {
  it.effect("seals Secrets: the file holds neither the value nor its base64", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* inDir
        const store = yield* open(dir)
        store.objects.set("Secret/shop/db", secret)
        yield* store.save()
        const text = yield* Effect.promise(() => readFile(join(dir, "configs.json"), "utf8"))
        expect(text).not.toContain("correct horse")
        expect(text).not.toContain(secret.data.password)
        expect((yield* open(dir)).objects.get("Secret/shop/db")).toEqual(secret)
      }),
    ),
  )

  it.effect("refuses another key, and a key open to others, naming the file and the fix", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* inDir
        const store = yield* open(dir)
        store.objects.set("Secret/shop/db", secret)
        yield* store.save()
        const keyFile = join(dir, "secrets.key")
        yield* Effect.promise(() => chmod(keyFile, 0o644))
        const open644 = yield* Effect.flip(open(dir))
        expect(open644.message).toContain("its mode is 644; it must be 600")
        yield* Effect.promise(() => writeFile(keyFile, Buffer.alloc(32, 7), { mode: 0o600 }))
        yield* Effect.promise(() => chmod(keyFile, 0o600))
        const other = yield* Effect.flip(open(dir))
        expect(other._tag).toBe("ConfigStoreInvalid")
        expect(other.message).toContain(`${join(dir, "configs.json")} is unusable`)
        expect(other.message).toContain(
          "restore the data directory's configs.json and secrets.key together",
        )
      }),
    ),
  )
})
