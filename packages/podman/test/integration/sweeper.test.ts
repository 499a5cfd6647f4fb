/**
 * The sweeper removes test pods whose owner process is provably gone and keeps the others
 * (pods of live owners, pods without owner labels).
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execa } from "execa"
import {
  LABEL_OWNER,
  LABEL_OWNER_PID,
  LABEL_OWNER_START,
  PodmanClient,
  sweepOrphanedPods,
} from "../../src/index.js"
import { ownerLabels, processStartTime } from "../../src/internal/owner.js"
import { testClientLayer } from "../support/layer.js"
import { testLabels, uniqueName } from "../support/pods.js"

describe("Sweeper on real Podman", () => {
  layer(testClientLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("removes pods of a dead owner, keeps pods of live or unknown owners", () =>
      Effect.gen(function* () {
        const client = yield* PodmanClient
        const run = uniqueName("run")
        const labels = testLabels(run)
        // A real process that has exited: its pid and start time are provably gone.
        const child = execa(process.execPath, ["-e", "setTimeout(() => {}, 200)"])
        const deadPid = child.pid!
        const deadStart = processStartTime(deadPid)!
        yield* Effect.promise(() => child)
        const dead = uniqueName("orphan")
        const live = uniqueName("owned")
        const unknown = uniqueName("nolabels")
        const created = [dead, live, unknown]
        yield* Effect.addFinalizer(() =>
          Effect.forEach(created, (n) =>
            client.pods.remove(n, { force: true }).pipe(Effect.ignore),
          ),
        )
        yield* client.pods.create({
          name: dead,
          labels: {
            ...labels,
            [LABEL_OWNER]: "test",
            [LABEL_OWNER_PID]: String(deadPid),
            [LABEL_OWNER_START]: deadStart,
          },
        })
        yield* client.pods.create({ name: live, labels: { ...labels, ...ownerLabels("test") } })
        yield* client.pods.create({ name: unknown, labels })

        const report = yield* sweepOrphanedPods({ requireLabels: labels })
        expect(report.removed).toEqual([dead])
        expect([...report.kept].sort()).toEqual([live, unknown].sort())
        expect(yield* client.pods.exists(dead)).toBe(false)
        expect(yield* client.pods.exists(live)).toBe(true)
        expect(yield* client.pods.exists(unknown)).toBe(true)
      }),
    )
  })
})
