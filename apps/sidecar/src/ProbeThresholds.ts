/**
 * Kubernetes' threshold rule for a readiness probe (pure): a probe starts not ready, becomes ready
 * after `successThreshold` passes in a row and not ready after `failureThreshold` failures in a
 * row; a single result in between changes nothing.
 */

export interface ProbeResult {
  readonly ok: boolean
  /** Why it failed (or what passed), as the probe saw it. */
  readonly message: string
}

export interface ProbeState {
  readonly ready: boolean
  readonly successes: number
  readonly failures: number
  /** The last failure's message, kept after the probe passes again (for the status). */
  readonly lastFailure: string | undefined
}

export const initialProbeState: ProbeState = {
  ready: false,
  successes: 0,
  failures: 0,
  lastFailure: undefined,
}

export interface Thresholds {
  readonly successThreshold: number
  readonly failureThreshold: number
}

export const observe = (
  state: ProbeState,
  result: ProbeResult,
  thresholds: Thresholds,
): ProbeState => {
  if (result.ok) {
    const successes = state.successes + 1
    return {
      ...state,
      successes,
      failures: 0,
      ready: state.ready || successes >= thresholds.successThreshold,
    }
  }
  const failures = state.failures + 1
  return {
    successes: 0,
    failures,
    ready: state.ready && failures < thresholds.failureThreshold,
    lastFailure: result.message,
  }
}
