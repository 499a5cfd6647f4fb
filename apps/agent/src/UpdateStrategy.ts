/**
 * How a Deployment or a StatefulSet moves to a new version (pure): the manifest's
 * `spec.strategy` / `spec.updateStrategy` / `spec.progressDeadlineSeconds` read into one policy
 * with Kubernetes' defaults, and the surge and unavailability bounds it gives for a replica count.
 */
import type { ReplicatedSpecInput } from "./ManifestSchema"

/** An absolute count, or a percentage of the replicas such as "25%". */
export type IntOrPercent = number | string

export interface UpdatePolicy {
  /**
   * Deployment: RollingUpdate (new replicas ready before old ones go, within maxSurge and
   * maxUnavailable) or Recreate (all old ones go, then the new ones come). StatefulSet:
   * RollingUpdate (one ordinal at a time, highest first, each ready before the next) or OnDelete
   * (a replica takes the new version only when its pod is gone).
   */
  readonly type: "RollingUpdate" | "Recreate" | "OnDelete"
  readonly maxSurge: IntOrPercent
  readonly maxUnavailable: IntOrPercent
  /** A rollout that makes no progress for this long is reported as failed (Progressing=False). */
  readonly progressDeadlineSeconds: number
}

/** Kubernetes' defaults. */
export const defaultUpdatePolicy: UpdatePolicy = {
  type: "RollingUpdate",
  maxSurge: "25%",
  maxUnavailable: "25%",
  progressDeadlineSeconds: 600,
}

const percentOf = (value: IntOrPercent) =>
  typeof value === "number" ? undefined : Number(value.slice(0, -1))

const isZero = (value: IntOrPercent) => value === 0 || percentOf(value) === 0

/** The policy of a Deployment or a StatefulSet manifest, or the reason it is refused. */
export const readUpdatePolicy = (
  kind: "Deployment" | "StatefulSet",
  spec: ReplicatedSpecInput,
): UpdatePolicy | string => {
  const progressDeadlineSeconds =
    spec.progressDeadlineSeconds ?? defaultUpdatePolicy.progressDeadlineSeconds
  if (kind === "StatefulSet") {
    if (spec.strategy !== undefined)
      return "spec.strategy is a Deployment field; a StatefulSet uses spec.updateStrategy"
    if (spec.progressDeadlineSeconds !== undefined)
      return "spec.progressDeadlineSeconds is a Deployment field; remove it from the StatefulSet"
    // partition and maxUnavailable are refused by the Schema (ManifestSchema.ts).
    const rolling = spec.updateStrategy?.rollingUpdate
    const type = spec.updateStrategy?.type ?? "RollingUpdate"
    if (type === "OnDelete" && rolling !== undefined)
      return "spec.updateStrategy.rollingUpdate may not be given when the type is OnDelete"
    return { ...defaultUpdatePolicy, type, progressDeadlineSeconds }
  }
  if (spec.updateStrategy !== undefined)
    return "spec.updateStrategy is a StatefulSet field; a Deployment uses spec.strategy"
  const type = spec.strategy?.type ?? "RollingUpdate"
  const rolling = spec.strategy?.rollingUpdate
  if (type === "Recreate") {
    if (rolling !== undefined)
      return "spec.strategy.rollingUpdate may not be given when spec.strategy.type is Recreate"
    return { ...defaultUpdatePolicy, type, progressDeadlineSeconds }
  }
  const maxSurge = rolling?.maxSurge ?? defaultUpdatePolicy.maxSurge
  const maxUnavailable = rolling?.maxUnavailable ?? defaultUpdatePolicy.maxUnavailable
  if ((percentOf(maxUnavailable) ?? 0) > 100)
    return `spec.strategy.rollingUpdate.maxUnavailable is ${maxUnavailable}; it may not be more than 100%`
  if (isZero(maxSurge) && isZero(maxUnavailable))
    return "spec.strategy.rollingUpdate: maxSurge and maxUnavailable may not both be 0; allow one extra replica (maxSurge: 1) or one missing (maxUnavailable: 1)"
  return { type, maxSurge, maxUnavailable, progressDeadlineSeconds }
}

const resolve = (value: IntOrPercent, replicas: number, round: (x: number) => number) => {
  const percent = percentOf(value)
  return percent === undefined ? value : round((percent * replicas) / 100)
}

/**
 * How many replicas above `replicas` may exist (percentages round up) and how many below it may
 * be unavailable (round down) during a rolling update; never both 0, as in Kubernetes.
 */
export const rollingBounds = (policy: UpdatePolicy, replicas: number) => {
  const surge = resolve(policy.maxSurge, replicas, Math.ceil) as number
  const unavailable = resolve(policy.maxUnavailable, replicas, Math.floor) as number
  return { surge, unavailable: surge === 0 && unavailable === 0 ? 1 : unavailable }
}
