/**
 * Network policy as the agent hands it to sidecars and as the door of every sidecar evaluates it:
 * the ingress part of Kubernetes' `networking.k8s.io/v1` NetworkPolicy, reduced to what a mesh of
 * certified sidecars can check (pod labels and namespaces of the caller, the target's port).
 *
 * Semantics are Kubernetes': a pod selected by at least one policy of its namespace admits only
 * what some selecting policy's rule admits; a pod selected by none falls back to the mesh default,
 * which admits callers of the same namespace only. Namespaces carry one label,
 * `kubernetes.io/metadata.name` (their name): `namespaceSelector` can match on that alone.
 */
import { Schema } from "effect"

/** The one label a namespace has (Kubernetes sets it on every namespace too). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

export const SelectorOperator = Schema.Literals(["In", "NotIn", "Exists", "DoesNotExist"])
export type SelectorOperator = typeof SelectorOperator.Type

export const SelectorRequirement = Schema.Struct({
  key: Schema.String,
  operator: SelectorOperator,
  values: Schema.optionalKey(Schema.Array(Schema.String)),
})
export type SelectorRequirement = typeof SelectorRequirement.Type

/** A Kubernetes label selector; an empty one selects everything. */
export const LabelSelector = Schema.Struct({
  matchLabels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  matchExpressions: Schema.optionalKey(Schema.Array(SelectorRequirement)),
})
export type LabelSelector = typeof LabelSelector.Type

/** One source of a rule: pods of the policy's namespace, pods of matching namespaces, or both. */
export const PolicyPeer = Schema.Struct({
  podSelector: Schema.optionalKey(LabelSelector),
  namespaceSelector: Schema.optionalKey(LabelSelector),
})
export type PolicyPeer = typeof PolicyPeer.Type

/** A port of the selected pod: its number or the container port's name (TCP only). */
export const PolicyPort = Schema.Struct({
  port: Schema.optionalKey(Schema.Union([Schema.Int, Schema.String])),
})
export type PolicyPort = typeof PolicyPort.Type

/** Absent or empty `from`: every caller; absent or empty `ports`: every port. */
export const IngressRule = Schema.Struct({
  from: Schema.optionalKey(Schema.Array(PolicyPeer)),
  ports: Schema.optionalKey(Schema.Array(PolicyPort)),
})
export type IngressRule = typeof IngressRule.Type

/** One NetworkPolicy of a namespace (ingress only). */
export const Policy = Schema.Struct({
  namespace: Schema.String,
  name: Schema.String,
  podSelector: LabelSelector,
  ingress: Schema.Array(IngressRule),
})
export type Policy = typeof Policy.Type

/** Every policy of one namespace, versioned so that holders can tell a newer set. */
export const PolicySet = Schema.Struct({
  namespace: Schema.String,
  /** Milliseconds since the epoch of the last change; a newer set has a larger one. */
  version: Schema.Int,
  policies: Schema.Array(Policy),
})
export type PolicySet = typeof PolicySet.Type

/** The pod a stream is for: its namespace, labels, and the container port asked for. */
export interface Target {
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
  readonly port: number
  /** The container port's name, when it has one (named ports in policies match it). */
  readonly portName?: string
}

/** Who calls: the workload a sidecar certificate names. */
export interface Caller {
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
}

export type Decision =
  | { readonly allowed: true; readonly by: "default" | "policy"; readonly policy?: string }
  | { readonly allowed: false; readonly reason: "namespace" | "policy"; readonly message: string }

const requirementMatches = (
  requirement: SelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean => {
  const has = Object.hasOwn(labels, requirement.key)
  const values = requirement.values ?? []
  switch (requirement.operator) {
    case "In":
      return has && values.includes(labels[requirement.key]!)
    case "NotIn":
      return !has || !values.includes(labels[requirement.key]!)
    case "Exists":
      return has
    case "DoesNotExist":
      return !has
  }
}

/** Whether a label selector matches a set of labels (an empty selector matches all). */
export const selectorMatches = (
  selector: LabelSelector,
  labels: Readonly<Record<string, string>>,
): boolean => {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false
  }
  return (selector.matchExpressions ?? []).every((r) => requirementMatches(r, labels))
}

const namespaceLabels = (namespace: string) => ({ [NAMESPACE_NAME_LABEL]: namespace })

const peerMatches = (peer: PolicyPeer, policyNamespace: string, caller: Caller): boolean => {
  if (peer.namespaceSelector === undefined && peer.podSelector === undefined) return false
  const namespaceOk =
    peer.namespaceSelector === undefined
      ? caller.namespace === policyNamespace
      : selectorMatches(peer.namespaceSelector, namespaceLabels(caller.namespace))
  return (
    namespaceOk &&
    (peer.podSelector === undefined || selectorMatches(peer.podSelector, caller.labels))
  )
}

const portMatches = (port: PolicyPort, target: Target): boolean =>
  port.port === undefined ||
  (typeof port.port === "number" ? port.port === target.port : port.port === target.portName)

const ruleAdmits = (rule: IngressRule, namespace: string, target: Target, caller: Caller) =>
  (rule.ports === undefined ||
    rule.ports.length === 0 ||
    rule.ports.some((p) => portMatches(p, target))) &&
  (rule.from === undefined ||
    rule.from.length === 0 ||
    rule.from.some((peer) => peerMatches(peer, namespace, caller)))

/**
 * Whether `caller` may open a stream to `target` under the policies of the target's namespace
 * (policies of other namespaces are ignored, as Kubernetes does).
 */
export const decide = (
  policies: ReadonlyArray<Policy>,
  target: Target,
  caller: Caller,
): Decision => {
  const selecting = policies.filter(
    (p) => p.namespace === target.namespace && selectorMatches(p.podSelector, target.labels),
  )
  if (selecting.length === 0) {
    return caller.namespace === target.namespace
      ? { allowed: true, by: "default" }
      : {
          allowed: false,
          reason: "namespace",
          message: `callers from namespace ${JSON.stringify(caller.namespace)} may not reach namespace ${JSON.stringify(target.namespace)} (no NetworkPolicy admits them; the mesh default is the same namespace only)`,
        }
  }
  for (const policy of selecting) {
    if (policy.ingress.some((rule) => ruleAdmits(rule, policy.namespace, target, caller)))
      return { allowed: true, by: "policy", policy: policy.name }
  }
  return {
    allowed: false,
    reason: "policy",
    message: `no rule of NetworkPolicy ${selecting.map((p) => p.name).join(", ")} in namespace ${JSON.stringify(target.namespace)} admits ${JSON.stringify(caller.namespace)}/${formatLabels(caller.labels)} on port ${target.portName ?? target.port}`,
  }
}

const formatLabels = (labels: Readonly<Record<string, string>>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}}`
