/**
 * PodVolumes on the real host (root; real tmpfs mounts, no Podman): what `prepare` leaves on the
 * host for a pod's volumes, and that `release`, a failed `prepare` and `sweep` leave nothing.
 * Rootless too: the same, made by the unprivileged `beemesh-test` user inside its rootless
 * Podman's user and mount namespaces (`podman unshare`, a private HOME and run directory).
 */
import { existsSync, mkdtempSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PodVolumesShape } from "../../src/deployer/PodVolumes"
import { hostMountinfo, mountLinesUnder } from "../support/mounts"
import {
  lookup,
  makePodVolumes,
  podVolumesContract,
  SECRET,
  workloadWithVolumes as workload,
} from "../support/podVolumesContract"

const APP_ROOT = 200_000

let root: string
let volumes: PodVolumesShape

/** A PodVolumes of its own directory for each contract case; all swept in afterAll. */
const contractRoots: Array<string> = []
podVolumesContract("on the host (root, real tmpfs mounts)", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "beemesh-volumes-contract-")), "volumes")
  contractRoots.push(dir)
  return makeVolumes(dir)
})

const makeVolumes = (dir: string) => makePodVolumes({ root: dir, appRootId: APP_ROOT })

const mountsUnder = async (dir: string) => mountLinesUnder(await hostMountinfo(), dir)

beforeAll(async () => {
  if (process.getuid?.() !== 0)
    throw new Error("the volume integration tests need root (they mount tmpfs); CI runs as root")
  root = join(await mkdtemp(join(tmpdir(), "beemesh-volumes-")), "volumes")
  volumes = makeVolumes(root)
})

afterAll(async () => {
  for (const dir of [...contractRoots, ...(root === undefined ? [] : [root])]) {
    await Effect.runPromise(makeVolumes(dir).sweep(new Set()))
    await rm(join(dir, ".."), { recursive: true, force: true })
  }
})

describe("PodVolumes on the host", () => {
  it("tmpfs per projected or Memory volume, files owned by the apps' root with their modes", async () => {
    const paths = await Effect.runPromise(volumes.prepare("pod-a", workload, lookup))
    const dir = join(root, "pod-a")
    expect(Object.fromEntries(paths)).toEqual({
      cfg: join(dir, "cfg"),
      creds: join(dir, "creds"),
      scratch: join(dir, "scratch"),
      mem: join(dir, "mem"),
    })
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    const mounts = await mountsUnder(dir)
    expect(mounts.map((line) => line.split(" ")[4]).sort()).toEqual(
      ["cfg", "creds", "mem"].map((name) => join(dir, name)).sort(),
    )
    for (const line of mounts) expect(line).toMatch(/ rw,nosuid,nodev,relatime - tmpfs tmpfs rw,/)
    expect(mounts.find((line) => line.includes(`${dir}/mem `))).toMatch(/size=1024k/)

    const file = await stat(join(dir, "cfg", "conf", "app.conf"))
    expect([file.uid, file.gid, file.mode & 0o777]).toEqual([APP_ROOT, APP_ROOT, 0o640])
    const parent = await stat(join(dir, "cfg", "conf"))
    expect([parent.uid, parent.mode & 0o777]).toEqual([APP_ROOT, 0o755])
    expect(await readFile(join(dir, "cfg", "conf", "app.conf"), "utf8")).toBe("level=1")
    const secret = await stat(join(dir, "creds", "password"))
    expect([secret.uid, secret.mode & 0o777]).toEqual([APP_ROOT, 0o400])
    expect(await readFile(join(dir, "creds", "password"), "utf8")).toBe(SECRET)
    const scratch = await stat(join(dir, "scratch"))
    expect([scratch.uid, scratch.mode & 0o777]).toEqual([APP_ROOT, 0o777])
    const subPath = await stat(join(dir, "scratch", "a", "b"))
    expect([subPath.uid, subPath.isDirectory()]).toEqual([APP_ROOT, true])

    await Effect.runPromise(volumes.release("pod-a"))
    expect(await mountsUnder(dir)).toEqual([])
    expect(existsSync(dir)).toBe(false)
  })

  it("sweep unmounts what it releases and leaves the kept pods' mounts", async () => {
    await Effect.runPromise(volumes.prepare("keep", workload, lookup))
    await Effect.runPromise(volumes.prepare("gone", workload, lookup))
    await Effect.runPromise(volumes.sweep(new Set(["keep"])))
    expect(await readdir(root)).toEqual(["keep"])
    expect(await mountsUnder(join(root, "gone"))).toEqual([])
    expect((await mountsUnder(join(root, "keep"))).length).toBe(3)
  })
})
