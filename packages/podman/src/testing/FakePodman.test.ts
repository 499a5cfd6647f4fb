import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { podmanClientContract } from "./contract.js"
import { fakePodmanLayer, makeFakePodman } from "./FakePodman.js"

const image = "localhost/contract-fake:1"

podmanClientContract("FakePodman", fakePodmanLayer({ images: [image] }), {
  image: Effect.succeed(image),
  prefix: "contract-fake",
})

describe("FakePodman images", () => {
  it.effect("a tag rebuilt reports the new build's ID, as Podman's inspect does", () =>
    Effect.gen(function* () {
      const podman = yield* makeFakePodman({ images: [image] })
      const first = yield* podman.images.build({ contextDir: "/x", tag: image })
      expect((yield* podman.images.inspect(image)).Id).toBe(first.id)
      const second = yield* podman.images.build({ contextDir: "/x", tag: image })
      expect(second.id).not.toBe(first.id)
      expect((yield* podman.images.inspect(image)).Id).toBe(second.id)
    }),
  )
})
