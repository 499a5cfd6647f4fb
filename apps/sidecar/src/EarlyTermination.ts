/**
 * SIGTERM and SIGINT handled from the first moment the bundle runs: main.ts imports this module
 * first, so it is evaluated before any other module of the bundle, and hands the signals over to
 * `runMain` as it starts.
 *
 * Why: the sidecar is PID 1 of its container, and the kernel drops a signal to a namespace's init
 * whose handler is the default (Node's own SIGTERM handler restores the default and re-raises).
 * Loading the bundle takes 0.1–0.4 s before `runMain` installs its handlers; a SIGTERM in that
 * window (an agent removing a pod whose app crashed as it started) was lost, and the pod waited
 * out its whole grace period before SIGKILL. Nothing has been set up yet then, so the process
 * exits at once, with the shell's code for the signal. A SIGTERM before this module runs (node's
 * start and its parse of the bundle) is still lost; the sidecar container's own stop timeout
 * (`SidecarShutdown.STOP_TIMEOUT_SECONDS`) bounds what that costs.
 */
const exitOnTerm = () => process.exit(143)
const exitOnInt = () => process.exit(130)

process.once("SIGTERM", exitOnTerm)
process.once("SIGINT", exitOnInt)

/**
 * Leaves the signals to the handlers the caller has just installed. After them, not before:
 * removing a signal's last listener stops Node's watcher of it, and a signal that arrived while
 * the bundle loaded, still waiting in that watcher, would be lost with it.
 */
export const handOverSignals = (): void => {
  process.off("SIGTERM", exitOnTerm)
  process.off("SIGINT", exitOnInt)
}
