import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { sidecarOnly } from "../EgressPolicy.js"
import type { NamespaceTarget } from "../NamespaceTarget.js"
import { egressContract } from "./contract.js"
import { fakeEgressLayer, makeFakeEgress } from "./FakeEgress.js"

// Fake namespaces: a PID counter and the set of PIDs whose "namespace" is alive.
const alive = new Set<number>()
let next = 1
const namespace = Effect.acquireRelease(
  Effect.sync(() => {
    const pid = next++
    alive.add(pid)
    return {
      target: { pid } satisfies NamespaceTarget,
      destroy: Effect.sync(() => void alive.delete(pid)),
    }
  }),
  (ns) => ns.destroy,
)

egressContract(
  "FakeEgress",
  fakeEgressLayer({ namespaceExists: (t) => "pid" in t && alive.has(t.pid) }),
  { namespace },
)

describe("FakeEgress", () => {
  it.effect("records the policy in force per namespace and every install", () =>
    Effect.gen(function* () {
      const fake = makeFakeEgress()
      yield* fake.install({ pid: 10 }, sidecarOnly([8080]))
      yield* fake.install({ pid: 11, userns: true }, sidecarOnly([9000]))
      expect([...fake.inForce().keys()]).toEqual([
        "/proc/10/ns/net",
        "/proc/11/ns/net (user namespace /proc/11/ns/user)",
      ])
      expect(fake.installs().map((i) => i.policy.inboundTcpPorts)).toEqual([[8080], [9000]])
    }),
  )

  it.effect("told to fail, install fails with EgressApplyFailed and records nothing", () =>
    Effect.gen(function* () {
      const fake = makeFakeEgress()
      fake.failOn("install", "nft: Operation not permitted")
      const error = yield* Effect.flip(fake.install({ pid: 10 }, sidecarOnly([8080])))
      expect(error).toMatchObject({
        _tag: "EgressApplyFailed",
        reason: "nft: Operation not permitted",
      })
      expect(fake.inForce().size).toBe(0)
      fake.failOn("install", undefined)
      yield* fake.install({ pid: 10 }, sidecarOnly([8080]))
      expect(fake.inForce().size).toBe(1)
    }),
  )

  it.effect("flushed rules no longer verify", () =>
    Effect.gen(function* () {
      const fake = makeFakeEgress()
      yield* fake.install({ pid: 10 }, sidecarOnly([8080]))
      fake.flush({ pid: 10 })
      expect((yield* Effect.flip(fake.verify({ pid: 10 }, sidecarOnly([8080]))))._tag).toBe(
        "EgressVerifyFailed",
      )
    }),
  )
})
