import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { Egress } from "../../src/Egress.js"
import { sidecarOnly } from "../../src/EgressPolicy.js"
import type { NamespaceTarget } from "../../src/NamespaceTarget.js"
import { defaultSlirpOptions } from "../../src/SlirpOptions.js"
import { Netns } from "../../src/standalone/Netns.js"
import { Slirp } from "../../src/standalone/Slirp.js"
import {
  connectFrom,
  connectHost,
  freePort,
  hostListener,
  netnsListener,
  requirePrerequisites,
  TestLayer,
  userNamespaceHolder,
  waitForOutput,
} from "./helpers.js"

requirePrerequisites()

const SIDECAR = { uid: 1337, gid: 1337 }
const APP = { uid: 1000, gid: 1000 }
const ROOT = { uid: 0, gid: 0 }

/** Host-loopback egress from inside `target`: the sidecar gets out, others do not (v4 and v6). */
const provesEgress = (target: NamespaceTarget) =>
  Effect.gen(function* () {
    const v4 = yield* hostListener("127.0.0.1")
    const v6 = yield* hostListener("::1")
    for (const [listener, gateway] of [
      [v4, "10.0.2.2"],
      [v6, "fd00::2"],
    ] as const) {
      const sidecar = yield* connectFrom(target, gateway, listener.port, SIDECAR)
      expect(sidecar.outcome, `sidecar to ${gateway}: ${sidecar.output}`).toBe("connected")
      expect(listener.accepted).toHaveLength(1)
      for (const user of [APP, ROOT]) {
        const other = yield* connectFrom(target, gateway, listener.port, user)
        expect(other.outcome, `uid ${user.uid} to ${gateway}: ${other.output}`).toBe("timeout")
      }
      // Still only the sidecar's connection reached the listener we own.
      expect(listener.accepted).toHaveLength(1)
    }
  })

describe("Egress (real nftables in the namespace)", () => {
  layer(TestLayer, { excludeTestServices: true })((it) => {
    it.effect(
      "rootful: only UID 1337 leaves; inbound only to allowed ports; removed on release",
      () =>
        Effect.gen(function* () {
          const netns = yield* Netns
          const egress = yield* Egress
          const ns = yield* netns.create({ namePrefix: "bm-test" })
          const slirp = yield* (yield* Slirp).start({
            target: ns.target,
            options: defaultSlirpOptions,
          })

          // Before the policy, any UID gets out: the test can tell blocked from broken.
          const before = yield* hostListener("127.0.0.1")
          const open = yield* connectFrom(ns.target, "10.0.2.2", before.port, APP)
          expect(open.outcome, open.output).toBe("connected")

          const scope = yield* Scope.make()
          const applied = yield* egress
            .apply(ns.target, sidecarOnly([8080]))
            .pipe(Scope.provide(scope))
          expect(applied.ruleset).toContain("meta skuid { 1337 } accept")
          expect(yield* egress.list(ns.target)).toContain("policy drop")

          yield* provesEgress(ns.target)

          // Inbound: a forward to the allowed port works, to another port it does not.
          const allowed = yield* netnsListener(ns.target, "0.0.0.0", 8080)
          const other = yield* netnsListener(ns.target, "0.0.0.0", 9090)
          const hostAllowed = yield* freePort()
          const hostOther = yield* freePort()
          yield* slirp.hostForward({ hostPort: hostAllowed, guestPort: 8080 })
          yield* slirp.hostForward({ hostPort: hostOther, guestPort: 9090 })
          expect(yield* connectHost("127.0.0.1", hostAllowed)).toEqual({
            outcome: "connected",
            output: "pong 8080",
          })
          yield* waitForOutput(allowed, /accepted/)
          const dropped = yield* connectHost("127.0.0.1", hostOther, 2000)
          expect(dropped.outcome).not.toBe("connected")
          expect(other.stdoutText()).not.toContain("accepted")

          // Release removes the table: the app UID gets out again.
          yield* Scope.close(scope, Exit.void)
          expect(yield* egress.list(ns.target)).toBeUndefined()
          const reopened = yield* connectFrom(ns.target, "10.0.2.2", before.port, APP)
          expect(reopened.outcome, reopened.output).toBe("connected")
        }),
    )

    it.effect(
      "loopback connections are left out of conntrack; connections through slirp4netns are tracked",
      () =>
        Effect.gen(function* () {
          const netns = yield* Netns
          const egress = yield* Egress
          const ns = yield* netns.create({ namePrefix: "bm-test" })
          yield* (yield* Slirp).start({ target: ns.target, options: defaultSlirpOptions })
          yield* egress.apply(ns.target, sidecarOnly([8080]))
          /** The namespace's conntrack entries naming `port` as their destination. */
          const tracked = (port: number) =>
            netns
              .exec(ns.target, ["cat", "/proc/net/nf_conntrack"])
              .pipe(
                Effect.map(
                  (r) => r.stdout.split("\n").filter((l) => l.includes(` dport=${port} `)).length,
                ),
              )

          // An app talking to its sidecar over loopback (v4 and v6), five connections each.
          for (const host of ["127.0.0.1", "::1"]) {
            const port = yield* freePort()
            yield* netnsListener(ns.target, host, port)
            for (let i = 0; i < 5; i++) {
              const call = yield* connectFrom(ns.target, host, port, APP)
              expect(call.outcome, `${host}: ${call.output}`).toBe("connected")
            }
            expect(yield* tracked(port), `entries for ${host} port ${port}`).toBe(0)
          }

          // The sidecar's connection out through slirp4netns is tracked (its replies are let in
          // as established).
          const outside = yield* hostListener("127.0.0.1")
          const sidecar = yield* connectFrom(ns.target, "10.0.2.2", outside.port, SIDECAR)
          expect(sidecar.outcome, sidecar.output).toBe("connected")
          expect(yield* tracked(outside.port)).toBeGreaterThanOrEqual(1)
        }),
    )

    it.effect(
      "user-namespace target: slirp4netns and nft enter the namespace's owning user namespace",
      () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          // A process in its own user + network namespace, with a subordinate-ID style mapping
          // (container UID 0-65535 → host 200000-265535), as rootless Podman sets up.
          const pid = yield* userNamespaceHolder(200_000, 65_536)
          const target: NamespaceTarget = { pid, userns: true }
          yield* (yield* Slirp).start({ target, options: defaultSlirpOptions })
          yield* egress.apply(target, sidecarOnly([8080]))
          expect(yield* egress.list(target)).toContain("meta skuid 1337 accept")
          // UIDs here are the user namespace's own: 1337 inside is host UID 201337.
          yield* provesEgress(target)
        }),
    )
  })
})
