/**
 * The agent rootless: run by the unprivileged `beemesh-test` user (made by host-setup, with
 * subordinate IDs), on that user's own Podman (an embedded rootless service) and storage. Pods are
 * on slirp4netns, the egress rules are applied inside the user namespace that owns each pod's
 * network namespace, and the path through the sidecars works as it does rootful.
 */
import type { Server } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE, WEB_IMAGE } from "../../demo/images"
import { attackOutcomes, countingListeners, HOSTILE_IMAGE, HOSTILE_USER1337_IMAGE } from "./hostile"
import {
  containerPidAs,
  podmanAs,
  podmanAsAsync,
  podsAs,
  ROOTLESS_USER,
  type RootlessAgent,
  startRootlessAgent,
} from "./rootlessUser"
import {
  type AgentProcess,
  api,
  appExec,
  eventually,
  type RunAs,
  run,
  startListener,
} from "./support"

const ns = "rootless"
let user: RunAs
let rootless: RootlessAgent | undefined
let apiPort: number
let agent: AgentProcess
const listeners: Array<Server> = []

const userPodman = (args: ReadonlyArray<string>) => podmanAs(user, args)
const userPodmanAsync = (args: ReadonlyArray<string>) => podmanAsAsync(user, args)
const userPid = (container: string) => containerPidAs(user)(container)
const userPods = () => podsAs(user)

beforeAll(async () => {
  rootless = await startRootlessAgent("beemesh-e2e-rootless-", [
    ORDERS_IMAGE,
    WEB_IMAGE,
    HOSTILE_IMAGE,
    HOSTILE_USER1337_IMAGE,
  ])
  ;({ user, apiPort } = rootless)
  agent = rootless.agent()
})

afterAll(async () => {
  for (const workload of ["web", "orders", "hostile"]) {
    if (agent !== undefined)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`).catch(() => undefined)
  }
  // Rootless Podman leaves a pause process (catatonit -P) holding its user namespace: close ends it.
  await rootless?.close()
  for (const server of listeners) server.close()
})

describe("beemesh-agent rootless", () => {
  it("runs as an ordinary user and deploys onto that user's Podman", async () => {
    expect(run("stat", ["-c", "%U", `/proc/${agent.child.pid}`]).stdout.trim()).toBe(ROOTLESS_USER)
    const health = await api(agent, "GET", "/health")
    expect(health.json).toMatchObject({ ok: true, podman: { embedded: true } })
    const orders = `{apiVersion: v1, kind: Pod, metadata: {name: orders, namespace: ${ns}}, spec: {containers: [{name: app, image: "${ORDERS_IMAGE}", ports: [{containerPort: 80}]}]}}`
    expect((await api(agent, "POST", "/v1/workloads", orders)).status).toBe(201)
    const web = `{apiVersion: v1, kind: Pod, metadata: {name: web, namespace: ${ns}, annotations: {beemesh.io/upstreams: "orders=9001"}}, spec: {containers: [{name: app, image: "${WEB_IMAGE}", env: [{name: AGENT_PORT, value: "${apiPort}"}]}]}}`
    expect((await api(agent, "POST", "/v1/workloads", web)).status).toBe(201)
    expect(userPods()).toEqual([`bm-${ns}-orders`, `bm-${ns}-web`])
    // Root's Podman knows nothing of them: they live in the user's storage.
    expect(run("podman", ["pod", "exists", `bm-${ns}-web`]).status).not.toBe(0)
  })

  it("carries web's request to orders through the sidecars", async () => {
    const answer = await eventually("web's app to print an answer from orders", () => {
      const logs = userPodman(["logs", `bm-${ns}-web-app`])
      return /web: orders said: (orders: 3 open orders, answered by pod \S+)/.exec(logs.stdout)?.[1]
    })
    expect(answer).toContain(`bm-${ns}-orders`)
    // On the same-host path: the sidecars (UID 1337 of the user's namespace, a subordinate ID on
    // the host) create and connect their sockets in the agent user's directory.
    const metrics = await userPodmanAsync([
      "exec",
      `bm-${ns}-web-sidecar`,
      "/usr/local/bin/node",
      "-e",
      'fetch("http://127.0.0.1:8081/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))',
    ])
    expect(metrics.stdout).toContain(
      'beemesh_sidecar_libp2p_connections_by_transport{transport="unix"} 1',
    )
  })

  it("blocks the app's own connections while the sidecar UID gets out (rules in the user namespace)", async () => {
    const listener = await startListener("127.0.0.1")
    listeners.push(listener.server)
    const url = `http://10.0.2.2:${listener.port}/`
    // Entered with nsenter: podman exec cannot enter an app's own user namespace.
    const fromApp = await appExec(
      `bm-${ns}-web-app`,
      ["/bin/busybox", "timeout", "4", "/bin/busybox", "wget", "-q", "-O", "-", url],
      userPid,
    )
    expect(fromApp.status).not.toBe(0)
    // The same entry reaches the sidecar's metrics inside the pod: the failure is the rule's.
    const local = await appExec(
      `bm-${ns}-web-app`,
      [
        "/bin/busybox",
        "timeout",
        "4",
        "/bin/busybox",
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:8081/metrics",
      ],
      userPid,
    )
    expect(local.stdout).toContain("beemesh_sidecar")
    const fromSidecar = await userPodmanAsync([
      "exec",
      "--user",
      "1337",
      `bm-${ns}-web-sidecar`,
      "/usr/local/bin/node",
      "-e",
      `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(4000) }).then(r => r.text()).then(t => process.stdout.write(t))`,
    ])
    expect(fromSidecar.stdout).toBe("reached-test-listener")
  })

  it("a hostile app reaches nothing outside its pod by any route; its sidecar still gets out", async () => {
    const listener = await countingListeners()
    listeners.push(...listener.servers)
    const env = `env: [{ name: ATTACK_PORT, value: "${listener.port}" }]`
    const manifest = `
apiVersion: v1
kind: Pod
metadata: { name: hostile, namespace: ${ns} }
spec:
  containers:
    - { name: root, image: "${HOSTILE_IMAGE}", ${env} }
    - { name: user1337, image: "${HOSTILE_USER1337_IMAGE}", ${env} }
`
    expect((await api(agent, "POST", "/v1/workloads", manifest)).status).toBe(201)
    for (const [container, uid] of [
      ["root", "0"],
      ["user1337", "1337"],
    ] as const) {
      const logs = await eventually(`the attacks of ${container} to finish`, () => {
        const out = userPodman(["logs", `bm-${ns}-hostile-${container}`]).stdout
        return out.includes("ATTACK done") ? out : undefined
      })
      expect(logs).toContain(`ATTACK-UID ${uid}`)
      const outcomes = attackOutcomes(logs)
      expect(outcomes.size).toBeGreaterThanOrEqual(uid === "0" ? 19 : 15)
      const reached = [...outcomes].filter(([, outcome]) => !outcome.startsWith("blocked"))
      expect([container, reached]).toEqual([container, []])
    }
    expect(listener.connections()).toBe(0)
    for (const url of [`http://10.0.2.2:${listener.port}/`, `http://[fd00::2]:${listener.port}/`]) {
      const fromSidecar = await userPodmanAsync([
        "exec",
        "--user",
        "1337",
        `bm-${ns}-hostile-sidecar`,
        "/usr/local/bin/node",
        "-e",
        `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(4000) }).then(r => r.text()).then(t => process.stdout.write(t))`,
      ])
      expect([url, fromSidecar.stdout]).toEqual([url, "reached-test-listener"])
    }
    expect(listener.connections()).toBe(2)
    expect((await api(agent, "DELETE", `/v1/workloads/${ns}/hostile`)).status).toBe(204)
  })

  it("DELETE leaves no pod in the user's Podman", async () => {
    for (const workload of ["web", "orders"]) {
      expect((await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`)).status).toBe(204)
    }
    expect(userPods()).toEqual([])
  })
})
