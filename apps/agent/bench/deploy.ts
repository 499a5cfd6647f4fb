/**
 * The agent's costs, side by side with a baseline in one run:
 *   - deploy → answering: from POST of a 1-replica `orders` workload until an already-running client
 *     pod gets orders' answer through the sidecars, versus a bare `podman run` of the same orders
 *     image (same slirp4netns options, port published) until curl gets the same answer;
 *   - agent RSS idle, and with 20 pods (a 20-replica Deployment), next to an idle `node` process.
 * Prints a table and writes bench-results/deploy.json.   pnpm --filter @beemesh/agent bench
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { defaultSlirpOptions, renderPodmanNetworkFlag } from "@beemesh/netns"
import { buildDemoImages, ORDERS_IMAGE, WEB_IMAGE } from "../demo/images"
import {
  api,
  eventually,
  freePort,
  podman,
  requirePrerequisites,
  run,
  startAgent,
} from "../test/e2e/support"

const ITERATIONS = 3
const ns = `bench-${process.pid}`
const OUT = join(dirname(fileURLToPath(import.meta.url)), "../bench-results/deploy.json")

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN) /
  1024

const median = (values: ReadonlyArray<number>) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const orders = (name: string, replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns} }
spec:
  replicas: ${replicas}
  template:
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`
const client = (service: string, apiPort: number) => `
apiVersion: v1
kind: Pod
metadata:
  name: client-${service}
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "${service}=9001" }
spec:
  containers:
    - name: app
      image: ${WEB_IMAGE}
      env: [{ name: AGENT_PORT, value: "${apiPort}" }, { name: WEB_INTERVAL, value: "0.1" }]
`

const bareRun = async () => {
  const port = await freePort()
  const name = `bm-bench-bare-${process.pid}-${port}`
  const started = performance.now()
  podman(
    "run",
    "-d",
    "--rm",
    "--name",
    name,
    "--label",
    "io.beemesh.test=1",
    "--network",
    renderPodmanNetworkFlag(defaultSlirpOptions),
    "-p",
    `127.0.0.1:${port}:80`,
    "--entrypoint",
    "/bin/busybox",
    ORDERS_IMAGE,
    "httpd",
    "-f",
    "-p",
    "80",
    "-h",
    "/www",
  )
  await eventually("the bare container to answer", () => {
    const answer = run("curl", ["-s", "--max-time", "1", `http://127.0.0.1:${port}/cgi-bin/orders`])
    return answer.stdout.includes("open orders") ? true : undefined
  })
  const elapsed = performance.now() - started
  run("podman", ["rm", "-f", "-t", "0", name])
  return elapsed
}

const main = async () => {
  requirePrerequisites()
  buildDemoImages()
  const dataDir = await mkdtemp(join(tmpdir(), "beemesh-bench-agent-"))
  const apiPort = await freePort()
  const agent = await startAgent(dataDir, apiPort)
  const agentPid = agent.child.pid!
  const idleNode = spawnSync(process.execPath, ["-e", "console.log(process.memoryUsage.rss())"], {
    encoding: "utf8",
  })
  const results: Record<string, unknown> = {}
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const rssIdle = rssMiB(agentPid)

    const bare: Array<number> = []
    const beemesh: Array<number> = []
    for (let i = 0; i < ITERATIONS; i++) {
      bare.push(await bareRun())
      const service = `orders${i}`
      await api(agent, "POST", "/v1/workloads", client(service, apiPort))
      const podLogs = () => run("podman", ["logs", `bm-${ns}-client-${service}-app`]).stdout
      const before = podLogs().split("\n").length
      const started = performance.now()
      const posted = await api(agent, "POST", "/v1/workloads", orders(service, 1))
      if (posted.status !== 201) throw new Error(`deploy failed: ${JSON.stringify(posted.json)}`)
      await eventually(`client-${service} to get an answer from ${service}`, () =>
        podLogs()
          .split("\n")
          .slice(before - 1)
          .some((line) => line.includes("open orders"))
          ? true
          : undefined,
      )
      beemesh.push(performance.now() - started)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${service}`)
      await api(agent, "DELETE", `/v1/workloads/${ns}/client-${service}`)
    }

    const many = await api(agent, "POST", "/v1/workloads", orders("many", 20))
    if (many.status !== 201)
      throw new Error(`20-replica deploy failed: ${JSON.stringify(many.json)}`)
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const rss20 = rssMiB(agentPid)
    await api(agent, "DELETE", `/v1/workloads/${ns}/many`)

    Object.assign(results, {
      iterations: ITERATIONS,
      deployToAnsweringMs: { beemesh: beemesh.map(Math.round), bareRun: bare.map(Math.round) },
      medianMs: { beemesh: Math.round(median(beemesh)), bareRun: Math.round(median(bare)) },
      agentRssMiB: { idle: Math.round(rssIdle), with20Pods: Math.round(rss20) },
      idleNodeRssMiB: Math.round(Number(idleNode.stdout) / 2 ** 20),
    })
    console.log("\nDeploy → answering (ms)              median   runs")
    console.log(
      `  bare podman run + curl             ${String(Math.round(median(bare))).padStart(6)}   ${bare.map(Math.round).join(", ")}`,
    )
    console.log(
      `  beemesh (POST → through sidecars)  ${String(Math.round(median(beemesh))).padStart(6)}   ${beemesh.map(Math.round).join(", ")}`,
    )
    console.log("\nMemory (RSS, MiB)")
    console.log(
      `  idle node process (baseline)       ${String(results.idleNodeRssMiB).padStart(6)}`,
    )
    console.log(`  agent idle                         ${String(Math.round(rssIdle)).padStart(6)}`)
    console.log(`  agent with 20 pods                 ${String(Math.round(rss20)).padStart(6)}`)
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`)
    console.log(`\nwrote ${OUT}`)
  } finally {
    const listed = await api(agent, "GET", "/v1/workloads").catch(() => undefined)
    for (const workload of (listed?.json?.workloads ?? []) as Array<{
      namespace: string
      name: string
    }>) {
      await api(agent, "DELETE", `/v1/workloads/${workload.namespace}/${workload.name}`).catch(
        () => undefined,
      )
    }
    await agent.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

await main()
