/**
 * The agent of a simulated host: the built `beemesh-agent` run inside the host's namespace with its
 * API on that namespace's loopback (where its pods reach it through slirp4netns), libp2p and the
 * sidecars' published ports on the host's address. The API is reached from any namespace through
 * a unix-socket relay the harness runs next to it.
 */
import { existsSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { AGENT_NODE_OPTIONS } from "../../../src/NodeOptions"
import { ProcessExited } from "./errors"
import { inNetns } from "./exec"
import { asUser, type HostUser } from "./HostUser"
import { isAlive, readPid, startDetached, stopPid } from "./processes"
import { waitFor } from "./wait"

const HERE = dirname(fileURLToPath(import.meta.url))
export const AGENT_BUNDLE = join(HERE, "../../../dist/agent.mjs")
const RELAY = join(HERE, "relay.mjs")
/** The agent's API port on its host's loopback; every host has its own loopback. */
export const API_PORT = 8080
/** The agent's libp2p port on its host's address. */
export const P2P_PORT = 4001

export interface HostAgentPaths {
  readonly dataDir: string
  readonly apiSocket: string
  readonly pidFile: string
  readonly logFile: string
  readonly relayPidFile: string
  readonly relayLogFile: string
}

export const hostAgentPaths = (hostDir: string): HostAgentPaths => ({
  dataDir: join(hostDir, "agent"),
  apiSocket: join(hostDir, "api.sock"),
  pidFile: join(hostDir, "agent.pid"),
  logFile: join(hostDir, "agent.log"),
  relayPidFile: join(hostDir, "relay.pid"),
  relayLogFile: join(hostDir, "relay.log"),
})

export interface ApiResponse {
  readonly status: number
  readonly text: string
  readonly json: Record<string, unknown> | undefined
}

/** One HTTP request to an agent's API through its relay socket. */
export const apiRequest = (
  socketPath: string,
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: string; readonly timeoutMs?: number } = {},
) =>
  new Promise<ApiResponse>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: {
          host: `127.0.0.1:${API_PORT}`,
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(options.body === undefined
            ? {}
            : { "content-length": Buffer.byteLength(options.body) }),
        },
        timeout: options.timeoutMs ?? 120_000,
      },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk) => (text += chunk))
        response.on("end", () => {
          let json: Record<string, unknown> | undefined
          try {
            json = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>)
          } catch {
            json = undefined
          }
          resolve({ status: response.statusCode ?? 0, text, json })
        })
        response.on("error", reject)
      },
    )
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in time`)))
    req.on("error", reject)
    req.end(options.body)
  })

export interface AgentStart {
  readonly netns: string
  readonly address: string
  /** The host's Podman service; without one the agent starts its own (rootless hosts). */
  readonly podmanSocket?: string
  readonly bootstrap: ReadonlyArray<string>
  /** The run's mesh key file (every host of a run holds the same key). */
  readonly meshKeyFile: string
  /** The run's mesh authority (peer id) and this agent's certificate from it. */
  readonly meshAuthority: string
  readonly certificateFile: string
  readonly sidecarImage?: string
  /** The host is behind a NAT: relays (agent multiaddrs) it and its sidecars hold slots at. */
  readonly relays?: ReadonlyArray<string>
  /** Runs the agent as this user (a rootless host) instead of root. */
  readonly runAs?: HostUser
}

export interface AgentIdentity {
  readonly peerId: string
  readonly multiaddr: string
  readonly token: string
}

const logTail = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").slice(-1500) : "")

/** Starts the relay and the agent; resolves once /health answers through the relay. */
export const startHostAgent = async (
  paths: HostAgentPaths,
  start: AgentStart,
): Promise<AgentIdentity> => {
  const relay = startDetached({
    argv: inNetns(start.netns, [
      process.execPath,
      RELAY,
      paths.apiSocket,
      "127.0.0.1",
      String(API_PORT),
    ]),
    logFile: paths.relayLogFile,
    pidFile: paths.relayPidFile,
  })
  const agent = startDetached({
    argv: inNetns(start.netns, [
      ...(start.runAs === undefined ? [] : asUser(start.runAs)),
      process.execPath,
      ...AGENT_NODE_OPTIONS,
      AGENT_BUNDLE,
      "run",
      "--data-dir",
      paths.dataDir,
      "--api",
      `127.0.0.1:${API_PORT}`,
      "--listen",
      `/ip4/${start.address}/tcp/${P2P_PORT}`,
      "--advertise-host",
      start.address,
      ...(start.podmanSocket === undefined ? [] : ["--podman-socket", start.podmanSocket]),
      "--mesh-key",
      start.meshKeyFile,
      "--mesh-authority",
      start.meshAuthority,
      "--certificate",
      start.certificateFile,
      ...start.bootstrap.flatMap((address) => ["--bootstrap", address]),
      ...(start.relays ?? []).flatMap((address) => ["--relay", address]),
      ...(start.sidecarImage === undefined ? [] : ["--sidecar-image", start.sidecarImage]),
    ]),
    logFile: paths.logFile,
    pidFile: paths.pidFile,
    ...(start.runAs === undefined ? {} : { env: start.runAs.env }),
  })
  const health = await waitFor(
    `the agent of ${start.address} to answer /health (log: ${paths.logFile})`,
    async () => {
      if (!isAlive(agent))
        throw new ProcessExited(
          `the agent of ${start.address}`,
          paths.logFile,
          logTail(paths.logFile),
        )
      if (!isAlive(relay))
        throw new ProcessExited(
          `the API relay of ${start.address}`,
          paths.relayLogFile,
          logTail(paths.relayLogFile),
        )
      const response = await apiRequest(paths.apiSocket, "GET", "/health", { timeoutMs: 2_000 })
      return response.status === 200 ? response.json : undefined
    },
    60_000,
  ).catch((error) => {
    if (error instanceof ProcessExited) throw error
    throw new Error(`${(error as Error).message}\n${logTail(paths.logFile)}`)
  })
  const peerId = String(health.peerId)
  return {
    peerId,
    multiaddr: `/ip4/${start.address}/tcp/${P2P_PORT}/p2p/${peerId}`,
    token: readFileSync(join(paths.dataDir, "operator-token"), "utf8").trim(),
  }
}

/** Stops the agent (SIGTERM, or SIGKILL with graceMs 0) and its relay. */
export const stopHostAgent = async (paths: HostAgentPaths, graceMs = 10_000) => {
  const agent = readPid(paths.pidFile)
  if (agent !== undefined) await stopPid(agent, graceMs)
  const relay = readPid(paths.relayPidFile)
  if (relay !== undefined) await stopPid(relay, 2_000)
}
