import { rm } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execa } from "execa"
import { Netns } from "../../src/standalone/Netns.js"
import {
  fixture,
  NODE,
  netnsExists,
  processAlive,
  requirePrerequisites,
  TestLayer,
} from "./helpers.js"

requirePrerequisites()

const packageDir = fileURLToPath(new URL("../..", import.meta.url))

describe("after a crash of the owner", () => {
  layer(TestLayer, { excludeTestServices: true })((it) => {
    it.effect(
      "slirp4netns exits by itself and the sweeper removes only the orphaned namespace",
      () =>
        Effect.gen(function* () {
          const netns = yield* Netns
          // A live namespace under the same prefix, owned by this process: must survive the sweep.
          const live = yield* netns.create({ namePrefix: "bm-test-crash" })

          const child = execa(NODE, ["--import", "tsx", fixture("crash.ts")], {
            cwd: packageDir,
            reject: false,
          })
          const line = yield* Effect.callback<string, Error>((resume) => {
            let out = ""
            const timer = setTimeout(
              () => resume(Effect.fail(new Error(`crash fixture printed nothing in 30 s: ${out}`))),
              30_000,
            )
            child.stdout?.on("data", (d: Buffer) => {
              out += d.toString()
              if (out.includes("\n")) {
                clearTimeout(timer)
                resume(Effect.succeed(out.trim()))
              }
            })
            return Effect.sync(() => clearTimeout(timer))
          })
          const orphan = JSON.parse(line) as { name: string; slirpPid: number; apiSocket: string }
          yield* Effect.addFinalizer(() =>
            Effect.promise(() => rm(orphan.apiSocket, { force: true })),
          )
          expect(yield* Effect.promise(() => processAlive(orphan.slirpPid))).toBe(true)

          child.kill("SIGKILL")
          yield* Effect.promise(() => child)

          // slirp4netns watches its exit fd, which closed with its owner.
          const deadline = Date.now() + 5000
          while (yield* Effect.promise(() => processAlive(orphan.slirpPid))) {
            if (Date.now() > deadline) throw new Error("slirp4netns outlived its owner by 5 s")
            yield* Effect.sleep(50)
          }
          expect(yield* Effect.promise(() => netnsExists(orphan.name))).toBe(true)

          const removed = yield* netns.sweep("bm-test-crash")
          expect(removed).toEqual([orphan.name])
          expect(yield* Effect.promise(() => netnsExists(orphan.name))).toBe(false)
          expect(yield* Effect.promise(() => netnsExists(live.name))).toBe(true)
        }),
    )
  })
})
