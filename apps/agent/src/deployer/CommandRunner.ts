/**
 * Runs an exec probe's command (an nsenter argument vector) as a process group of its own, so that
 * a timeout kills whatever it started in the pod too, not only nsenter.
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
      timeout: timeoutMs,
      killSignal: "SIGKILL",
      cancelSignal: signal,
    })
    const killGroup = () => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL")
        } catch {
          // The group is gone already.
        }
      }
    }
    signal.addEventListener("abort", killGroup)
    const result = await child
    if (result.timedOut || signal.aborted) killGroup()
    return {
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      output: String(result.all ?? ""),
    }
  })
