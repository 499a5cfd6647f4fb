/**
 * The demo on simulated hosts (`tooling/run demo --hosts N`, root): N network namespaces on a
 * bridge, each with its own Podman and agent. Host 1 runs `web`, every other host one replica of
 * `orders`; web's app calls orders through its sidecar and the demo prints which host answered
 * each call. `tooling/run demo stop` removes everything (the run is named "demo").
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parse, stringify } from "yaml"
import { type SimulatedHost, SimulatedHosts } from "../test/support/hosts/SimulatedHosts"
import { DEFAULT_BASE_DIR, sweepRun } from "../test/support/hosts/Sweeper"
import { waitFor } from "../test/support/hosts/wait"
import { buildDemoImages, ORDERS_IMAGE, WEB_IMAGE } from "./images"

const DEMO_DIR = dirname(fileURLToPath(import.meta.url))
const RUN_ID = "demo"
export const MULTIHOST_RUN_DIR = join(DEFAULT_BASE_DIR, RUN_ID)
const SIDECAR_IMAGE = "localhost/beemesh/sidecar:0.1.0"
const CALLS = 8

const say = (line: string) => console.log(`demo: ${line}`)

/** orders.yaml with one replica that says which host it runs on. */
const ordersFor = (host: SimulatedHost) => {
  const manifest = parse(readFileSync(join(DEMO_DIR, "orders.yaml"), "utf8"))
  manifest.spec.replicas = 1
  manifest.spec.template.spec.containers[0].env = [{ name: "DEMO_HOST", value: host.name }]
  return stringify(manifest)
}

const deploy = async (host: SimulatedHost, manifest: string) => {
  const response = await host.api("POST", "/v1/workloads", manifest)
  if (response.status !== 201)
    throw new Error(`deploying on ${host.name}: ${response.status} ${response.text}`)
}

const callOrders = (web: SimulatedHost) =>
  web.execInApp(
    "bm-demo-web-app",
    "/bin/busybox",
    "timeout",
    "5",
    "/bin/busybox",
    "wget",
    "-q",
    "-O",
    "-",
    "http://127.0.0.1:9001/cgi-bin/orders",
  )

export const startMultihost = async (count: number) => {
  if (!Number.isInteger(count) || count < 2 || count > 20)
    throw new Error(
      `--hosts ${count}: give a whole number from 2 to 20 (host 1 calls, the others serve)`,
    )
  if (existsSync(MULTIHOST_RUN_DIR)) {
    say("removing the previous multi-host demo")
    await sweepRun(MULTIHOST_RUN_DIR)
  }
  say("building the demo images (busybox, offline)")
  buildDemoImages()
  say(`starting ${count} simulated hosts (namespaces bmh-demo-*, data in ${MULTIHOST_RUN_DIR})`)
  const cluster = await SimulatedHosts.create({
    count,
    runId: RUN_ID,
    keep: true,
    images: [SIDECAR_IMAGE, ORDERS_IMAGE, WEB_IMAGE],
  })
  const [web, ...providers] = cluster.hosts as [SimulatedHost, ...Array<SimulatedHost>]
  for (const host of cluster.hosts) say(`  ${host.name} at ${host.address}: agent ${host.peerId}`)
  for (const host of providers) {
    say(`deploying orders on ${host.name}`)
    await deploy(host, ordersFor(host))
  }
  say(`deploying web on ${web.name}`)
  await deploy(web, readFileSync(join(DEMO_DIR, "web.yaml"), "utf8"))
  await waitFor(
    `every orders replica resolvable from ${web.name}`,
    async () => {
      const found = (await web.api("GET", "/v1/services/demo/orders")).json?.providers
      return Array.isArray(found) && found.length === providers.length ? true : undefined
    },
    90_000,
    500,
  )
  await waitFor(
    "web's first answer",
    async () => ((await callOrders(web)).includes("open orders") ? true : undefined),
    60_000,
    500,
  )
  say(`web's app on ${web.name} (${web.address}) calls orders ${CALLS} times:`)
  for (let i = 1; i <= CALLS; i++) {
    const started = performance.now()
    const answer = await callOrders(web).catch((error: Error) => `no answer: ${error.message}`)
    const host = / on host (h\d+)/.exec(answer)?.[1]
    const where = host === undefined ? "" : ` [${host} ${cluster.host(host).address}]`
    console.log(
      `    call ${i}: ${answer.trim()}${where} (${Math.round(performance.now() - started)} ms)`,
    )
  }
  console.log(`
The hosts keep running. Each agent's API is on its host's loopback, reachable here through a socket:
  TOKEN=$(cat ${web.agentPaths.dataDir}/operator-token)
  curl -s --unix-socket ${web.agentPaths.apiSocket} -H "Authorization: Bearer $TOKEN" http://h1/v1/services/demo/orders
  podman --remote --url unix://${web.podmanPaths.socket} logs -f bm-demo-web-app
Stop and clean up:  tooling/run demo stop`)
}

/** Removes the multi-host demo if there is one; says whether there was. */
export const stopMultihost = async () => {
  if (!existsSync(MULTIHOST_RUN_DIR)) return false
  say(`removing the simulated hosts of ${MULTIHOST_RUN_DIR}`)
  await sweepRun(MULTIHOST_RUN_DIR)
  return true
}
