/** The exit codes of every Beemesh process. */
export const ExitCode = {
  /** Done, or stopped by a signal after a graceful shutdown. */
  ok: 0,
  /** Failed at run time (a port taken, a peer refusing, a release step hanging …). */
  failure: 1,
  /** Bad configuration or usage: nothing was started. */
  usage: 2,
} as const
