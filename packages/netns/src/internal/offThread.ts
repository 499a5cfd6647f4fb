/**
 * Short-lived programs started from a worker thread. libuv starts a child on the thread that asks
 * and holds that thread until the child has exec'd (fork, then a wait for the exec): 6–10 ms on
 * these 2-core machines whatever the caller's heap, every time. An agent creating pods runs four
 * such commands per pod; on its main thread they held its API for tens of milliseconds at a time.
 * From here the main thread only posts a message and reads the answer.
 *
 * One worker serves every caller of the process. It starts with the first command and ends once
 * idle for `IDLE_MS` (its isolate costs ~10 MiB that an idle agent does not need), and it keeps
 * the process alive only while a command runs.
 */
import { SHARE_ENV, Worker } from "node:worker_threads"

export interface SpawnRequest {
  readonly file: string
  readonly args: ReadonlyArray<string>
  /** The whole environment; undefined inherits the process's (shared with the worker). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Written to the program's stdin, which is closed after it; without it stdin is /dev/null. */
  readonly input?: string | undefined
  /** The program gets SIGKILL after this long. */
  readonly timeoutMs: number
}

export interface SpawnOutcome {
  readonly exitCode?: number
  readonly signal?: string
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  /** Set when the program could not be started (ENOENT: not found), or the worker failed. */
  readonly errorCode?: string
  readonly errorMessage?: string
}

/** How long the worker stays after its last command. */
const IDLE_MS = 10_000

// CommonJS, evaluated in the worker (no file to find: the same in sources, builds and bundles).
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads")
const { spawn } = require("node:child_process")
const running = new Map()
parentPort.on("message", (m) => {
  if (m.cancel !== undefined) {
    running.get(m.cancel)?.kill("SIGKILL")
    return
  }
  const stdout = []
  const stderr = []
  let timedOut = false
  let settled = false
  let timer
  const text = (chunks) => Buffer.concat(chunks).toString("utf8")
  const reply = (outcome) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    running.delete(m.id)
    parentPort.postMessage({ id: m.id, stdout: text(stdout), stderr: text(stderr), timedOut, ...outcome })
  }
  let child
  try {
    child = spawn(m.file, m.args, {
      env: m.env,
      stdio: [m.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    })
  } catch (error) {
    reply({ errorCode: error.code ?? "ESPAWN", errorMessage: String(error.message) })
    return
  }
  running.set(m.id, child)
  timer = setTimeout(() => {
    timedOut = true
    child.kill("SIGKILL")
  }, m.timeoutMs)
  child.stdout.on("data", (chunk) => stdout.push(chunk))
  child.stderr.on("data", (chunk) => stderr.push(chunk))
  child.on("error", (error) => {
    // Not started (ENOENT, EACCES): no exit follows. Started: the exit says the rest.
    if (child.pid === undefined) reply({ errorCode: error.code ?? "ESPAWN", errorMessage: String(error.message) })
  })
  child.on("close", (code, signal) =>
    reply({ ...(code === null ? {} : { exitCode: code }), ...(signal === null ? {} : { signal }) }),
  )
  if (m.input !== undefined) {
    // A program that exits without reading all of it closes the pipe: not a failure of ours.
    child.stdin.on("error", () => {})
    child.stdin.end(m.input)
  }
})
`

type Done = (outcome: SpawnOutcome) => void

let worker: Worker | undefined
const pending = new Map<number, Done>()
let nextId = 0
let idleTimer: ReturnType<typeof setTimeout> | undefined

const failAll = (message: string) => {
  const waiting = [...pending.values()]
  pending.clear()
  for (const done of waiting) {
    done({ stdout: "", stderr: "", timedOut: false, errorCode: "EWORKER", errorMessage: message })
  }
}

/** Keeps the process alive while a command runs; lets it go (and the worker, later) when idle. */
const holdWhileBusy = (w: Worker) => {
  if (idleTimer !== undefined) clearTimeout(idleTimer)
  idleTimer = undefined
  if (pending.size > 0) {
    w.ref()
    return
  }
  w.unref()
  idleTimer = setTimeout(() => {
    if (worker === w && pending.size === 0) {
      worker = undefined
      void w.terminate()
    }
  }, IDLE_MS)
  idleTimer.unref()
}

const workerNow = () => {
  if (worker !== undefined) return worker
  const w = new Worker(WORKER_SOURCE, { eval: true, env: SHARE_ENV, name: "beemesh commands" })
  w.on("message", (outcome: SpawnOutcome & { id: number }) => {
    const done = pending.get(outcome.id)
    pending.delete(outcome.id)
    if (worker === w) holdWhileBusy(w)
    const { id: _, ...rest } = outcome
    done?.(rest)
  })
  // Only the current worker's failure concerns what waits: one ended for idleness had nothing left.
  w.on("error", (error) => {
    if (worker !== w) return
    worker = undefined
    failAll(`the command thread failed: ${error.message}`)
  })
  w.on("exit", (code) => {
    if (worker !== w) return
    worker = undefined
    failAll(`the command thread exited (code ${code})`)
  })
  worker = w
  return w
}

/**
 * Runs `request` to its end on the worker. Aborting `signal` kills the program (SIGKILL) and
 * leaves the promise unsettled: the caller has gone.
 */
export const spawnOffThread = (request: SpawnRequest, signal?: AbortSignal) =>
  new Promise<SpawnOutcome>((resolve) => {
    const w = workerNow()
    const id = nextId++
    const onAbort = () => {
      if (!pending.delete(id)) return
      w.postMessage({ cancel: id })
      if (worker === w) holdWhileBusy(w)
    }
    pending.set(id, (outcome) => {
      signal?.removeEventListener("abort", onAbort)
      resolve(outcome)
    })
    holdWhileBusy(w)
    w.postMessage({ id, ...request })
    signal?.addEventListener("abort", onAbort, { once: true })
  })
