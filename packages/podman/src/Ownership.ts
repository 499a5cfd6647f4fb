/**
 * Ownership labels on everything we create, so that leftovers of a crashed owner can be found and
 * removed, and nothing else is touched. The owner is a process: its pid plus its start time (from
 * /proc), so a reused pid does not look like the old owner (see internal/owner.ts).
 */
/** The owner: the agent's peer id, or a test run's name. */
export const LABEL_OWNER = "io.beemesh.owner"
export const LABEL_OWNER_PID = "io.beemesh.owner-pid"
export const LABEL_OWNER_START = "io.beemesh.owner-start"
export const LABEL_POD = "io.beemesh.pod"
export const LABEL_ROLE = "io.beemesh.role"
/**
 * A member's grace period in seconds, where it is not its pod's (the holder's stop timeout): the
 * apps of a claimed standby pod, whose holder was made before their workload was known, and a
 * container given a stop timeout of its own (`ContainerSpec.stopTimeoutSeconds`).
 */
export const LABEL_STOP_TIMEOUT = "io.beemesh.stop-timeout"
/** Marks resources created by tests and benchmarks. */
export const LABEL_TEST = "io.beemesh.test"
