/**
 * The catalog-mesh bench's node processes: forked from one bundle, each hosting one node or
 * several, driven over IPC, every one stopped by its PID when the bench ends, fails or is
 * interrupted.
 */
import { type ChildProcess, fork } from "node:child_process"
import type { WriteStream } from "node:fs"
import { readFile } from "node:fs/promises"
import type { FromNode, NodeConfig, ProcessStatus, ToNode } from "./protocol.js"

/**
 * The agent's V8 options (apps/agent `AGENT_NODE_OPTIONS` and `AGENT_V8_FLAGS`, NodeOptions.ts,
 * which its launcher adds however it is started): the node processes run as agents do. Without
 * the last two (as before 2026-12-03) a node kept compiling with TurboFan while idle, which an
 * agent never does (5 % of the nodes' CPU in a profile of 100 idle nodes).
 */
const NODE_FLAGS = ["--max-semi-space-size=1", "--optimize-for-size", "--max-opt=2"]

type Ready = Extract<FromNode, { type: "ready" }>

/** A forked process hosting one or more nodes. */
export interface HostProcess {
  readonly pid: number
  /** Starts a node in this process; resolves with its ready message (its libp2p node started). */
  readonly startNode: (config: NodeConfig, readyTimeoutMs: number) => Promise<Ready>
  readonly request: <T extends FromNode["type"]>(
    message: ToNode & { readonly id: number },
    answer: T,
    timeoutMs: number,
  ) => Promise<Extract<FromNode, { type: T }>>
  /** The process's costs and every hosted node's status. */
  readonly status: (timeoutMs: number) => Promise<ProcessStatus>
  /** Starts or stops the process's event-loop delay monitor (off at start). */
  readonly loopMonitor: (enable: boolean) => void
  readonly exited: Promise<void>
}

const alive = new Set<ChildProcess>()
let nextId = 1

/**
 * Forks one process from `bundle`; its stderr and stdout go to `log`, each line prefixed with
 * `name`. Every message from it goes to `onMessage` too.
 */
export const spawnHost = (
  bundle: string,
  /** V8's compile cache of the bundle, shared by every process: one compiles, the others load. */
  compileCache: string,
  name: string,
  onMessage: (message: FromNode) => void,
  log: WriteStream,
  /** V8 options after the agent's (`--node-flags`, to compare). */
  extraFlags: ReadonlyArray<string> = [],
): HostProcess => {
  const child = fork(bundle, [], {
    execArgv: [...NODE_FLAGS, ...extraFlags],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
    env: { ...process.env, NODE_COMPILE_CACHE: compileCache },
  })
  if (child.pid === undefined) throw new Error(`process ${name} did not start`)
  alive.add(child)
  const prefix = `[${name}] `
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n"))
      if (line !== "") log.write(`${prefix}${line}\n`)
  }
  child.stdout?.on("data", relay)
  child.stderr?.on("data", relay)
  const waiters = new Map<number, (message: FromNode) => void>()
  /** Nodes asked to start and not ready yet, by index. */
  const starting = new Map<number, { resolve: (r: Ready) => void; reject: (e: Error) => void }>()
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      alive.delete(child)
      log.write(`${prefix}exited (code ${code}, signal ${signal})\n`)
      for (const [index, pending] of starting)
        pending.reject(new Error(`node ${index}: its process exited before it was ready`))
      starting.clear()
      resolve()
    }),
  )
  child.on("message", (message: FromNode) => {
    if (message.type === "ready") starting.get(message.index)?.resolve(message)
    else if (message.type === "failed" && message.id === undefined && message.node !== undefined)
      starting
        .get(message.node)
        ?.reject(new Error(`node ${message.node} failed to start: ${message.message}`))
    if ("id" in message && message.id !== undefined) waiters.get(message.id)?.(message)
    onMessage(message)
  })
  const send = (message: ToNode) => {
    if (child.connected) child.send(message)
  }
  const request = <T extends FromNode["type"]>(
    message: ToNode & { readonly id: number },
    answer: T,
    timeoutMs: number,
  ) =>
    new Promise<Extract<FromNode, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(message.id)
        reject(new Error(`process ${name}: no ${answer} answer within ${timeoutMs} ms`))
      }, timeoutMs)
      waiters.set(message.id, (reply) => {
        clearTimeout(timer)
        waiters.delete(message.id)
        if (reply.type === answer) resolve(reply as Extract<FromNode, { type: T }>)
        else if (reply.type === "failed") reject(new Error(`process ${name}: ${reply.message}`))
        else reject(new Error(`process ${name}: ${reply.type} instead of ${answer}`))
      })
      send(message)
    })
  const startNode = (config: NodeConfig, readyTimeoutMs: number) =>
    new Promise<Ready>((resolve, reject) => {
      if (!alive.has(child)) {
        reject(new Error(`node ${config.index}: its process ${name} has exited`))
        return
      }
      const timer = setTimeout(() => {
        starting.delete(config.index)
        reject(new Error(`node ${config.index} not ready within ${readyTimeoutMs} ms`))
      }, readyTimeoutMs)
      starting.set(config.index, {
        resolve: (ready) => {
          clearTimeout(timer)
          starting.delete(config.index)
          resolve(ready)
        },
        reject: (error) => {
          clearTimeout(timer)
          starting.delete(config.index)
          reject(error)
        },
      })
      send({ type: "config", config })
    })
  return {
    pid: child.pid,
    startNode,
    request,
    status: (timeoutMs) =>
      request({ type: "status", id: nextId++ }, "status", timeoutMs).then((m) => m.status),
    loopMonitor: (enable) => send({ type: "loop-monitor", enable }),
    exited,
  }
}

export const newRequestId = () => nextId++

/**
 * Asks every node to stop, waits up to `graceMs`, then kills each one still running by its PID.
 * Answers how many had to be killed.
 */
export const stopAll = async (graceMs: number): Promise<number> => {
  const children = [...alive]
  for (const child of children) if (child.connected) child.send({ type: "stop" } satisfies ToNode)
  const deadline = Date.now() + graceMs
  while (alive.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const left = [...alive]
  for (const child of left) if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
  const killedBy = Date.now() + 5_000
  while (alive.size > 0 && Date.now() < killedBy) await new Promise((r) => setTimeout(r, 50))
  return left.length
}

/** Synchronous last resort (process "exit"): SIGKILL every child still running, by PID. */
export const killAllNow = () => {
  for (const child of alive) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
}

/** Proportional set size of a process, from /proc (what it really costs among shared pages). */
export const pssBytes = async (pid: number): Promise<number | undefined> => {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => undefined)
  const kb = text?.match(/^Pss:\s+(\d+) kB/m)?.[1]
  return kb === undefined ? undefined : Number(kb) * 1024
}
