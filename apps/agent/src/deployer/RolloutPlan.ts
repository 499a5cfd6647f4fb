/**
 * What one step of an update does (pure), as Kubernetes' controllers decide it.
 *
 * Deployment, RollingUpdate: new replicas are added while the total stays within
 * `replicas + maxSurge`; old ones are removed while at least `replicas - maxUnavailable` replicas
 * are available, unavailable old ones first. A new replica that never becomes available therefore
 * never lets an old available one go (unless maxUnavailable allows it). Recreate: every old
 * replica goes, then the new ones come. StatefulSet, RollingUpdate: when every replica is
 * available, the highest ordinal not yet updated is replaced; OnDelete: nothing is replaced.
 */
import { rollingBounds, type UpdatePolicy } from "../UpdateStrategy"

export interface Slot {
  readonly pod: string
  /** Its index in the workload (`web-3` → 3), which orders removals. */
  readonly index: number
  readonly available: boolean
}

export interface DeploymentPlan {
  /** How many new replicas to create. */
  readonly create: number
  /** Pods to remove. */
  readonly remove: ReadonlyArray<string>
}

/** Removal order when there are too many: unavailable first, then the highest index. */
const surplus = (slots: ReadonlyArray<Slot>, count: number) =>
  [...slots]
    .sort((a, b) => Number(a.available) - Number(b.available) || b.index - a.index)
    .slice(0, Math.max(0, count))
    .map((s) => s.pod)

/** Scaling without an update: up to `replicas` or down to it. */
export const planScale = (replicas: number, current: ReadonlyArray<Slot>): DeploymentPlan => ({
  create: Math.max(0, replicas - current.length),
  remove: surplus(current, current.length - replicas),
})

export const planDeployment = (
  policy: UpdatePolicy,
  replicas: number,
  current: ReadonlyArray<Slot>,
  old: ReadonlyArray<Slot>,
): DeploymentPlan => {
  if (old.length === 0) return planScale(replicas, current)
  if (policy.type === "Recreate")
    return {
      create: 0,
      remove: [...old.map((s) => s.pod), ...surplus(current, current.length - replicas)],
    }
  const { surge, unavailable } = rollingBounds(policy, replicas)
  const total = current.length + old.length
  const extraNew = surplus(current, current.length - replicas)
  const create = Math.max(0, Math.min(replicas - current.length, replicas + surge - total))
  // Scaled up: the new replicas are not available yet; old ones are looked at next step.
  if (create > 0) return { create, remove: extraNew }
  const minAvailable = Math.max(0, replicas - unavailable)
  const newUnavailable = current.filter((s) => !s.available).length
  const maxScaledDown = total - minAvailable - newUnavailable
  if (maxScaledDown <= 0) return { create: 0, remove: extraNew }
  // Unavailable old replicas serve nobody: they go first, within the same bound.
  const unhealthy = old.filter((s) => !s.available).slice(0, maxScaledDown)
  const available = [...current, ...old].filter((s) => s.available).length
  const healthyBudget = Math.min(maxScaledDown - unhealthy.length, available - minAvailable)
  const healthy = old
    .filter((s) => s.available)
    .sort((a, b) => b.index - a.index)
    .slice(0, Math.max(0, healthyBudget))
  return {
    create: 0,
    remove: [...unhealthy.map((s) => s.pod), ...healthy.map((s) => s.pod), ...extraNew],
  }
}

export interface OrdinalSlot extends Slot {
  /** It runs the current revision. */
  readonly current: boolean
}

/** The pod of the StatefulSet to replace now, if any. */
export const planStatefulSet = (
  policy: UpdatePolicy,
  ordinals: ReadonlyArray<OrdinalSlot>,
): string | undefined => {
  if (policy.type === "OnDelete") return undefined
  if (ordinals.some((s) => !s.available)) return undefined
  return [...ordinals].filter((s) => !s.current).sort((a, b) => b.index - a.index)[0]?.pod
}
