/**
 * A hostile app against a real agent, rootful (the rootless run is in rootless.test.ts): every way
 * out of its pod fails while its sidecar still gets out; it cannot tamper with the sidecar; the
 * securityContext it is given holds. Listeners are the test's own, on the host loopback.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import type { Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { attackOutcomes, countingListeners, HOSTILE_IMAGE, HOSTILE_USER1337_IMAGE } from "./hostile"
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  run,
  runAsync,
  startAgent,
} from "./support"

const ns = `hostile-${randomBytes(3).toString("hex")}`
let dataDir: string
let agent: AgentProcess
let peerId: string
const servers: Array<Server> = []
let listener: Awaited<ReturnType<typeof countingListeners>>

const hostileManifest = (port: number) => `
apiVersion: v1
kind: Pod
metadata: { name: hostile, namespace: ${ns} }
spec:
  containers:
    - name: root
      image: ${HOSTILE_IMAGE}
      env: [{ name: ATTACK_PORT, value: "${port}" }]
    - name: user1337
      image: ${HOSTILE_USER1337_IMAGE}
      env: [{ name: ATTACK_PORT, value: "${port}" }]
`

const sidecarGet = (container: string, url: string) =>
  runAsync("podman", [
    "exec",
    "--user",
    "1337",
    container,
    "/usr/local/bin/node",
    "-e",
    `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(4000) }).then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(String(e.cause ?? e)); process.exit(1) })`,
  ])

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name !== "")

const hostUid = (container: string) => {
  const pid = podman("inspect", container, "--format", "{{.State.Pid}}")
  return readFile(`/proc/${pid}/status`, "utf8").then(
    (status) => /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? "",
  )
}

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-hostile-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
  listener = await countingListeners()
  servers.push(...listener.servers)
})

afterAll(async () => {
  for (const workload of ["hostile", "secure"]) {
    if (agent !== undefined)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`).catch(() => undefined)
  }
  await agent?.stop()
  if (peerId !== undefined) await removePods(ownedPods())
  for (const server of servers) server.close()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("a hostile app (rootful)", () => {
  it("reaches nothing outside its pod by any route, IPv4 or IPv6, while its sidecar gets out", async () => {
    expect((await api(agent, "POST", "/v1/workloads", hostileManifest(listener.port))).status).toBe(
      201,
    )
    const pod = `bm-${ns}-hostile`
    for (const [container, uid] of [
      ["root", "0"],
      ["user1337", "1337"],
    ] as const) {
      const logs = await eventually(`the attacks of ${container} to finish`, () => {
        const out = run("podman", ["logs", `${pod}-${container}`]).stdout
        return out.includes("ATTACK done") ? out : undefined
      })
      expect(logs).toContain(`ATTACK-UID ${uid}`)
      const outcomes = attackOutcomes(logs)
      // Every route was tried (both address families for the connection routes) …
      expect(outcomes.size).toBeGreaterThanOrEqual(uid === "0" ? 19 : 15)
      // … and none got anywhere.
      const reached = [...outcomes].filter(([, outcome]) => !outcome.startsWith("blocked"))
      expect([container, reached]).toEqual([container, []])
      // The app's process is not the sidecar's UID on the host, whatever it is inside.
      expect(await hostUid(`${pod}-${container}`)).not.toBe("1337")
    }
    expect(listener.connections()).toBe(0)
    // The sidecar is alive after `kill -KILL -1` and gets out on both address families.
    const sidecar = `${pod}-sidecar`
    expect((await sidecarGet(sidecar, `http://10.0.2.2:${listener.port}/`)).stdout).toBe(
      "reached-test-listener",
    )
    expect((await sidecarGet(sidecar, `http://[fd00::2]:${listener.port}/`)).stdout).toBe(
      "reached-test-listener",
    )
    expect(listener.connections()).toBe(2)
  })

  it("honours runAsUser/runAsGroup and readOnlyRootFilesystem in the running container", async () => {
    const manifest = `
apiVersion: v1
kind: Pod
metadata: { name: secure, namespace: ${ns} }
spec:
  securityContext: { runAsUser: 1000, runAsGroup: 1000 }
  containers:
    - name: app
      image: ${HOSTILE_IMAGE}
      command: ["/bin/busybox", "sh", "-c"]
      args: ["echo ID $(/bin/busybox id -u):$(/bin/busybox id -g); /bin/busybox touch /x 2>&1; echo TOUCHED $?; /bin/busybox httpd -f -p 81 -h /"]
      securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
`
    expect((await api(agent, "POST", "/v1/workloads", manifest)).status).toBe(201)
    const logs = await eventually("the secure app's report", () => {
      const out = run("podman", ["logs", `bm-${ns}-secure-app`]).stdout
      return out.includes("TOUCHED") ? out : undefined
    })
    expect(logs).toContain("ID 1000:1000")
    expect(logs).toMatch(/Read-only file system/)
    expect(logs).toContain("TOUCHED 1")
    const pid = podman("inspect", `bm-${ns}-secure-app`, "--format", "{{.State.Pid}}")
    const status = await readFile(`/proc/${pid}/status`, "utf8")
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m)
    expect(status).toMatch(/^CapEff:\s+0+$/m)
    // A non-root app without capabilities binds a port below 1024 (the pod's port start is 0).
    await eventually("the non-root app listening on :81", async () => {
      const tables = await Promise.all(
        ["tcp", "tcp6"].map((t) => readFile(`/proc/${pid}/net/${t}`, "utf8")),
      )
      return /:0051 0+:0000 0A/.test(tables.join("\n")) ? true : undefined
    })
  })

  it("runAsNonRoot refuses an image that runs as root, naming the container and the fix", async () => {
    const manifest = `{apiVersion: v1, kind: Pod, metadata: {name: rootimg, namespace: ${ns}}, spec: {securityContext: {runAsNonRoot: true}, containers: [{name: app, image: ${HOSTILE_IMAGE}}]}}`
    const before = ownedPods().sort()
    const response = await api(agent, "POST", "/v1/workloads", manifest)
    expect(response.status).toBeGreaterThanOrEqual(400)
    expect(response.status).toBeLessThan(500)
    expect(String(response.json?.message)).toMatch(/container "app" must run as non-root/)
    expect(String(response.json?.message)).toMatch(/set runAsUser/)
    expect(ownedPods().sort()).toEqual(before)
  })

  it.each([
    [{ runAsUser: 1337 }, /sidecar's identity/],
    [{ capabilities: { add: ["NET_RAW"] } }, /NET_RAW is refused/],
    [{ seccompProfile: { type: "Unconfined" } }, /seccompProfile is not supported/],
    [{ privileged: true }, /privileged containers are refused/],
  ])("refuses securityContext %j with a 400 saying why", async (securityContext, message) => {
    const manifest = JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "refused", namespace: ns },
      spec: { containers: [{ name: "app", image: HOSTILE_IMAGE, securityContext }] },
    })
    const response = await api(agent, "POST", "/v1/workloads", manifest)
    expect(response.status).toBe(400)
    expect(String(response.json?.message)).toMatch(message)
  })
})
