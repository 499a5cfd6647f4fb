/**
 * The agent end to end on one host: a real agent process, real Podman pods on slirp4netns with
 * nftables egress rules, real sidecars on libp2p; driven through the HTTP API, curl and podman.
 * The tests run in order and share one agent and one deployment (that is the scenario).
 */
import { randomBytes } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import type { Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { slirpProcessesFor } from "@beemesh/podman"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE, WEB_IMAGE } from "../../demo/images"
import { AGENT_NODE_OPTIONS } from "../../src/NodeOptions"
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
  runAsync,
  sandboxOf,
  slirpFor,
  startAgent,
  startListener,
} from "./support"

/** The nice of the task whose /proc stat file is `path` (field 19). */
const niceOf = (path: string) => {
  const stat = readFileSync(path, "utf8")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])
}

const ns = `e2e-${randomBytes(3).toString("hex")}`
let dataDir: string
let apiPort: number
let agent: AgentProcess
let peerId: string
const listeners: Array<Server> = []

const ordersManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: 2
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers:
        - name: app
          image: ${ORDERS_IMAGE}
          env: [{ name: GREETING, value: hello }]
          ports: [{ containerPort: 80 }]
`
const webManifest = () => `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=9001" }
spec:
  containers:
    - name: app
      image: ${WEB_IMAGE}
      env: [{ name: AGENT_PORT, value: "${apiPort}" }]
`

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name !== "")
    .sort()

const metric = (text: string, name: string, direction: string) =>
  Number(
    new RegExp(`^${name}\\{direction="${direction}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? Number.NaN,
  )

/**
 * Node options that make the agent write the Node modules it loaded (`process.moduleLoadList`)
 * to `file` as it exits: Node's bundled undici must not be among them (about 17.5 MiB of RSS).
 */
const reportingLoadedModules = (file: string) => ({
  options: [
    ...AGENT_NODE_OPTIONS,
    "--import",
    `data:text/javascript,process.on("exit", () => process.getBuiltinModule("node:fs").writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.moduleLoadList)))`,
  ],
})
const loadedFile = () => join(dataDir, "modules-loaded.json")

/** Runs a command in a container; busybox wget is bounded by busybox timeout (its -T segfaults). */
const execIn = (container: string, args: ReadonlyArray<string>, user?: string) =>
  runAsync("podman", ["exec", ...(user === undefined ? [] : ["--user", user]), container, ...args])
/** From inside an app container (entered with nsenter: podman exec cannot enter an app). */
const appGet = (container: string, url: string) =>
  appExec(container, ["/bin/busybox", "timeout", "4", "/bin/busybox", "wget", "-q", "-O", "-", url])
const sidecarGet = (container: string, url: string) =>
  execIn(
    container,
    [
      "/usr/local/bin/node",
      "-e",
      `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(4000) }).then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(String(e.cause ?? e)); process.exit(1) })`,
    ],
    "1337",
  )

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-agent-"))
  apiPort = await freePort()
  agent = await startAgent(dataDir, apiPort, undefined, [], reportingLoadedModules(loadedFile()))
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  for (const workload of ["web", "orders"]) {
    if (agent !== undefined)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`).catch(() => undefined)
  }
  await agent?.stop()
  // Safety net for a failed run: whatever still carries this agent's owner label goes.
  if (peerId !== undefined) await removePods(ownedPods())
  for (const server of listeners) server.close()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("beemesh-agent on one host", () => {
  it("runs both replicas of a standard Deployment; their sidecars register and resolve returns both", async () => {
    const posted = run("curl", [
      "-sS",
      "-H",
      `Authorization: Bearer ${agent.token}`,
      "-H",
      "Content-Type: application/yaml",
      "--data-binary",
      ordersManifest,
      `${agent.url}/v1/workloads`,
    ])
    expect(JSON.parse(posted.stdout)).toMatchObject({
      workloads: [{ namespace: ns, name: "orders", kind: "Deployment", replicas: 2, ready: 2 }],
    })
    const providers = await eventually("both orders replicas in the registry", async () => {
      const resolved = await api(agent, "GET", `/v1/services/${ns}/orders`)
      const list = resolved.json?.providers as Array<{ pod: string }> | undefined
      return list?.length === 2 ? list : undefined
    })
    expect(providers.map((p) => p.pod).sort()).toEqual(["orders-0", "orders-1"])
    expect(ownedPods()).toEqual([`bm-${ns}-orders-0`, `bm-${ns}-orders-1`])
  })

  it("carries a request from web's app to orders only through the sidecars (their counters move)", async () => {
    expect((await api(agent, "POST", "/v1/workloads", webManifest())).status).toBe(201)
    const answer = await eventually("web's app to print an answer from orders", () => {
      const logs = run("podman", ["logs", `bm-${ns}-web-app`])
      return /web: orders said: (orders: 3 open orders, answered by pod bm-\S+)/.exec(
        logs.stdout,
      )?.[1]
    })
    expect(answer).toMatch(new RegExp(`answered by pod bm-${ns}-orders-[01]`))
    const webMetrics = (await appGet(`bm-${ns}-web-app`, "http://127.0.0.1:8081/metrics")).stdout
    expect(metric(webMetrics, "beemesh_sidecar_proxy_streams_total", "outbound")).toBeGreaterThan(0)
    const inbound = await Promise.all(
      [0, 1].map(async (i) =>
        metric(
          (await appGet(`bm-${ns}-orders-${i}-app`, "http://127.0.0.1:8081/metrics")).stdout,
          "beemesh_sidecar_proxy_streams_total",
          "inbound",
        ),
      ),
    )
    expect(inbound[0]! + inbound[1]!).toBeGreaterThan(0)
  })

  it("lets web's app reach orders by name (short, namespaced, cluster names) as well as at 127.0.0.1", async () => {
    for (const host of ["orders", `orders.${ns}`, `orders.${ns}.svc.cluster.local`, "127.0.0.1"]) {
      const answer = await appGet(`bm-${ns}-web-app`, `http://${host}:9001/cgi-bin/orders`)
      expect({ host, ...answer }).toEqual({
        host,
        status: 0,
        stdout: expect.stringMatching(new RegExp(`answered by pod bm-${ns}-orders-[01]`)),
        stderr: "",
      })
    }
    // The holder owns /etc/hosts: the names are its entries, which the app cannot rewrite.
    const hosts = await appExec(`bm-${ns}-web-app`, ["/bin/busybox", "cat", "/etc/hosts"])
    expect(hosts.stdout).toMatch(
      new RegExp(`^127\\.0\\.0\\.2\\s(.*\\s)?orders\\.${ns}\\.svc(\\s|$)`, "m"),
    )
  })

  it("publishes only the sidecar's port and carries the default slirp4netns options", () => {
    const pod = `bm-${ns}-web`
    // The pod's holder container owns its network namespace and the one published port.
    const holder = JSON.parse(
      podman("inspect", `${pod}-holder`, "--format", "{{json .HostConfig}}"),
    )
    expect(Object.keys(holder.PortBindings)).toEqual(["8080/tcp"])
    const slirp = slirpProcessesFor(sandboxOf(pod))
    expect(slirp).toHaveLength(1)
    const flags = slirp[0]!.args.filter((a) =>
      /^--(mtu|cidr|enable-ipv6|disable-host-loopback)/.test(a),
    )
    expect(flags.sort()).toEqual(["--cidr=10.0.2.0/24", "--enable-ipv6", "--mtu=1500"])
    // The gateway's name, then the names of web's one upstream (orders) at its own address.
    expect(holder.ExtraHosts).toEqual([
      "host.containers.internal:10.0.2.2",
      ...["orders", `orders.${ns}`, `orders.${ns}.svc`, `orders.${ns}.svc.cluster.local`].map(
        (name) => `${name}:127.0.0.2`,
      ),
    ])
    expect(podman("inspect", `${pod}-app`, "--format", "{{json .HostConfig.PortBindings}}")).toBe(
      "{}",
    )
    expect(podman("inspect", `${pod}-sidecar`, "--format", "{{.Config.User}}")).toBe("1337")
  })

  it("blocks the app's own connections to the host loopback, the agent and IPv6 host loopback; the sidecar gets through", async () => {
    const v4 = await startListener("127.0.0.1")
    const v6 = await startListener("::1")
    listeners.push(v4.server, v6.server)
    const app = `bm-${ns}-web-app`
    const sidecar = `bm-${ns}-web-sidecar`
    const targets = [
      `http://10.0.2.2:${v4.port}/`,
      `http://10.0.2.2:${apiPort}/health`,
      `http://[fd00::2]:${v6.port}/`,
    ]
    for (const url of targets) {
      const attempt = await appGet(app, url)
      expect([url, attempt.status === 0]).toEqual([url, false])
    }
    // The same targets from the sidecar's UID: they exist and answer, so the app was blocked.
    expect((await sidecarGet(sidecar, targets[0]!)).stdout).toBe("reached-test-listener")
    expect(
      (await sidecarGet(sidecar, `http://host.containers.internal:${apiPort}/health`)).stdout,
    ).toContain('"ok":true')
    expect((await sidecarGet(sidecar, targets[2]!)).stdout).toBe("reached-test-listener")
  })

  it.each([
    [
      "the sidecar container",
      () => podman("kill", `bm-${ns}-orders-0-sidecar`),
      `bm-${ns}-orders-0`,
    ],
    ["the app container", () => podman("kill", `bm-${ns}-orders-1-app`), `bm-${ns}-orders-1`],
    [
      "the pod's slirp4netns",
      () => {
        const pids = slirpFor(sandboxOf(`bm-${ns}-web`))
        expect(pids).toHaveLength(1)
        process.kill(pids[0]!, "SIGKILL")
      },
      `bm-${ns}-web`,
    ],
  ])("makes the pod whole again after killing %s", async (_, kill, pod) => {
    const before = podman("pod", "inspect", pod, "--format", "{{.ID}}")
    kill()
    await eventually(`${pod} recreated and running`, () => {
      const state = run("podman", [
        "pod",
        "inspect",
        pod,
        "--format",
        "{{.ID}} {{.State}}",
      ]).stdout.trim()
      const [id, status] = state.split(" ")
      return id !== before && status === "Running" ? true : undefined
    })
    const workload = pod.endsWith("-web") ? "web" : "orders"
    await eventually(`the restart of ${pod} in the workload status`, async () => {
      const status = await api(agent, "GET", `/v1/workloads/${ns}/${workload}`)
      const pods = (status.json?.pods ?? []) as Array<{
        pod: string
        restarts: number
        phase: string
      }>
      const replica = pods.find((p) => p.pod === pod)
      return replica !== undefined && replica.restarts >= 1 && replica.phase === "Running"
        ? true
        : undefined
    })
    // And the path through the sidecars works again.
    await eventually("web's app to get answers again", () => {
      const tail = run("podman", ["logs", "--tail", "2", `bm-${ns}-web-app`]).stdout
      return /orders said: orders: 3 open orders/.test(tail) ? true : undefined
    })
  })

  it("runs its session at nice -10 as root, against its pods' sessions", () => {
    // Autogroups apply to tasks of the root cgroup (as here). A test runner with no session of its
    // own (CI's is in the kernel's root group: its autogroup file is empty) starts an agent that
    // has none either: the agent then says so, and how to give it one, and changes nothing.
    const autogroup = readFileSync(`/proc/${agent.child.pid}/autogroup`, "utf8")
    if (autogroup === "") {
      expect(agent.logs()).toContain("CPU priority: nice -10 refused: the agent has no session")
      expect(agent.logs()).toContain("setsid")
      // Its threads keep the nice they started with (no thread of the agent was raised instead).
      for (const task of readdirSync(`/proc/${agent.child.pid}/task`))
        expect(niceOf(`/proc/${agent.child.pid}/task/${task}/stat`)).toBe(niceOf("/proc/self/stat"))
    } else {
      expect(agent.logs()).toContain("CPU priority: the agent's session runs at nice -10")
      expect(autogroup).toMatch(/ nice -10\n?$/)
    }
  })

  it("adopts its pods after a restart, with no duplicates", async () => {
    const before = ownedPods().map((name) =>
      podman("pod", "inspect", name, "--format", "{{.Name}} {{.ID}}"),
    )
    expect(await agent.stop()).toBe(0)
    // Having served the API to the operator and to every sidecar (registrations, renewals, resolves).
    const loaded: ReadonlyArray<string> = JSON.parse(readFileSync(loadedFile(), "utf8"))
    expect(loaded).toContain("NativeModule http")
    expect(loaded.filter((m) => /undici|http2/.test(m))).toEqual([])
    agent = await startAgent(dataDir, apiPort)
    expect(agent.logs()).toMatch(/adopted pod/)
    const listed = await api(agent, "GET", "/v1/workloads")
    expect(
      ((listed.json?.workloads ?? []) as Array<{ name: string }>).map((w) => w.name).sort(),
    ).toEqual(["orders", "web"])
    // Give reconcile a few rounds: nothing is recreated or added.
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const after = ownedPods().map((name) =>
      podman("pod", "inspect", name, "--format", "{{.Name}} {{.ID}}"),
    )
    expect(after).toEqual(before)
    await eventually("orders registered again after the restart", async () => {
      const list = (await api(agent, "GET", `/v1/services/${ns}/orders`)).json?.providers as
        | Array<unknown>
        | undefined
      return list?.length === 2 ? true : undefined
    })
  })

  it.each([
    ["invalid YAML", "kind: [", 400, /not valid YAML or JSON/],
    [
      "an unknown kind",
      `{apiVersion: batch/v1, kind: Job, metadata: {name: j, namespace: ${ns}}}`,
      400,
      /unsupported kind/,
    ],
    [
      "a missing image",
      `{apiVersion: v1, kind: Pod, metadata: {name: ghost, namespace: ${ns}}, spec: {containers: [{name: a, image: localhost/no-such-image:1}]}}`,
      422,
      /localhost\/no-such-image:1/,
    ],
    [
      "a bad name",
      `{apiVersion: v1, kind: Pod, metadata: {name: Bad_Name, namespace: ${ns}}, spec: {containers: [{name: a, image: i}]}}`,
      400,
      /DNS-1123/,
    ],
    ["a huge body", `# ${"x".repeat(2 * 1024 * 1024)}`, 413, /exceeds/],
    [
      "a hostPort on an app",
      `{apiVersion: v1, kind: Pod, metadata: {name: hp, namespace: ${ns}}, spec: {containers: [{name: a, image: ${ORDERS_IMAGE}, ports: [{containerPort: 80, hostPort: 80}]}]}}`,
      400,
      /only the sidecar is ever published/,
    ],
  ])("refuses %s with a useful message and deploys nothing", async (_, body, status, message) => {
    const podsBefore = ownedPods()
    const response = await api(agent, "POST", "/v1/workloads", body)
    expect(response.status).toBe(status)
    expect(String(response.json?.message)).toMatch(message)
    expect(ownedPods()).toEqual(podsBefore)
    expect(
      (((await api(agent, "GET", "/v1/workloads")).json?.workloads ?? []) as Array<unknown>).length,
    ).toBe(2)
  })

  it("refuses a pod name that another owner's pod holds, and leaves that pod alone", async () => {
    const foreign = `bm-${ns}-taken`
    podman("pod", "create", "--name", foreign, "--label", "io.beemesh.test=1")
    try {
      const body = `{apiVersion: v1, kind: Pod, metadata: {name: taken, namespace: ${ns}}, spec: {containers: [{name: a, image: ${ORDERS_IMAGE}}]}}`
      const response = await api(agent, "POST", "/v1/workloads", body)
      expect(response.status).toBe(422)
      expect(String(response.json?.message)).toMatch(/taken/)
      expect(run("podman", ["pod", "exists", foreign]).status).toBe(0)
      expect((await api(agent, "GET", `/v1/workloads/${ns}/taken`)).status).toBe(404)
    } finally {
      run("podman", ["pod", "rm", "-f", foreign])
    }
  })

  it("answers 401 without a token and 403 when a pod token registers another workload's service", async () => {
    expect((await api(agent, "GET", "/v1/workloads", undefined, "")).status).toBe(401)
    const env = JSON.parse(
      podman("inspect", `bm-${ns}-web-sidecar`, "--format", "{{json .Config.Env}}"),
    ) as Array<string>
    const webToken = env
      .find((e) => e.startsWith("BEEMESH_POD_TOKEN="))!
      .slice("BEEMESH_POD_TOKEN=".length)
    const forged = await api(
      agent,
      "PUT",
      "/v1/pods/web/services",
      JSON.stringify({
        namespace: ns,
        workload: "web",
        pod: "web",
        peerId: "x",
        multiaddrs: [],
        services: [{ name: "orders", port: 80 }],
      }),
      webToken,
    )
    expect(forged.status).toBe(403)
    expect(String(forged.json?.message)).toMatch(/may register only its own services/)
  })

  it("stores manifests in the DHT and returns the newest version", async () => {
    const first = await api(agent, "PUT", `/v1/manifests/${ns}/orders`, ordersManifest)
    expect(first.status).toBe(200)
    const second = await api(
      agent,
      "PUT",
      `/v1/manifests/${ns}/orders`,
      ordersManifest.replace("replicas: 2", "replicas: 3"),
    )
    expect(Number(second.json?.sequence)).toBeGreaterThan(Number(first.json?.sequence))
    const read = await api(agent, "GET", `/v1/manifests/${ns}/orders`)
    expect(read.json).toMatchObject({ namespace: ns, name: "orders", publisher: peerId })
    expect(String(read.json?.content)).toContain("replicas: 3")
    expect((await api(agent, "GET", `/v1/manifests/${ns}/nothing`)).status).toBe(404)
    expect((await api(agent, "PUT", `/v1/manifests/${ns}/bad`, "kind: [")).status).toBe(400)
  })

  it("DELETE leaves no pod, container, slirp4netns process or record", async () => {
    const sandboxes = ownedPods().map(sandboxOf)
    for (const workload of ["web", "orders"]) {
      expect((await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`)).status).toBe(204)
    }
    expect(ownedPods()).toEqual([])
    expect(
      podman("ps", "-a", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Names}}"),
    ).toBe("")
    await eventually("slirp4netns of the deleted pods to exit", () =>
      sandboxes.every((path) => slirpFor(path).length === 0) ? true : undefined,
    )
    await eventually("the orders records withdrawn", async () => {
      const list = (await api(agent, "GET", `/v1/services/${ns}/orders`)).json?.providers as
        | Array<unknown>
        | undefined
      return list?.length === 0 ? true : undefined
    })
    expect((await api(agent, "GET", `/v1/workloads/${ns}/orders`)).status).toBe(404)
  })
})
