/**
 * Counting listeners on a simulated host (TCP and UDP, one port, each of the host's addresses),
 * for tests that prove "blocked" against a listener they started themselves on another host.
 * The process lives in the host's namespace, so teardown's sweep of that namespace also ends it.
 */
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { inNetns } from "./exec"
import { stopPid } from "./processes"
import { waitFor } from "./wait"

const LISTEN = join(dirname(fileURLToPath(import.meta.url)), "listen.mjs")

export interface ListenerHit {
  readonly protocol: "tcp" | "udp"
  /** The listener's address that was reached. */
  readonly address: string
  /** Where the connection or datagram came from. */
  readonly from: string
}

export interface CountingListener {
  readonly port: number
  /** Every connection (TCP) and datagram (UDP) received so far. */
  readonly hits: () => ReadonlyArray<ListenerHit>
  readonly stop: () => Promise<void>
}

/** Starts listeners on `addresses` inside `netns`; resolves once all of them are bound. */
export const startCountingListener = async (
  netns: string,
  addresses: ReadonlyArray<string>,
): Promise<CountingListener> => {
  const [command, ...args] = inNetns(netns, [process.execPath, LISTEN, ...addresses])
  const child = spawn(command!, args, { stdio: ["ignore", "pipe", "pipe"] })
  const hits: Array<ListenerHit> = []
  let port: number | undefined
  let output = ""
  let exited: string | undefined
  child.stdout.setEncoding("utf8")
  child.stdout.on("data", (chunk: string) => {
    output += chunk
    const lines = output.split("\n")
    output = lines.pop() ?? ""
    for (const line of lines) {
      const listening = /^LISTENING (\d+)$/.exec(line)
      if (listening !== null) port = Number(listening[1])
      const hit = /^HIT (tcp|udp) (\S+) (\S+)$/.exec(line)
      if (hit !== null)
        hits.push({ protocol: hit[1] as "tcp" | "udp", address: hit[2]!, from: hit[3]! })
    }
  })
  let stderr = ""
  child.stderr.setEncoding("utf8")
  child.stderr.on("data", (chunk: string) => (stderr += chunk))
  child.on("exit", (code, signal) => (exited = `exited (${code ?? signal}): ${stderr.slice(-500)}`))
  const bound = await waitFor(
    `listeners on ${addresses.join(", ")} in ${netns}`,
    () => {
      if (exited !== undefined) throw new Error(`the listener ${exited}`)
      return port
    },
    10_000,
    50,
  ).catch(async (error) => {
    if (child.pid !== undefined) await stopPid(child.pid, 0)
    throw error
  })
  return {
    port: bound,
    hits: () => [...hits],
    stop: async () => {
      if (child.pid !== undefined && exited === undefined) await stopPid(child.pid, 2_000)
    },
  }
}
