/** A packet capture on the simulated bridge (tcpdump in the switch namespace), read after stopping. */
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { inNetns, must } from "./exec"
import { BRIDGE } from "./Network"
import { isAlive, startDetached, stopPid } from "./processes"
import { waitFor } from "./wait"

export interface CaptureResult {
  readonly file: string
  /** The raw capture (frames as they crossed the bridge). */
  readonly bytes: Buffer
  /** tcpdump's one-line summary of every packet (`-nn -q`). */
  readonly summary: string
}

export interface Capture {
  readonly stop: () => Promise<CaptureResult>
}

/** Starts capturing every frame the bridge forwards (the bridge is put in promiscuous mode). */
export const startCapture = async (
  switchNetns: string,
  dir: string,
  name: string,
): Promise<Capture> => {
  const file = join(dir, `${name}.pcap`)
  const logFile = join(dir, `${name}.tcpdump.log`)
  const pid = startDetached({
    argv: inNetns(switchNetns, [
      "tcpdump",
      "-Z",
      "root",
      "-i",
      BRIDGE,
      "-nn",
      // Without it libpcap hands packets over in blocks (up to a second late): a connection that
      // ends at once would be over, and the capture stopped, before its packets reach the file.
      "--immediate-mode",
      "-U",
      "-s",
      "0",
      "-w",
      file,
    ]),
    logFile,
    pidFile: join(dir, `${name}.tcpdump.pid`),
  })
  await waitFor(
    `tcpdump on ${BRIDGE} to start (log: ${logFile})`,
    () => {
      const log = readFileSync(logFile, "utf8")
      if (!isAlive(pid)) throw new Error(`tcpdump exited: ${log}`)
      return /listening on/.test(log) ? true : undefined
    },
    10_000,
    50,
  )
  return {
    stop: async () => {
      // Packets that just crossed the bridge may still be on their way to the file: stop once it
      // has not grown for two polls in a row, or after a second (the mesh's own traffic may never
      // pause).
      let last = -1
      await waitFor(
        `the capture ${file} to settle`,
        () => {
          const size = statSync(file).size
          const settled = size === last
          last = size
          return settled ? true : undefined
        },
        1_000,
        100,
      ).catch(() => undefined)
      // SIGINT makes tcpdump flush and close the file.
      process.kill(pid, "SIGINT")
      await waitFor("tcpdump to exit", () => (isAlive(pid) ? undefined : true), 5_000, 50).catch(
        () => stopPid(pid, 0),
      )
      const summary = await must(["tcpdump", "-r", file, "-nn", "-q"], { timeoutMs: 60_000 })
      return { file, bytes: readFileSync(file), summary }
    },
  }
}
