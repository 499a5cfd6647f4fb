/**
 * Runs an exec probe's command (an nsenter argument vector) as a process group of its own and
 * kills the whole group at the timeout: whatever the command started in the pod dies with it, and
 * a child that keeps the output pipe open cannot hold the probe past its timeout.
 */
import { Effect } from "effect"
import { execa } from "execa"
import type { CommandRunner } from "./ReplicaProbes"

const OUTPUT_LIMIT = 4096

export const runCommand: CommandRunner = ([file, ...args], timeoutMs) =>
  Effect.promise(async (signal) => {
    const child = execa(file, args, {
      reject: false,
      detached: true,
      stdin: "ignore",
      all: true,
      maxBuffer: OUTPUT_LIMIT,
    })
    const killGroup = () => {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // The group is gone already.
      }
    }
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup()
    }, timeoutMs)
    signal.addEventListener("abort", killGroup)
    const result = await child
    clearTimeout(timer)
    signal.removeEventListener("abort", killGroup)
    return {
      exitCode: timedOut ? undefined : result.exitCode,
      timedOut,
      output: String(result.all ?? ""),
    }
  })
