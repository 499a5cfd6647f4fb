/**
 * How fast a sidecar goes once told to stop, and so how long the agent waits for it. After SIGTERM
 * or SIGINT the sidecar exits within `HARD_EXIT_MS`, whatever a release step is doing. The agent
 * gives the sidecar container `STOP_TIMEOUT_SECONDS` (that bound and a margin) rather than the
 * pod's grace period: node, as the init of the container's PID namespace, loses a SIGTERM that
 * comes while it starts (its own handler, in place before the sidecar's code runs, restores the
 * default action and raises the signal again, which the kernel drops for an init), and a sidecar
 * that lost its SIGTERM would otherwise hold its pod's removal for the whole grace period.
 */

/** After a stop signal the sidecar exits by this time (ms), even if a release step hangs. */
export const HARD_EXIT_MS = 1900

/** The sidecar container's stop timeout: SIGKILL this long after SIGTERM if it still runs. */
export const STOP_TIMEOUT_SECONDS = 3
