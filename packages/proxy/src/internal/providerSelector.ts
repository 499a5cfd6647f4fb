/**
 * Chooses the order in which providers of a service are tried: round-robin over the healthy ones
 * to spread load, and providers that failed recently last (still tried, in case all are "failed").
 * A provider that keeps failing is set aside for longer each time (the cooldown doubles, up to a
 * cap), so a dead provider that lingers in the registry costs fewer and fewer calls a retry.
 * Pure bookkeeping, no I/O; time comes in as an argument.
 */
export interface ProviderSelectorOptions {
  /** How long a provider that failed once is sent to the back of the line. */
  readonly failureCooldownMs: number
  /** The longest cooldown, reached by doubling on failures in a row (default: no doubling). */
  readonly maxFailureCooldownMs?: number
}

interface Failure {
  readonly until: number
  /** Failures in a row, without a success between them. */
  readonly count: number
}

export class ProviderSelector {
  private readonly cursor = new Map<string, number>()
  private readonly failures = new Map<string, Failure>()

  constructor(private readonly options: ProviderSelectorOptions) {}

  /** The providers in try order. `key` identifies a provider (its peer id). */
  order<P>(service: string, providers: ReadonlyArray<P>, key: (p: P) => string, now: number): P[] {
    if (providers.length === 0) return []
    const start = (this.cursor.get(service) ?? 0) % providers.length
    this.cursor.set(service, start + 1)
    const rotated = providers.slice(start).concat(providers.slice(0, start))
    const healthy: P[] = []
    const cooling: P[] = []
    for (const provider of rotated) {
      if (this.isCooling(key(provider), now)) cooling.push(provider)
      else healthy.push(provider)
    }
    return healthy.concat(cooling)
  }

  /** Whether the provider failed and its cooldown has not ended yet. */
  isCooling(key: string, now: number): boolean {
    const failure = this.failures.get(key)
    return failure !== undefined && failure.until > now
  }

  markFailed(key: string, now: number): void {
    const previous = this.failures.get(key)
    // Concurrent callers that all failed on the same dead provider count as one failure.
    if (previous !== undefined && previous.until > now) return
    const count = (previous?.count ?? 0) + 1
    const max = Math.max(this.options.maxFailureCooldownMs ?? 0, this.options.failureCooldownMs)
    const cooldown = Math.min(this.options.failureCooldownMs * 2 ** (count - 1), max)
    this.failures.set(key, { until: now + cooldown, count })
  }

  markHealthy(key: string): void {
    this.failures.delete(key)
  }
}
