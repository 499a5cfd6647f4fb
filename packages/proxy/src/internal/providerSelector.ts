/**
 * Chooses the order in which providers of a service are tried: round-robin over the healthy ones
 * to spread load, and providers that failed recently last (still tried, in case all are "failed").
 * Pure bookkeeping, no I/O; time comes in as an argument.
 */
export interface ProviderSelectorOptions {
  /** How long a failed provider is sent to the back of the line. */
  readonly failureCooldownMs: number
}

export class ProviderSelector {
  private readonly cursor = new Map<string, number>()
  private readonly failedUntil = new Map<string, number>()

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
      const until = this.failedUntil.get(key(provider))
      if (until !== undefined && until > now) cooling.push(provider)
      else healthy.push(provider)
    }
    return healthy.concat(cooling)
  }

  markFailed(key: string, now: number): void {
    this.failedUntil.set(key, now + this.options.failureCooldownMs)
  }

  markHealthy(key: string): void {
    this.failedUntil.delete(key)
  }
}
