import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { execa } from "execa"
import { HostTools } from "../../src/HostTools.js"
import { defaultSlirpOptions, type SlirpOptions } from "../../src/SlirpOptions.js"
import { Netns } from "../../src/standalone/Netns.js"
import { Slirp } from "../../src/standalone/Slirp.js"
import {
  connectFrom,
  connectHost,
  freePort,
  hostListener,
  netnsExists,
  netnsListener,
  processAlive,
  requirePrerequisites,
  TestLayer,
} from "./helpers.js"

requirePrerequisites()

const addrs = (output: string) => [...output.matchAll(/inet6? (\S+)/g)].map((m) => m[1]!)

describe("Slirp (real slirp4netns)", () => {
  layer(TestLayer, { excludeTestServices: true })((it) => {
    it.effect("default options: guest address from the CIDR, IPv6, MTU 1500, sandbox", () =>
      Effect.gen(function* () {
        const netns = yield* Netns
        const ns = yield* netns.create({ namePrefix: "bm-test" })
        const slirp = yield* (yield* Slirp).start({
          target: ns.target,
          options: defaultSlirpOptions,
        })
        const out = (yield* netns.exec(ns.target, ["ip", "-o", "addr", "show", "dev", "tap0"]))
          .stdout
        const inet = addrs(out)
        expect(inet).toContain("10.0.2.100/24")
        expect(inet.some((a) => a.startsWith("fd00::") && a.endsWith("/64"))).toBe(true)
        const link = (yield* netns.exec(ns.target, ["ip", "-o", "link", "show", "dev", "tap0"]))
          .stdout
        expect(link).toMatch(/mtu 1500 /)
        expect(slirp.addresses.gateway).toBe("10.0.2.2")
        expect(slirp.sandbox).toBe(true)
        expect(slirp.seccomp).toBe(true)
        expect(existsSync(slirp.apiSocket)).toBe(true)
      }),
    )

    it.effect("another CIDR and MTU, IPv6 off: no global IPv6 address", () =>
      Effect.gen(function* () {
        const netns = yield* Netns
        const ns = yield* netns.create({ namePrefix: "bm-test" })
        yield* (yield* Slirp).start({
          target: ns.target,
          options: { ...defaultSlirpOptions, enableIpv6: false, cidr: "10.88.0.0/16", mtu: 9000 },
        })
        const out = (yield* netns.exec(ns.target, ["ip", "-o", "addr", "show", "dev", "tap0"]))
          .stdout
        const inet = addrs(out)
        expect(inet).toContain("10.88.0.100/16")
        expect(inet.filter((a) => a.includes(":") && !a.startsWith("fe80:"))).toEqual([])
        const link = (yield* netns.exec(ns.target, ["ip", "-o", "link", "show", "dev", "tap0"]))
          .stdout
        expect(link).toMatch(/mtu 9000 /)
        const route = (yield* netns.exec(ns.target, ["ip", "route", "show", "default"])).stdout
        expect(route).toContain("via 10.88.0.2")
      }),
    )

    it.effect(
      "host loopback allowed: the host's 127.0.0.1 and ::1 are reachable at the gateway",
      () =>
        Effect.gen(function* () {
          const netns = yield* Netns
          const ns = yield* netns.create({ namePrefix: "bm-test" })
          yield* (yield* Slirp).start({ target: ns.target, options: defaultSlirpOptions })
          const v4 = yield* hostListener("127.0.0.1")
          const v6 = yield* hostListener("::1")
          const r4 = yield* connectFrom(ns.target, "10.0.2.2", v4.port)
          expect(r4.outcome, r4.output).toBe("connected")
          expect(v4.accepted).toEqual(["127.0.0.1"])
          const r6 = yield* connectFrom(ns.target, "fd00::2", v6.port)
          expect(r6.outcome, r6.output).toBe("connected")
          expect(v6.accepted).toEqual(["::1"])
        }),
    )

    it.effect("host loopback off: the host's 127.0.0.1 and ::1 are not reachable", () =>
      Effect.gen(function* () {
        const netns = yield* Netns
        const ns = yield* netns.create({ namePrefix: "bm-test" })
        yield* (yield* Slirp).start({
          target: ns.target,
          options: { ...defaultSlirpOptions, allowHostLoopback: false },
        })
        const v4 = yield* hostListener("127.0.0.1")
        const v6 = yield* hostListener("::1")
        // slirp4netns refuses these itself (EPERM → reset): nothing is sent anywhere.
        const r4 = yield* connectFrom(ns.target, "10.0.2.2", v4.port)
        expect(r4.outcome, r4.output).toBe("error")
        const r6 = yield* connectFrom(ns.target, "fd00::2", v6.port)
        expect(r6.outcome, r6.output).toBe("error")
        expect(v4.accepted).toEqual([])
        expect(v6.accepted).toEqual([])
      }),
    )

    it.effect("host port forward through the API socket: add, list, reach, remove", () =>
      Effect.gen(function* () {
        const netns = yield* Netns
        const ns = yield* netns.create({ namePrefix: "bm-test" })
        const slirp = yield* (yield* Slirp).start({
          target: ns.target,
          options: defaultSlirpOptions,
        })
        yield* netnsListener(ns.target, "0.0.0.0", 8080)
        const hostPort = yield* freePort()
        const forward = yield* slirp.addHostForward({ hostPort, guestPort: 8080 })
        expect(forward).toMatchObject({ hostAddr: "127.0.0.1", guestAddr: "10.0.2.100" })
        expect(yield* slirp.listHostForwards()).toEqual([forward])
        const reply = yield* connectHost("127.0.0.1", hostPort)
        expect(reply).toEqual({ outcome: "connected", output: "pong 8080" })
        // slirp4netns refuses a duplicate forward with a typed error
        const dup = yield* Effect.flip(slirp.addHostForward({ hostPort, guestPort: 8080 }))
        expect(dup._tag).toBe("SlirpApiFailed")
        yield* slirp.removeHostForward(forward.id)
        expect(yield* slirp.listHostForwards()).toEqual([])
        const after = yield* connectHost("127.0.0.1", hostPort)
        expect(after.outcome).not.toBe("connected")
      }),
    )

    it.effect("every invalid option fails with SlirpOptionsInvalid and starts nothing", () =>
      Effect.gen(function* () {
        const ns = yield* (yield* Netns).create({ namePrefix: "bm-test" })
        const slirp = yield* Slirp
        const bad: ReadonlyArray<[string, SlirpOptions]> = [
          ["cidr", { ...defaultSlirpOptions, cidr: "10.0.2.1/24" }],
          ["cidr", { ...defaultSlirpOptions, cidr: "10.0.2.0/26" }],
          ["cidr", { ...defaultSlirpOptions, cidr: "fd00::/64" }],
          ["mtu", { ...defaultSlirpOptions, mtu: 65522 }],
          ["mtu", { ...defaultSlirpOptions, enableIpv6: false, mtu: 67 }],
          ["mtu", { ...defaultSlirpOptions, mtu: 1279 }],
          ["outboundAddr", { ...defaultSlirpOptions, outboundAddr: "fd00::1" }],
          ["outboundAddr6", { ...defaultSlirpOptions, outboundAddr6: "10.0.0.1" }],
        ]
        for (const [option, options] of bad) {
          const apiSocket = `/tmp/bm-test-${process.pid}-${option}.sock`
          const error = yield* Effect.flip(slirp.start({ target: ns.target, options, apiSocket }))
          expect(error._tag).toBe("SlirpOptionsInvalid")
          if (error._tag === "SlirpOptionsInvalid") expect(error.option).toBe(option)
          expect(existsSync(apiSocket)).toBe(false)
          const running = yield* Effect.promise(() =>
            execa("pgrep", ["-f", apiSocket], { reject: false }),
          )
          expect(running.exitCode, String(running.stdout)).toBe(1)
        }
      }),
    )

    it.effect("the handle survives a detached /run/netns mount (slirp4netns sandbox trap)", () =>
      Effect.gen(function* () {
        const netns = yield* Netns
        const ns = yield* netns.create({ namePrefix: "bm-test" })
        yield* Effect.promise(() => execa("umount", ["--lazy", ns.path]))
        const slirp = yield* (yield* Slirp).start({
          target: ns.target,
          options: { ...defaultSlirpOptions, enableIpv6: false },
        })
        const out = (yield* netns.exec(ns.target, ["ip", "-o", "addr", "show", "dev", "tap0"]))
          .stdout
        expect(out).toContain("10.0.2.100/24")
        expect(slirp.pid).toBeGreaterThan(0)
      }),
    )

    it.effect("a missing namespace: SlirpStartFailed with slirp4netns' message, nothing left", () =>
      Effect.gen(function* () {
        const apiSocket = `/tmp/bm-test-${process.pid}-missing.sock`
        const error = yield* Effect.flip(
          (yield* Slirp).start({
            target: { path: `/run/netns/bm-test-absent-${process.pid}` },
            options: defaultSlirpOptions,
            apiSocket,
          }),
        )
        expect(error._tag).toBe("SlirpStartFailed")
        expect(error.message).toMatch(/No such file or directory/)
        expect(existsSync(apiSocket)).toBe(false)
        const running = yield* Effect.promise(() =>
          execa("pgrep", ["-f", apiSocket], { reject: false }),
        )
        expect(running.exitCode).toBe(1)
      }),
    )

    it.effect(
      "never ready: SlirpReadyTimeout, and its whole process group is stopped at once",
      () =>
        Effect.gen(function* () {
          const dir = yield* Effect.acquireRelease(
            Effect.promise(() => mkdtemp(join(tmpdir(), "bm-test-fake-slirp-"))),
            (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
          )
          // Answers the probes like slirp4netns, then never signals readiness; it has a child.
          // Both command lines contain the unique directory, which is what pgrep looks for.
          const fake = join(dir, "slirp4netns")
          yield* Effect.promise(() =>
            writeFile(
              fake,
              `#!/bin/sh\ncase "$1" in --version|--help) exec slirp4netns "$1";; esac\nsh -c 'sleep 301; :' "$0-child" &\nsleep 302\n`,
              { mode: 0o755 },
            ),
          )
          const running = Effect.promise(() =>
            execa("pgrep", ["-f", dir], { reject: false }).then((r) =>
              String(r.stdout)
                .split("\n")
                .filter((l) => l.trim() !== ""),
            ),
          )
          const ns = yield* (yield* Netns).create({ namePrefix: "bm-test" })
          const start = Effect.flip(
            Effect.gen(function* () {
              return yield* (yield* Slirp).start({
                target: ns.target,
                options: defaultSlirpOptions,
                readyTimeoutMs: 3000,
              })
            }).pipe(
              Effect.provide(
                Layer.fresh(Slirp.layer).pipe(
                  Layer.provide(HostTools.layer({ slirp4netns: fake })),
                ),
              ),
            ),
          )
          // While start waits, the fake and its child run (the control for the check below).
          const seen = Effect.gen(function* () {
            const deadline = Date.now() + 2500
            let pids = yield* running
            while (pids.length < 2 && Date.now() < deadline) {
              yield* Effect.sleep(50)
              pids = yield* running
            }
            return pids.length
          })
          const [error, seenCount] = yield* Effect.all([start, seen], { concurrency: 2 })
          expect(seenCount, error.message).toBeGreaterThanOrEqual(2)
          expect(error._tag).toBe("SlirpReadyTimeout")
          // Released when start failed, not when this test's scope ends.
          const left = yield* running
          expect(left).toEqual([])
        }),
    )

    it.effect("release: no namespace, no slirp4netns process, no socket", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const { ns, slirp } = yield* Effect.gen(function* () {
          const ns = yield* (yield* Netns).create({ namePrefix: "bm-test" })
          const slirp = yield* (yield* Slirp).start({
            target: ns.target,
            options: defaultSlirpOptions,
          })
          yield* slirp.hostForward({ hostPort: yield* freePort(), guestPort: 80 })
          return { ns, slirp }
        }).pipe(Scope.provide(scope))
        expect(yield* Effect.promise(() => processAlive(slirp.pid))).toBe(true)
        expect(yield* Effect.promise(() => netnsExists(ns.name))).toBe(true)
        yield* Scope.close(scope, Exit.void)
        expect(yield* Effect.promise(() => processAlive(slirp.pid))).toBe(false)
        expect(existsSync(slirp.apiSocket)).toBe(false)
        expect(yield* Effect.promise(() => netnsExists(ns.name))).toBe(false)
        expect(existsSync(ns.path)).toBe(false)
      }),
    )
  })
})
