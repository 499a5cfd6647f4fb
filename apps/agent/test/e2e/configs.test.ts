/**
 * ConfigMaps and Secrets end to end: a real agent process, a real pod whose app gets environment
 * from both; the Secret's value is nowhere in the agent's data directory; nothing remains after
 * the deletes.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  appExec,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
// Random, so that finding it anywhere cannot be a coincidence.
const SECRET = `s3cr3t-${randomBytes(12).toString("hex")}`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const configMap = (greeting: string) =>
  `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: ${ns}}, data: {greeting: "${greeting}", mode: fast}}`
const secret = `{apiVersion: v1, kind: Secret, metadata: {name: credentials, namespace: ${ns}}, stringData: {password: "${SECRET}"}}`
const pod = `{apiVersion: v1, kind: Pod, metadata: {name: web, namespace: ${ns}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, command: [/bin/busybox, httpd, -f, -p, "80"], ports: [{containerPort: 80}], env: [{name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}, {name: PASSWORD, valueFrom: {secretKeyRef: {name: credentials, key: password}}}], envFrom: [{prefix: CFG_, configMapRef: {name: settings}}, {secretRef: {name: credentials}}]}]}}`

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((line) => line !== "")

/** The app's environment, as its process got it. */
const appEnv = async () => {
  const result = await appExec(`bm-${ns}-web-app`, ["/bin/busybox", "cat", "/proc/1/environ"])
  expect(result.status, result.stderr).toBe(0)
  return Object.fromEntries(
    result.stdout
      .split("\0")
      .filter((entry) => entry.includes("="))
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  )
}

/** The regular files under `dir` (what is stored at rest; sockets such as the Podman service's are not). */
const filesUnder = async (dir: string): Promise<Array<string>> => {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory()
        ? filesUnder(join(dir, e.name))
        : Promise.resolve(e.isFile() ? [join(dir, e.name)] : []),
    ),
  )
  return nested.flat()
}

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-configs-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) await removePods(ownedPods())
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("ConfigMaps and Secrets on a real agent", () => {
  it("a workload naming a missing Secret is refused (422, naming it) and nothing is deployed", async () => {
    const answer = await api(agent!, "POST", "/v1/workloads", `${configMap("hello")}\n---\n${pod}`)
    expect(answer.status).toBe(422)
    expect(answer.json?.message).toContain(`Secret ${ns}/credentials, which does not exist`)
    expect(ownedPods()).toEqual([])
    expect((await api(agent!, "GET", "/v1/configs")).json?.configs).toEqual([])
  })

  it("the app gets env from both; the Secret is sealed at rest; everything goes with the deletes", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${configMap("hello")}\n---\n${secret}\n---\n${pod}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    const env = await appEnv()
    expect(env).toMatchObject({
      GREETING: "hello",
      PASSWORD: SECRET,
      CFG_greeting: "hello",
      CFG_mode: "fast",
      password: SECRET,
    })

    for (const file of await filesUnder(dataDir)) {
      const bytes = await readFile(file)
      expect(bytes.includes(Buffer.from(SECRET)), file).toBe(false)
      expect(bytes.includes(Buffer.from(Buffer.from(SECRET).toString("base64"))), file).toBe(false)
    }

    // In use: refused.
    const inUse = await api(agent!, "DELETE", `/v1/configs/secrets/${ns}/credentials`)
    expect(inUse.status).toBe(409)
    expect(inUse.json?.message).toContain(`used by ${ns}/web`)

    expect((await api(agent!, "DELETE", `/v1/workloads/${ns}/web`)).status).toBe(204)
    expect((await api(agent!, "DELETE", `/v1/configs/secrets/${ns}/credentials`)).status).toBe(204)
    expect((await api(agent!, "DELETE", `/v1/configs/configmaps/${ns}/settings`)).status).toBe(204)
    expect(ownedPods()).toEqual([])
    expect((await api(agent!, "GET", "/v1/configs")).json?.configs).toEqual([])
    const stored = JSON.parse(await readFile(join(dataDir, "configs.json"), "utf8"))
    expect(stored).toEqual({ version: 1, objects: [] })
  })
})
