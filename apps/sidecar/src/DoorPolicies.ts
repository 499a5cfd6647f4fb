/**
 * The NetworkPolicies the sidecar's door enforces: the newest set (by version) the agent handed
 * over with a lease. Leases of one agent arrive in order, but a retried request may answer late:
 * an older set never replaces a newer one. `policies()` returns the same array until a newer set
 * arrives, so the door's decision cache survives renewals that change nothing.
 */
import type { NetworkPolicy } from "@beemesh/contract"
import type { WorkloadClaims } from "@beemesh/p2p"
import { Context, Effect, Layer } from "effect"

export class PolicyHolder {
  private current: NetworkPolicy.PolicySet | undefined
  private me: WorkloadClaims | undefined
  private meText = ""

  /** This pod as its own certificate names it (the target side of every decision). */
  self(): WorkloadClaims | undefined {
    return this.me
  }

  /** Keeps the claims; the same object while renewals name the same workload and labels. */
  setSelf(claims: WorkloadClaims | undefined): void {
    const text = JSON.stringify(claims ?? null)
    if (text === this.meText) return
    this.meText = text
    this.me = claims
  }

  /** Keeps `set` if it is newer than the one held; true when it replaced it. */
  offer(set: NetworkPolicy.PolicySet | undefined): boolean {
    if (set === undefined) return false
    if (this.current !== undefined && set.version <= this.current.version) return false
    this.current = set
    return true
  }

  policies(): ReadonlyArray<NetworkPolicy.Policy> {
    return this.current?.policies ?? noPolicies
  }

  version(): number {
    return this.current?.version ?? 0
  }
}

const noPolicies: ReadonlyArray<NetworkPolicy.Policy> = []

export class DoorPolicies extends Context.Service<DoorPolicies, PolicyHolder>()(
  "@beemesh/sidecar/DoorPolicies",
) {
  static readonly layer = Layer.effect(
    DoorPolicies,
    Effect.sync(() => new PolicyHolder()),
  )
}
