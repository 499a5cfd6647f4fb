/**
 * Pod volumes end to end (rootful): a real agent process and real pods. An app reads a ConfigMap
 * file and a Secret file (content, mode, tmpfs), two containers share an emptyDir, a Memory
 * emptyDir holds no more than its sizeLimit; another pod and the sidecar see none of it; a changed
 * ConfigMap reaches the files by rolling the pod; after the delete nothing remains on the host.
 */
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildDemoImages, ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  appExec,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  run,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
// Random, so that finding it anywhere cannot be a coincidence.
const SECRET = `s3cr3t-${randomBytes(12).toString("hex")}`
const POD = `bm-${ns}-vol`
const OTHER = `bm-${ns}-other`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const BUSYBOX = "/bin/busybox"
const configMap = (level: string) =>
  `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: ${ns}}, data: {app.conf: "level=${level}", greeting: hello}}`
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

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((line) => line !== "")

const sh = async (container: string, script: string) => {
  const result = await appExec(`${POD}-${container}`, [BUSYBOX, "sh", "-c", script])
  return { ...result, stdout: result.stdout.trim() }
}

const pidOf = (container: string) => podman("inspect", container, "--format", "{{.State.Pid}}")
const volumesDir = () => join(dataDir, "volumes")
const hostMountsUnder = async (dir: string) =>
  (await readFile("/proc/self/mountinfo", "utf8"))
    .split("\n")
    .filter((line) => (line.split(" ")[4] ?? "").startsWith(dir))

beforeAll(async () => {
  requirePrerequisites()
  buildDemoImages()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-volumes-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) await removePods(ownedPods())
  if (dataDir !== undefined) {
    for (const line of await hostMountsUnder(dataDir))
      run("umount", ["--lazy", line.split(" ")[4] ?? ""])
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

    // ConfigMap: the item at its path, read-only.
    expect((await sh("writer", `${BUSYBOX} cat /etc/app/conf/app.conf`)).stdout).toBe("level=debug")
    const readOnly = await sh("writer", `echo x > /etc/app/new`)
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

    // emptyDir: what the writer wrote, the reader sees; the reader (uid 1000) read the ConfigMap
    // file and wrote the emptyDir itself.
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

    // Another pod's app and this pod's sidecar have none of it mounted.
    const volumeDir = join(volumesDir(), POD)
    for (const container of [`${OTHER}-app`, `${POD}-sidecar`, `${OTHER}-sidecar`]) {
      const mountinfo = await readFile(`/proc/${pidOf(container)}/mountinfo`, "utf8")
      expect(mountinfo.includes(volumesDir()), container).toBe(false)
      expect(mountinfo.includes(" /run/creds "), container).toBe(false)
    }
    const otherLs = await appExec(`${OTHER}-app`, [BUSYBOX, "ls", "/run/creds", "/etc/app"])
    expect(otherLs.status).not.toBe(0)

    // On the host: root's alone, the projected volumes and the Memory emptyDir are tmpfs mounts.
    expect((await stat(volumeDir)).mode & 0o777).toBe(0o700)
    const mounts = (await hostMountsUnder(volumeDir)).map((line) => line.split(" ")[4])
    expect(mounts.sort()).toEqual(
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
