/**
 * Pod volumes on a rootless agent (the unprivileged `beemesh-test` user, its own Podman): an app
 * reads a ConfigMap file and a Secret file (content, mode, tmpfs) as its user, two containers share
 * an emptyDir, a Memory emptyDir holds no more than its sizeLimit; the sidecar and another pod see
 * none of it. The tmpfs mounts live in the user's Podman mount namespace only: the host sees empty
 * directories. A restarted agent keeps its pods' volumes and sweeps what no pod stands for; after
 * the deletes nothing remains in either namespace.
 */
import { randomBytes } from "node:crypto"
import { chownSync, existsSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildDemoImages, ORDERS_IMAGE } from "../../demo/images"
import {
  containerPidAs,
  loadIntoUserStore,
  podmanAs,
  podsAs,
  rootlessUser,
  sweepUserPodman,
} from "./rootlessUser"
import {
  type AgentProcess,
  api,
  appExec,
  eventually,
  freePort,
  type RunAs,
  requirePrerequisites,
  SIDECAR_IMAGE,
  startAgent,
} from "./support"

const ns = `rlvol-${randomBytes(3).toString("hex")}`
// Random, so that finding it anywhere cannot be a coincidence.
const SECRET = `s3cr3t-${randomBytes(12).toString("hex")}`
const POD = `bm-${ns}-vol`
const OTHER = `bm-${ns}-other`
const BUSYBOX = "/bin/busybox"
let user: RunAs
let dataDir: string
let agent: AgentProcess | undefined

const configMap = `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: ${ns}}, data: {app.conf: "level=debug"}}`
const secret = `{apiVersion: v1, kind: Secret, metadata: {name: creds, namespace: ${ns}}, stringData: {password: "${SECRET}"}}`
// `writer` (root) and `reader` (uid 1000) share `scratch`; the reader proves at start that its
// user reads the ConfigMap file and writes the emptyDir.
const pod = `
apiVersion: v1
kind: Pod
metadata: {name: vol, namespace: ${ns}}
spec:
  volumes:
    - {name: cfg, configMap: {name: settings, items: [{key: app.conf, path: conf/app.conf}]}}
    - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
    - {name: scratch, emptyDir: {}}
    - {name: mem, emptyDir: {medium: Memory, sizeLimit: 4Mi}}
  containers:
    - name: writer
      image: ${ORDERS_IMAGE}
      command: [${BUSYBOX}, sh, -c, "echo written > /scratch/from-writer && exec ${BUSYBOX} httpd -f -p 80"]
      ports: [{containerPort: 80}]
      volumeMounts:
        - {name: cfg, mountPath: /etc/app}
        - {name: creds, mountPath: /run/creds}
        - {name: scratch, mountPath: /scratch}
        - {name: mem, mountPath: /mem}
    - name: reader
      image: ${ORDERS_IMAGE}
      securityContext: {runAsUser: 1000, runAsGroup: 1000}
      command: [${BUSYBOX}, sh, -c, "${BUSYBOX} cat /etc/app/conf/app.conf > /data/reader-saw; exec ${BUSYBOX} sleep 3600"]
      volumeMounts:
        - {name: cfg, mountPath: /etc/app}
        - {name: scratch, mountPath: /data}
`
const other = `{apiVersion: v1, kind: Pod, metadata: {name: other, namespace: ${ns}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, command: [${BUSYBOX}, httpd, -f, -p, "80"], ports: [{containerPort: 80}]}]}}`

const sh = async (container: string, script: string) => {
  const result = await appExec(`${POD}-${container}`, [BUSYBOX, "sh", "-c", script], (c) =>
    containerPidAs(user)(c),
  )
  return { ...result, stdout: result.stdout.trim() }
}
const volumesDir = () => join(dataDir, "volumes")
const mountPointsIn = (mountinfo: string, dir: string) =>
  mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point.startsWith(`${dir}/`))
    .sort()
/** Mount points below `dir` in the user's Podman mount namespace. */
const userMounts = (dir: string) =>
  mountPointsIn(podmanAs(user, ["unshare", "cat", "/proc/self/mountinfo"]).stdout, dir)
const hostMounts = async (dir: string) =>
  mountPointsIn(await readFile("/proc/self/mountinfo", "utf8"), dir)

beforeAll(async () => {
  requirePrerequisites()
  user = rootlessUser()
  buildDemoImages()
  for (const image of [SIDECAR_IMAGE, ORDERS_IMAGE]) loadIntoUserStore(user, image)
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-rootless-volumes-"))
  chownSync(dataDir, user.uid, user.gid)
  agent = await startAgent(dataDir, await freePort(), user)
})

afterAll(async () => {
  await agent?.stop()
  // Removes the pods and the pause process: the user namespace, with any tmpfs left in it, ends.
  if (user !== undefined) sweepUserPodman(user)
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("configMap, secret and emptyDir volumes on a rootless agent", () => {
  it("apps read the files as their users and share the emptyDir; the sidecar and other pods see nothing", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${configMap}\n---\n${secret}\n---\n${pod}\n---\n${other}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)

    // ConfigMap: the item at its path, read-only.
    expect((await sh("writer", `${BUSYBOX} cat /etc/app/conf/app.conf`)).stdout).toBe("level=debug")
    const readOnly = await sh("writer", "echo x > /etc/app/new")
    expect(readOnly.status).not.toBe(0)
    expect(readOnly.stderr).toMatch(/Read-only file system/)

    // Secret: the value, mode 0400 owned by the app's root, on a tmpfs.
    expect((await sh("writer", `${BUSYBOX} cat /run/creds/password`)).stdout).toBe(SECRET)
    expect((await sh("writer", `${BUSYBOX} stat -c '%a %u %g' /run/creds/password`)).stdout).toBe(
      "400 0 0",
    )
    expect(
      (await sh("writer", `${BUSYBOX} grep ' /run/creds ' /proc/self/mountinfo`)).stdout,
    ).toMatch(/ \/run\/creds ro,.* - tmpfs tmpfs /)

    // emptyDir: the reader (uid 1000) read the ConfigMap file, wrote the emptyDir, and sees what
    // the writer wrote.
    await eventually(
      "the reader to see the writer's file and to have read the ConfigMap",
      async () => {
        expect((await sh("reader", `${BUSYBOX} cat /data/from-writer`)).stdout).toBe("written")
        expect((await sh("reader", `${BUSYBOX} cat /data/reader-saw`)).stdout).toBe("level=debug")
        return true
      },
    )
    expect((await sh("writer", `${BUSYBOX} stat -c '%u' /scratch/reader-saw`)).stdout).toBe("1000")

    // Memory emptyDir: a tmpfs that holds its sizeLimit and no more.
    expect((await sh("writer", `${BUSYBOX} grep ' /mem ' /proc/self/mountinfo`)).stdout).toMatch(
      / \/mem rw,.* - tmpfs tmpfs rw,.*size=4096k/,
    )
    const full = await sh("writer", `${BUSYBOX} dd if=/dev/zero of=/mem/big bs=1048576 count=8`)
    expect(full.status).not.toBe(0)
    expect(full.stderr).toMatch(/No space left on device/)

    // Another pod's app and the sidecars have none of it mounted.
    for (const container of [`${OTHER}-app`, `${POD}-sidecar`, `${OTHER}-sidecar`]) {
      const pid = containerPidAs(user)(container)
      const mountinfo = await readFile(`/proc/${pid}/mountinfo`, "utf8")
      expect(mountinfo.includes(volumesDir()), container).toBe(false)
      expect(mountinfo.includes(" /run/creds "), container).toBe(false)
    }
    const otherLs = await appExec(`${OTHER}-app`, [BUSYBOX, "ls", "/run/creds", "/etc/app"], (c) =>
      containerPidAs(user)(c),
    )
    expect(otherLs.status).not.toBe(0)

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
    agent = await startAgent(dataDir, await freePort(), user)
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
