/**
 * How a sidecar benchmark runs: `main`, then its child processes (the sidecars it started) are
 * stopped, whether it finished, failed, or was interrupted (Ctrl-C, a kill of the bench).
 */
import type { ChildProcess } from "node:child_process"

export const runBench = (
  main: () => Promise<void>,
  children: ReadonlyArray<ChildProcess>,
): void => {
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM")
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(signal, () => {
      cleanup()
      process.exit(130)
    })
  main().then(
    () => {
      cleanup()
      setTimeout(() => process.exit(0), 500).unref()
    },
    (e: unknown) => {
      console.error(e)
      cleanup()
      process.exit(1)
    },
  )
}
