/**
 * A monotonic clock in milliseconds for the per-connection timings (time to connect), read from
 * `process.hrtime` rather than the global `performance`: Node loads `node:perf_hooks` (and its
 * timerify and performance modules) the first time that global is read, and the proxy's first
 * read was on a sidecar's first connection, a few milliseconds on the way of its first answer.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6
