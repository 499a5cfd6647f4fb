/**
 * PodVolumes rootless on the real host: the unprivileged `beemesh-test` user (host setup makes it,
 * with subordinate IDs) puts a pod's volumes in place inside its rootless Podman's user and mount
 * namespaces (`podman unshare`, with a HOME and run directory of this test's own, so the user
 * namespace is this test's alone). The tmpfs mounts and the files in them exist only there, owned
 * by the apps' root (ID 1 of that namespace); the host sees empty directories. `release`, a failed
 * `prepare` and `sweep` leave nothing in either namespace. No container is started.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs"
import { readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PodVolumesShape } from "../../src/deployer/PodVolumes"
import { mountPointsUnder } from "../support/mounts"
import {
  lookup,
  makePodVolumes,
  podVolumesContract,
  SECRET,
  workloadWithVolumes as workload,
} from "../support/podVolumesContract"

const USER = "beemesh-test"

/** The test's own base directory: the user's HOME, run directory and volume roots. */
const base = mkdtempSync(join(tmpdir(), "beemesh-volumes-rootless-"))
const home = join(base, "home")
const runDir = join(base, "run")
let ids: { uid: number; gid: number } | undefined

/** argv that runs a command as root of the user's Podman namespaces. */
const enter = () => [
  "setpriv",
  `--reuid=${ids?.uid}`,
  `--regid=${ids?.gid}`,
  "--clear-groups",
  "env",
  `HOME=${home}`,
  `XDG_RUNTIME_DIR=${runDir}`,
  "podman",
  "unshare",
]
const inside = (args: ReadonlyArray<string>) => {
  const [file = "", ...rest] = [...enter(), ...args]
  return execFileSync(file, rest, { encoding: "utf8", timeout: 30_000 })
}

const makeVolumes = (root: string): PodVolumesShape =>
  makePodVolumes({ root, appRootId: 1, userNamespace: enter() })

const userMounts = (dir: string) => mountPointsUnder(inside(["cat", "/proc/self/mountinfo"]), dir)
const hostMounts = (dir: string) =>
  mountPointsUnder(readFileSync("/proc/self/mountinfo", "utf8"), dir)

/** The first ID of the user's range in /etc/subuid: ID 1 of its Podman's user namespace. */
const firstSubordinateId = () => {
  const line = readFileSync("/etc/subuid", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${USER}:`) || entry.startsWith(`${ids?.uid}:`))
  return Number(line?.split(":")[1])
}

const roots: Array<string> = []
const newRoot = () => {
  const root = join(base, `volumes-${roots.length}`)
  roots.push(root)
  return root
}

beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error("the rootless volume tests run setpriv as root; CI runs as root")
  const id = (flag: string) => {
    try {
      return Number(execFileSync("id", [flag, USER], { encoding: "utf8" }))
    } catch {
      throw new Error(`user ${USER} is missing: run tooling/scripts/host-setup.sh as root`)
    }
  }
  ids = { uid: id("-u"), gid: id("-g") }
  // The user owns the base (it makes the volume roots there); HOME and the run directory are its.
  chownSync(base, ids.uid, ids.gid)
  chmodSync(base, 0o700)
  for (const dir of [home, runDir]) {
    mkdirSync(dir, { mode: 0o700 })
    chownSync(dir, ids.uid, ids.gid)
  }
})

afterAll(async () => {
  if (ids !== undefined) {
    for (const root of roots) await Effect.runPromise(makeVolumes(root).sweep(new Set()))
    // The pause process holding the user namespace this test made (its PID file is ours alone).
    const pauseFile = join(runDir, "libpod/tmp/pause.pid")
    if (existsSync(pauseFile)) {
      const pid = Number(readFileSync(pauseFile, "utf8"))
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")
      if (cmdline.startsWith("catatonit")) process.kill(pid, "SIGKILL")
    }
  }
  await rm(base, { recursive: true, force: true })
})

podVolumesContract("rootless, inside Podman's user namespace", () => makeVolumes(newRoot()))

describe("PodVolumes rootless", () => {
  it("tmpfs mounts and files exist in Podman's namespaces only, owned by the apps' root", async () => {
    const root = newRoot()
    const volumes = makeVolumes(root)
    const paths = await Effect.runPromise(volumes.prepare("pod-a", workload, lookup))
    const dir = join(root, "pod-a")
    expect(Object.fromEntries(paths)).toEqual({
      cfg: join(dir, "cfg"),
      creds: join(dir, "creds"),
      scratch: join(dir, "scratch"),
      mem: join(dir, "mem"),
    })
    // Podman's mount namespace: a tmpfs per projected or Memory volume, the last of its size.
    const mountinfo = inside(["cat", "/proc/self/mountinfo"])
    expect(mountPointsUnder(mountinfo, dir)).toEqual(
      ["cfg", "creds", "mem"].map((name) => join(dir, name)).sort(),
    )
    const memLine = mountinfo.split("\n").find((line) => line.includes(` ${dir}/mem `))
    // Options show owners as host IDs: the apps' root is the user's first subordinate ID.
    expect(memLine).toMatch(
      new RegExp(
        ` rw,nosuid,nodev,relatime .*- tmpfs tmpfs rw,size=1024k,mode=777,uid=${firstSubordinateId()},gid=`,
      ),
    )
    // Owners and modes as an app sees them (its root is ID 1 here), the files' bytes.
    const stats = inside([
      "stat",
      "-c",
      "%n %u %g %a",
      ...["cfg/conf", "cfg/conf/app.conf", "creds/password", "scratch", "scratch/a/b", "mem"].map(
        (path) => join(dir, path),
      ),
    ])
    expect(stats.trim().split("\n")).toEqual([
      `${dir}/cfg/conf 1 1 755`,
      `${dir}/cfg/conf/app.conf 1 1 640`,
      `${dir}/creds/password 1 1 400`,
      `${dir}/scratch 1 1 777`,
      `${dir}/scratch/a/b 1 1 777`,
      `${dir}/mem 1 1 777`,
    ])
    expect(inside(["cat", join(dir, "creds/password")])).toBe(SECRET)
    expect(inside(["cat", join(dir, "cfg/conf/app.conf")])).toBe("level=1")
    // The host: no mount, and the Secret's directory is an empty one (its tmpfs is not here).
    expect(hostMounts(dir)).toEqual([])
    expect(await readdir(join(dir, "creds"))).toEqual([])

    await Effect.runPromise(volumes.release("pod-a"))
    expect(userMounts(dir)).toEqual([])
    expect(existsSync(dir)).toBe(false)
  })

  it("sweep unmounts what it releases (files an app left in an emptyDir too), keeps the rest", async () => {
    const root = newRoot()
    const volumes = makeVolumes(root)
    await Effect.runPromise(volumes.prepare("keep", workload, lookup))
    await Effect.runPromise(volumes.prepare("gone", workload, lookup))
    // What an app would leave: its own directory in the emptyDir, owned by its root (a subordinate
    // ID the agent's host user cannot remove: only root of Podman's namespace can).
    const mine = join(root, "gone/scratch/mine")
    inside(["mkdir", "-m", "700", mine])
    inside(["touch", join(mine, "file")])
    inside(["chown", "-R", "1:1", mine])
    await Effect.runPromise(volumes.sweep(new Set(["keep"])))
    expect(await readdir(root)).toEqual(["keep"])
    expect(userMounts(join(root, "gone"))).toEqual([])
    expect(userMounts(join(root, "keep")).length).toBe(3)
  })
})
