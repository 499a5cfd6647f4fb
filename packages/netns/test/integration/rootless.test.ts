import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execa, execaSync } from "execa"
import { defaultHostTools } from "../../src/HostTools.js"
import { spawnScoped } from "../../src/internal/process.js"
import {
  awaitOwnUserNamespace,
  fixture,
  hostListener,
  NODE,
  requirePrerequisites,
} from "./helpers.js"

requirePrerequisites()

/** The ordinary user tooling/scripts/host-setup.sh creates, with its subordinate ID ranges. */
const USER = "beemesh-test"

const rootlessUser = () => {
  const id = (flag: string) => {
    const r = execaSync("id", [flag, USER], { reject: false })
    if (r.exitCode !== 0) {
      throw new Error(
        `missing prerequisite: user ${USER} (run tooling/scripts/host-setup.sh as root)`,
      )
    }
    return Number(r.stdout)
  }
  const range = (file: string) => {
    const line = readFileSync(file, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${USER}:`))
    if (line === undefined) {
      throw new Error(
        `missing prerequisite: ${file} has no range for ${USER} (run tooling/scripts/host-setup.sh)`,
      )
    }
    const [, start, count] = line.split(":")
    return { start: Number(start), count: Number(count) }
  }
  return {
    uid: id("-u"),
    gid: id("-g"),
    subuid: range("/etc/subuid"),
    subgid: range("/etc/subgid"),
  }
}

const packageDir = fileURLToPath(new URL("../..", import.meta.url))

describe("rootless (an ordinary user, its own user + network namespace)", () => {
  it.live(
    "slirp4netns and the egress policy run unprivileged; only UID 1337 inside leaves; release cleans up",
    () =>
      Effect.gen(function* () {
        const u = rootlessUser()
        const asUser = [
          "setpriv",
          `--reuid=${u.uid}`,
          `--regid=${u.gid}`,
          "--clear-groups",
          "--",
        ] as const
        const tools = defaultHostTools()
        // The user's namespace holder, mapped the way rootless Podman maps it: 0 → the user,
        // 1..65536 → its subordinate range (newuidmap/newgidmap check /etc/subuid and /etc/subgid).
        const holder = yield* spawnScoped(tools, [
          ...asUser,
          "unshare",
          "--user",
          "--net",
          "--",
          "sleep",
          "600",
        ])
        yield* awaitOwnUserNamespace(holder.pid)
        const map = (helper: string, own: number, sub: { start: number; count: number }) =>
          Effect.promise(() =>
            execa(asUser[0], [
              ...asUser.slice(1),
              helper,
              String(holder.pid),
              "0",
              String(own),
              "1",
              "1",
              String(sub.start),
              String(Math.min(sub.count, 65536)),
            ]),
          )
        yield* map("newuidmap", u.uid, u.subuid)
        yield* map("newgidmap", u.gid, u.subgid)

        const v4 = yield* hostListener("127.0.0.1")
        const v6 = yield* hostListener("::1")
        const run = yield* Effect.promise(() =>
          execa(
            asUser[0],
            [
              ...asUser.slice(1),
              NODE,
              "--import",
              "tsx",
              fixture("rootless.ts"),
              String(holder.pid),
              String(v4.port),
              String(v6.port),
              USER,
            ],
            { cwd: packageDir, env: { HOME: "/tmp" }, reject: false, timeout: 90_000 },
          ),
        )
        expect(run.exitCode, String(run.stderr)).toBe(0)
        const result = JSON.parse(String(run.stdout).trim().split("\n").pop()!)
        expect(result.uid).toBe(u.uid)
        expect(result.preflight.filter((c: { ok: boolean }) => !c.ok)).toEqual([])
        expect(result.preflight.map((c: { name: string }) => c.name)).toEqual([
          "options",
          "slirp4netns",
          "tun",
          "netns",
          "nftables",
          "userns",
          "subids",
        ])
        expect(result.sandbox).toBe(false)
        expect(result.listed).toContain("meta skuid 1337 accept")
        expect(result.attempts).toEqual({
          "10.0.2.2 uid 1337": "connected",
          "10.0.2.2 uid 1000": "timeout",
          "10.0.2.2 uid 0": "timeout",
          "fd00::2 uid 1337": "connected",
          "fd00::2 uid 1000": "timeout",
          "fd00::2 uid 0": "timeout",
        })
        expect(v4.accepted).toHaveLength(1)
        expect(v6.accepted).toHaveLength(1)
        expect(result.after).toEqual({ slirpAlive: false, socketExists: false })
      }),
  )
})
