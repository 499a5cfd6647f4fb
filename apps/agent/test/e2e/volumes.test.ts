/**
 * Pod volumes end to end (rootful): a real agent process and real pods. An app reads a ConfigMap
 * file and a Secret file (content, mode, tmpfs), two containers share an emptyDir, a Memory
 * emptyDir holds no more than its sizeLimit; another pod and the sidecar see none of it; a changed
 * ConfigMap reaches the files by rolling the pod; after the delete nothing remains on the host.
 */
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hostMountinfo, mountPointsUnder } from "../support/mounts"
import { expectAppsSeeTheirVolumes, volumeFixtures, volumeShell } from "./podVolumes"
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  run,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
const fixtures = volumeFixtures(ns)
const { POD, OTHER, configMap, secret, pod, other, secretValue: SECRET } = fixtures
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const BUSYBOX = "/bin/busybox"

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((line) => line !== "")

const pidOf = (container: string) => podman("inspect", container, "--format", "{{.State.Pid}}")
const sh = volumeShell(POD, pidOf)
const volumesDir = () => join(dataDir, "volumes")
const hostMountsUnder = async (dir: string) => mountPointsUnder(await hostMountinfo(), dir)

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-volumes-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) await removePods(ownedPods())
  if (dataDir !== undefined) {
    for (const point of await hostMountsUnder(dataDir)) run("umount", ["--lazy", point])
    await rm(dataDir, { recursive: true, force: true })
  }
})

describe("configMap, secret and emptyDir volumes on a real agent", () => {
  it("a volume naming a missing Secret is refused (422, naming it); nothing is deployed or left", async () => {
    const answer = await api(agent!, "POST", "/v1/workloads", `${configMap("debug")}\n---\n${pod}`)
    expect(answer.status, JSON.stringify(answer.json)).toBe(422)
    expect(answer.json?.message).toContain(
      `volume creds refers to Secret ${ns}/creds, which does not exist`,
    )
    expect(ownedPods()).toEqual([])
    expect(await hostMountsUnder(dataDir)).toEqual([])
  })

  it("apps read the files and share the emptyDir; other pods and the sidecar see nothing", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${configMap("debug")}\n---\n${secret}\n---\n${pod}\n---\n${other}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)

    await expectAppsSeeTheirVolumes({ fixtures, pidOf, volumesDir: volumesDir() })

    const volumeDir = join(volumesDir(), POD)
    // On the host: root's alone, the projected volumes and the Memory emptyDir are tmpfs mounts.
    expect((await stat(volumeDir)).mode & 0o777).toBe(0o700)
    expect(await hostMountsUnder(volumeDir)).toEqual(
      ["cfg", "creds", "mem"].map((name) => join(volumeDir, name)).sort(),
    )
    const creds = await stat(join(volumeDir, "creds", "password"))
    expect([creds.uid, creds.mode & 0o777]).toEqual([200000, 0o400])
  })

  it("a changed ConfigMap rolls the pod onto the new content", async () => {
    const applied = await api(agent!, "POST", "/v1/workloads", configMap("info"))
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    await eventually(
      "the recreated pod's writer to read the new content",
      async () => {
        const read = await sh("writer", `${BUSYBOX} cat /etc/app/conf/app.conf`)
        expect(read.stdout).toBe("level=info")
        return true
      },
      90_000,
    )
  })

  it("a restarted agent keeps its pods' volumes and sweeps a directory no pod stands for", async () => {
    const writerId = podman("inspect", `${POD}-writer`, "--format", "{{.Id}}")
    await agent!.stop()
    // What a crash between preparing a pod's volumes and creating the pod would leave.
    const stray = join(volumesDir(), `bm-${ns}-stray`)
    await mkdir(join(stray, "cfg"), { recursive: true, mode: 0o700 })
    expect(
      run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", join(stray, "cfg")]).status,
    ).toBe(0)
    await writeFile(join(stray, "cfg", "leftover"), "x")
    agent = await startAgent(dataDir, await freePort())
    expect(existsSync(stray)).toBe(false)
    expect(await hostMountsUnder(stray)).toEqual([])
    // The pod it keeps (adopted, or recreated with fresh volumes) has its files.
    await eventually("the kept pod to serve its files after the restart", async () => {
      expect((await sh("writer", `${BUSYBOX} cat /etc/app/conf/app.conf`)).stdout).toBe(
        "level=info",
      )
      expect((await sh("writer", `${BUSYBOX} cat /run/creds/password`)).stdout).toBe(SECRET)
      return true
    })
    // Adopted, not recreated: the restarted agent computes the spec hash the pod carries.
    expect(podman("inspect", `${POD}-writer`, "--format", "{{.Id}}")).toBe(writerId)
  })

  it("after the deletes nothing remains on the host: no pod, no mount, no directory", async () => {
    for (const name of ["vol", "other"])
      expect((await api(agent!, "DELETE", `/v1/workloads/${ns}/${name}`)).status).toBe(204)
    expect((await api(agent!, "DELETE", `/v1/configs/secrets/${ns}/creds`)).status).toBe(204)
    expect((await api(agent!, "DELETE", `/v1/configs/configmaps/${ns}/settings`)).status).toBe(204)
    expect(ownedPods()).toEqual([])
    expect(await hostMountsUnder(dataDir)).toEqual([])
    expect(existsSync(join(volumesDir(), POD))).toBe(false)
    expect(existsSync(join(volumesDir(), OTHER))).toBe(false)
  })
})
