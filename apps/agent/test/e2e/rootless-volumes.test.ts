/**
 * Pod volumes on a rootless agent (the unprivileged `beemesh-test` user, its own Podman): an app
 * reads a ConfigMap file and a Secret file (content, mode, tmpfs) as its user, two containers share
 * an emptyDir, a Memory emptyDir holds no more than its sizeLimit; the sidecar and another pod see
 * none of it. The tmpfs mounts live in the user's Podman mount namespace only: the host sees empty
 * directories. A restarted agent keeps its pods' volumes and sweeps what no pod stands for; after
 * the deletes nothing remains in either namespace.
 */
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import { hostMountinfo, mountPointsUnder } from "../support/mounts"
import { expectAppsSeeTheirVolumes, volumeFixtures, volumeShell } from "./podVolumes"
import {
  containerPidAs,
  podmanAs,
  podsAs,
  type RootlessAgent,
  startRootlessAgent,
} from "./rootlessUser"
import { type AgentProcess, api, eventually, type RunAs } from "./support"

const ns = `rlvol-${randomBytes(3).toString("hex")}`
const fixtures = volumeFixtures(ns)
const { POD, OTHER, secretValue: SECRET } = fixtures
const BUSYBOX = "/bin/busybox"
let rootless: RootlessAgent | undefined
let user: RunAs
let dataDir: string
let agent: AgentProcess | undefined

const sh = (container: string, script: string) =>
  volumeShell(POD, containerPidAs(user))(container, script)
const volumesDir = () => join(dataDir, "volumes")
/** Mount points below `dir` in the user's Podman mount namespace. */
const userMounts = (dir: string) =>
  mountPointsUnder(podmanAs(user, ["unshare", "cat", "/proc/self/mountinfo"]).stdout, dir)
const hostMounts = async (dir: string) => mountPointsUnder(await hostMountinfo(), dir)

beforeAll(async () => {
  rootless = await startRootlessAgent("beemesh-e2e-rootless-volumes-", [ORDERS_IMAGE])
  ;({ user, dataDir } = rootless)
  agent = rootless.agent()
})

afterAll(async () => {
  await rootless?.close()
})

describe("configMap, secret and emptyDir volumes on a rootless agent", () => {
  it("apps read the files as their users and share the emptyDir; the sidecar and other pods see nothing", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${fixtures.configMap("debug")}\n---\n${fixtures.secret}\n---\n${fixtures.pod}\n---\n${fixtures.other}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    await expectAppsSeeTheirVolumes({
      fixtures,
      pidOf: containerPidAs(user),
      volumesDir: volumesDir(),
    })

    // The tmpfs mounts are in the user's Podman mount namespace; the host sees empty directories.
    const volumeDir = join(volumesDir(), POD)
    expect(userMounts(volumeDir)).toEqual(
      ["cfg", "creds", "mem"].map((name) => join(volumeDir, name)).sort(),
    )
    expect(await hostMounts(dataDir)).toEqual([])
    expect(await readdir(join(volumeDir, "creds"))).toEqual([])
  })

  it("a restarted agent keeps its pods' volumes and sweeps a directory no pod stands for", async () => {
    const writerId = podmanAs(user, ["inspect", `${POD}-writer`, "--format", "{{.Id}}"]).stdout
    await agent!.stop()
    // What a crash between preparing a pod's volumes and creating the pod would leave: a tmpfs
    // in Podman's mount namespace, with a file in it.
    const stray = join(volumesDir(), `bm-${ns}-stray`)
    for (const args of [
      ["mkdir", "-p", join(stray, "cfg")],
      ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", join(stray, "cfg")],
      ["touch", join(stray, "cfg", "leftover")],
    ])
      expect(podmanAs(user, ["unshare", ...args]).status, args.join(" ")).toBe(0)
    expect(userMounts(stray)).toEqual([join(stray, "cfg")])
    agent = await rootless!.start()
    expect(existsSync(stray)).toBe(false)
    expect(userMounts(stray)).toEqual([])
    // The kept pod (adopted) still has its files.
    await eventually("the kept pod to serve its files after the restart", async () => {
      expect((await sh("writer", `${BUSYBOX} cat /run/creds/password`)).stdout).toBe(SECRET)
      return true
    })
    expect(podmanAs(user, ["inspect", `${POD}-writer`, "--format", "{{.Id}}"]).stdout).toBe(
      writerId,
    )
  })

  it("after the deletes nothing remains: no pod, no mount in either namespace, no directory", async () => {
    for (const name of ["vol", "other"])
      expect((await api(agent!, "DELETE", `/v1/workloads/${ns}/${name}`)).status).toBe(204)
    expect(podsAs(user)).toEqual([])
    expect(userMounts(dataDir)).toEqual([])
    expect(await hostMounts(dataDir)).toEqual([])
    expect(existsSync(join(volumesDir(), POD))).toBe(false)
    expect(existsSync(join(volumesDir(), OTHER))).toBe(false)
  })
})
