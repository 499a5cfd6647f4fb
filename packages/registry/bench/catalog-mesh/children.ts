/**
 * The catalog-mesh bench's node processes: forked from one bundle, driven over IPC, every one
 * stopped by its PID when the bench ends, fails or is interrupted.
 */
import { type ChildProcess, fork } from "node:child_process"
import type { WriteStream } from "node:fs"
import { readFile } from "node:fs/promises"
import type { FromNode, NodeConfig, NodeStatus, ToNode } from "./protocol.js"

/** The agent's V8 options (apps/agent NodeOptions.ts): the node processes run as agents do. */
const NODE_FLAGS = ["--max-semi-space-size=1"]

export interface NodeProcess {
  readonly index: number
  readonly pid: number
  /** Resolves with the node's ready message (the libp2p node started). */
  readonly ready: Promise<Extract<FromNode, { type: "ready" }>>
  readonly request: <T extends FromNode["type"]>(
    message: ToNode & { readonly id: number },
    answer: T,
    timeoutMs: number,
  ) => Promise<Extract<FromNode, { type: T }>>
  readonly status: (timeoutMs: number) => Promise<NodeStatus>
  readonly send: (message: ToNode) => void
  readonly exited: Promise<void>
}

const alive = new Set<ChildProcess>()
let nextId = 1

/** Forks one node from `bundle`; its stderr and stdout go to `log`, prefixed with its index. */
export const spawnNode = (
  bundle: string,
  /** V8's compile cache of the bundle, shared by every node: one compiles, the others load. */
  compileCache: string,
  config: NodeConfig,
  onMessage: (index: number, message: FromNode) => void,
  log: WriteStream,
  readyTimeoutMs: number,
): NodeProcess => {
  const child = fork(bundle, [], {
    execArgv: NODE_FLAGS,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
    env: { ...process.env, NODE_COMPILE_CACHE: compileCache },
  })
  if (child.pid === undefined) throw new Error(`node ${config.index} did not start`)
  alive.add(child)
  const prefix = `[${config.index}] `
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n"))
      if (line !== "") log.write(`${prefix}${line}\n`)
  }
  child.stdout?.on("data", relay)
  child.stderr?.on("data", relay)
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      alive.delete(child)
      log.write(`${prefix}exited (code ${code}, signal ${signal})\n`)
      resolve()
    }),
  )
  const waiters = new Map<number, (message: FromNode) => void>()
  child.on("message", (message: FromNode) => {
    if ("id" in message && message.id !== undefined) waiters.get(message.id)?.(message)
    onMessage(config.index, message)
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
        reject(new Error(`node ${config.index}: no ${answer} answer within ${timeoutMs} ms`))
      }, timeoutMs)
      waiters.set(message.id, (reply) => {
        clearTimeout(timer)
        waiters.delete(message.id)
        if (reply.type === answer) resolve(reply as Extract<FromNode, { type: T }>)
        else if (reply.type === "failed")
          reject(new Error(`node ${config.index}: ${reply.message}`))
        else reject(new Error(`node ${config.index}: ${reply.type} instead of ${answer}`))
      })
      send(message)
    })
  const ready = new Promise<Extract<FromNode, { type: "ready" }>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node ${config.index} not ready within ${readyTimeoutMs} ms`)),
      readyTimeoutMs,
    )
    child.on("message", (message: FromNode) => {
      if (message.type === "ready") {
        clearTimeout(timer)
        resolve(message)
      } else if (message.type === "failed" && message.id === undefined) {
        clearTimeout(timer)
        reject(new Error(`node ${config.index} failed to start: ${message.message}`))
      }
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`node ${config.index} exited before it was ready`))
    })
  })
  send({ type: "config", config })
  return {
    index: config.index,
    pid: child.pid,
    ready,
    request,
    status: (timeoutMs) =>
      request({ type: "status", id: nextId++ }, "status", timeoutMs).then((m) => m.status),
    send,
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
