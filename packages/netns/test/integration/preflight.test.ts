import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execa } from "execa"
import { HostTools } from "../../src/HostTools.js"
import { Preflight, preflightReportJson } from "../../src/Preflight.js"
import { defaultSlirpOptions } from "../../src/SlirpOptions.js"
import { requirePrerequisites } from "./helpers.js"

requirePrerequisites()

const scratchDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "bm-test-preflight-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

const which = async (tool: string) => String((await execa("which", [tool])).stdout).trim()

describe("Preflight (this host)", () => {
  layer(Layer.provideMerge(Preflight.layer, HostTools.layer()), { excludeTestServices: true })(
    (it) => {
      it.effect("passes here, with a structured report", () =>
        Effect.gen(function* () {
          const report = yield* (yield* Preflight).ensure()
          expect(report.ok).toBe(true)
          expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
            ["options", true],
            ["slirp4netns", true],
            ["tun", true],
            ["netns", true],
            ["nftables", true],
          ])
          expect(report.slirp4netns?.version).toMatch(/^\d+\.\d+\.\d+$/)
          expect(report.slirp4netns?.libslirp).toMatch(/^\d+\.\d+/)
          expect(report.slirp4netns?.features).toContain("enable-ipv6")
          const json = JSON.parse(JSON.stringify(preflightReportJson(report)))
          expect(json.ok).toBe(true)
          expect(json.checks[2].detail).toMatch(/character device 10:200/)
        }),
      )

      it.effect("an unusable tun device: missing, not a device, another device", () =>
        Effect.gen(function* () {
          const dir = yield* scratchDir
          const preflight = yield* Preflight
          const regular = join(dir, "tun-file")
          yield* Effect.promise(() => writeFile(regular, ""))
          const nullDev = join(dir, "tun-null")
          yield* Effect.promise(() => execa("mknod", ["-m", "0666", nullDev, "c", "1", "3"]))
          for (const [path, reason] of [
            [join(dir, "absent"), /missing/],
            [regular, /not a character device/],
            [nullDev, /1:3 is not the tun device/],
          ] as const) {
            const error = yield* Effect.flip(preflight.ensure({ tunDevice: path }))
            expect(error._tag).toBe("TunUnusable")
            if (error._tag !== "TunUnusable") return
            expect(error.path).toBe(path)
            expect(error.reason).toMatch(reason)
            expect(error.hint).toMatch(/mknod|modprobe/)
          }
        }),
      )

      it.effect("rootless: a tun device the user cannot open, and missing subordinate IDs", () =>
        Effect.gen(function* () {
          const dir = yield* scratchDir
          const preflight = yield* Preflight
          const privateTun = join(dir, "tun-0600")
          yield* Effect.promise(() => execa("mknod", ["-m", "0600", privateTun, "c", "10", "200"]))
          const subuid = join(dir, "subuid")
          yield* Effect.promise(() =>
            writeFile(subuid, "someone:100000:65536\nbm-user:300000:1000\n"),
          )
          const report = yield* preflight.check({
            tunDevice: privateTun,
            rootless: { user: "bm-user", uid: 4242 },
            subuidFile: subuid,
            subgidFile: subuid,
          })
          expect(report.ok).toBe(false)
          const tun = report.checks.find((c) => c.name === "tun")
          expect(tun?.error?._tag).toBe("TunUnusable")
          expect(tun?.error?.message).toMatch(/mode 0600 does not let bm-user read and write it/)
          expect(tun?.error?.message).toMatch(/chmod 0666/)
          const subids = report.checks.find((c) => c.name === "subids")
          expect(subids?.error?._tag).toBe("SubordinateIdsMissing")
          expect(subids?.error?.message).toMatch(/largest range has 1000 IDs, need 65536/)
          expect(subids?.error?.message).toMatch(/usermod --add-subuids/)
          expect(report.checks.find((c) => c.name === "userns")?.ok).toBe(true)
        }),
      )

      it.effect("invalid options are reported as SlirpOptionsInvalid", () =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(
            (yield* Preflight).ensure({ slirpOptions: { ...defaultSlirpOptions, mtu: 1000 } }),
          )
          expect(error._tag).toBe("SlirpOptionsInvalid")
        }),
      )
    },
  )

  it.live("a PATH without slirp4netns gives SlirpUnavailable with the package to install", () =>
    Effect.gen(function* () {
      const dir = yield* scratchDir
      // Every tool the checks use, except slirp4netns.
      for (const tool of ["unshare", "nft", "ip", "nsenter", "newuidmap", "newgidmap", "true"]) {
        const target = yield* Effect.promise(() => which(tool))
        yield* Effect.promise(() => symlink(target, join(dir, tool)))
      }
      const program = Effect.gen(function* () {
        const preflight = yield* Preflight
        const report = yield* preflight.check()
        const slirp = report.checks.find((c) => c.name === "slirp4netns")
        expect(slirp?.ok).toBe(false)
        expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["slirp4netns"])
        const error = yield* Effect.flip(preflight.ensure())
        expect(error._tag).toBe("SlirpUnavailable")
        expect(error.message).toMatch(/slirp4netns not found on PATH/)
        expect(error.message).toMatch(/apt-get install slirp4netns/)
      })
      yield* program.pipe(
        Effect.provide(Layer.provideMerge(Preflight.layer, HostTools.layer({ searchPath: dir }))),
      )
    }),
  )

  it.live("a PATH without nft names the missing program and the PATH, not the kernel", () =>
    Effect.gen(function* () {
      const dir = yield* scratchDir
      // What an unprivileged user's PATH often looks like: /usr/sbin (nft) missing.
      for (const tool of ["unshare", "slirp4netns", "ip", "nsenter", "true"]) {
        const target = yield* Effect.promise(() => which(tool))
        yield* Effect.promise(() => symlink(target, join(dir, tool)))
      }
      const report = yield* Effect.gen(function* () {
        return yield* (yield* Preflight).check()
      }).pipe(
        Effect.provide(Layer.provideMerge(Preflight.layer, HostTools.layer({ searchPath: dir }))),
      )
      expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["nftables"])
      const message = report.checks.find((c) => c.name === "nftables")?.error?.message ?? ""
      expect(message).toContain(`nft is not on PATH ${dir}`)
      expect(message).toMatch(/apt-get install nftables/)
      expect(message).not.toMatch(/kernel/)
      expect(message.match(/fix:/g)).toHaveLength(1)
    }),
  )
})
