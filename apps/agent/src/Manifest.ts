/**
 * Kubernetes-style workload manifests (Pod, apps/v1 Deployment, apps/v1 StatefulSet; YAML or JSON,
 * one or more documents) translated into the agent's `Workload` model, with the ConfigMaps,
 * Secrets (ConfigObjects.ts) and Services (ServiceObjects.ts) of the same request.
 *
 * Beemesh rules on top of Kubernetes: only the sidecar is ever published, so `hostPort`,
 * `hostNetwork`, `hostPID`, `hostIPC` and privileged containers are refused; `securityContext` is
 * honoured or refused field by field (SecurityContext.ts); every other field the Schemas
 * (ManifestSchema.ts) do not declare is refused by path (ManifestFields.ts), and the body is read
 * within limits (ManifestYaml.ts); an app's
 * `containerPort` is the port its sidecar serves. Services and upstreams come from annotations:
 *   beemesh.io/services:  "orders=80,admin=9090"   service name → app port (default: the
 *                                                   workload's name on its first containerPort)
 *   beemesh.io/upstreams: "orders=9001,cart=9002"  service (same namespace) → local port the
 *                                                   sidecar listens on inside the pod; a port of
 *                                                   a multi-port Service is `web:metrics=9090`
 */
import {
  type NetworkPolicy,
  PortList,
  type ReadinessProbe,
  type SidecarEnvironment,
  SidecarPorts,
  UpstreamList,
} from "@beemesh/contract"
import { Data, Effect, Exit, Result, Schema } from "effect"
import { type ConfigObject, type EnvSource, type KeyRef, toConfigObject } from "./ConfigObjects"
import { fieldPath, fieldProblem, quote } from "./ManifestFields"
import {
  ConfigMapManifest,
  type ContainerInput,
  DeploymentManifest,
  Header,
  MAX_NAME_LENGTH,
  NetworkPolicyManifest,
  PodManifest,
  type PodSpecInput,
  type ReplicatedSpecInput,
  SecretManifest,
  ServiceManifest,
  StatefulSetManifest,
} from "./ManifestSchema"
import { defaultYamlLimits, readDocuments, type YamlLimits } from "./ManifestYaml"
import { parseCpu, parseQuantity } from "./Quantity"
import { readProbe } from "./ReadinessProbes"
import { type AppSecurity, translateSecurityContext } from "./SecurityContext"
import {
  type ServiceObject,
  type ServiceUnprocessable,
  serviceKey,
  toServiceObject,
} from "./ServiceObjects"
import { readUpdatePolicy, type UpdatePolicy } from "./UpdateStrategy"
import { readVolumeMounts, readVolumes, type Volume, type VolumeMount } from "./Volumes"

export { parseCpu, parseQuantity } from "./Quantity"

export type WorkloadKind = "Pod" | "Deployment" | "StatefulSet"

export interface EnvVar {
  readonly name: string
  /** Empty when `from` is given. */
  readonly value: string
  /** A key of a ConfigMap or Secret, resolved when a pod is created (ConfigObjects.ts). */
  readonly from?: KeyRef | undefined
}

export interface ContainerTemplate {
  readonly name: string
  readonly image: string
  readonly command: ReadonlyArray<string> | undefined
  readonly args: ReadonlyArray<string> | undefined
  readonly workingDir: string | undefined
  readonly env: ReadonlyArray<EnvVar>
  /** Absent when the container has none (the spec hash of such workloads is unchanged). */
  readonly envFrom?: ReadonlyArray<EnvSource> | undefined
  readonly ports: ReadonlyArray<number>
  /** Memory limit in bytes, from `resources.limits.memory`. */
  readonly memoryLimitBytes: number | undefined
  /** CPU limit in millicores, from `resources.limits.cpu`. */
  readonly cpuLimitMillis: number | undefined
  /** From the pod's and the container's securityContext; undefined when neither has one. */
  readonly security?: AppSecurity | undefined
  /** Run by the pod's sidecar, which registers the services only while it passes. */
  readonly readinessProbe?: ReadinessProbe.ReadinessProbe | undefined
  /** Run by the pod's sidecar; failing failureThreshold times restarts the replica. */
  readonly livenessProbe?: ReadinessProbe.ReadinessProbe | undefined
  /** Run by the pod's sidecar first: the other probes wait until it passes. */
  readonly startupProbe?: ReadinessProbe.ReadinessProbe | undefined
  /** Absent when the container mounts nothing (the spec hash of such workloads is unchanged). */
  readonly volumeMounts?: ReadonlyArray<VolumeMount> | undefined
}

/** A service the workload provides: its name and the app's port inside the pod. */
export type ServicePort = PortList.NamedPort

/** A service of the workload's own namespace, offered to its apps on a local port. */
export type Upstream = SidecarEnvironment.Upstream

export interface Workload {
  readonly kind: WorkloadKind
  readonly namespace: string
  readonly name: string
  readonly replicas: number
  readonly labels: Readonly<Record<string, string>>
  readonly containers: ReadonlyArray<ContainerTemplate>
  readonly services: ReadonlyArray<ServicePort>
  readonly upstreams: ReadonlyArray<Upstream>
  /** How a Deployment or StatefulSet moves to a new version (absent: the defaults; Pods: none). */
  readonly update?: UpdatePolicy | undefined
  /** `configMap`, `secret` and `emptyDir` volumes; absent when there are none. */
  readonly volumes?: ReadonlyArray<Volume> | undefined
  /**
   * A keyed hash of the ConfigMaps and Secrets the containers refer to, set by the agent when it
   * applies the workload: a changed object changes the spec hash, so its users roll.
   */
  readonly configHash?: string | undefined
  /** The containers' named ports (`ports[].name` → containerPort), when any has a name. */
  readonly portNames?: Readonly<Record<string, number>> | undefined
  /**
   * The services `v1 Service` objects add to its pods (ServiceObjects.ts), set by the agent when
   * it applies the workload or a Service: a change rolls its pods, as any change of their spec.
   */
  readonly selectedBy?: ReadonlyArray<ServicePort> | undefined
  /** A Pod's `restartPolicy` when it is not `Always` (the default, and every other kind's). */
  readonly restartPolicy?: "OnFailure" | "Never" | undefined
  /**
   * Seconds between SIGTERM and SIGKILL when a pod stops, for the containers that handle SIGTERM
   * (absent: `DEFAULT_TERMINATION_GRACE_SECONDS`); the others are killed at once.
   */
  readonly terminationGracePeriodSeconds?: number | undefined
}

/** Kubernetes' default grace period of a stopping pod. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30

export class ManifestInvalid extends Data.TaggedError("ManifestInvalid")<{
  /** Index of the YAML document (0-based) the problem is in. */
  readonly document: number
  readonly reason: string
  /**
   * Well-formed, but invalid as a whole as the Kubernetes API server judges it (a Service port
   * without a name among several, a port name or number used twice): answered 422 as it does.
   */
  readonly unprocessable?: boolean | undefined
}> {
  override get message() {
    return `manifest document ${this.document + 1}: ${this.reason}`
  }
}

export interface ManifestOptions {
  /** Ports inside the pod that the sidecar itself uses; apps and upstreams may not take them. */
  readonly reservedPorts: ReadonlyArray<number>
  /** Upper bound on replicas per workload. */
  readonly maxReplicas: number
  /** Documents per request and YAML alias expansion. */
  readonly yaml?: YamlLimits
}

/** The sidecar listens on 8080 (libp2p) and 8081 (health, metrics) inside every pod. */
export const defaultManifestOptions: ManifestOptions = {
  reservedPorts: SidecarPorts.RESERVED,
  maxReplicas: 250,
}

const SUPPORTED =
  "v1 Pod, apps/v1 Deployment, apps/v1 StatefulSet, v1 ConfigMap, v1 Secret, v1 Service, networking.k8s.io/v1 NetworkPolicy"

/** What one request applies: workloads, the ConfigMaps and Secrets they may use, Services, NetworkPolicies. */
export interface ApplyRequest {
  readonly workloads: ReadonlyArray<Workload>
  readonly configs: ReadonlyArray<ConfigObject>
  readonly services: ReadonlyArray<ServiceObject>
  readonly policies: ReadonlyArray<NetworkPolicy.Policy>
}

/** Parses every document of a YAML or JSON text into workloads; the first problem fails the whole text. */
export const parseManifests = (
  text: string,
  options: ManifestOptions = defaultManifestOptions,
): Effect.Effect<ReadonlyArray<Workload>, ManifestInvalid> =>
  parseApply(text, options).pipe(Effect.map((request) => request.workloads))

/** Parses every document into workloads, ConfigMaps and Secrets; the first problem fails all. */
export const parseApply = (
  text: string,
  options: ManifestOptions = defaultManifestOptions,
): Effect.Effect<ApplyRequest, ManifestInvalid> =>
  Effect.suspend(() => {
    const documents = readDocuments(text, options.yaml ?? defaultYamlLimits)
    if ("reason" in documents) return Effect.fail(new ManifestInvalid(documents))
    const workloads: Array<Workload> = []
    const configs: Array<ConfigObject> = []
    const policies: Array<NetworkPolicy.Policy> = []
    const configSeen = new Set<string>()
    const services: Array<ServiceObject> = []
    for (const [index, value] of documents.entries()) {
      if (value === null || value === undefined) continue
      const service = toService(value)
      if (typeof service === "string")
        return Effect.fail(new ManifestInvalid({ document: index, reason: service }))
      if (service !== undefined && "unprocessable" in service)
        return Effect.fail(
          new ManifestInvalid({
            document: index,
            reason: service.unprocessable,
            unprocessable: true,
          }),
        )
      if (service !== undefined) {
        const key = serviceKey(service.namespace, service.name)
        if (services.some((s) => serviceKey(s.namespace, s.name) === key))
          return Effect.fail(
            new ManifestInvalid({
              document: index,
              reason: `Service ${key} appears more than once`,
            }),
          )
        services.push(service)
        continue
      }
      const policy = toNetworkPolicy(value)
      if (typeof policy === "string")
        return Effect.fail(new ManifestInvalid({ document: index, reason: policy }))
      if (policy !== undefined) {
        const key = `NetworkPolicy ${policy.namespace}/${policy.name}`
        if (configSeen.has(key))
          return Effect.fail(
            new ManifestInvalid({ document: index, reason: `${key} appears more than once` }),
          )
        configSeen.add(key)
        policies.push(policy)
        continue
      }
      const config = toConfig(value)
      const result = config ?? toWorkload(value, options)
      if (typeof result === "string") {
        return Effect.fail(new ManifestInvalid({ document: index, reason: result }))
      }
      if ("data" in result) {
        const key = `${result.kind} ${result.namespace}/${result.name}`
        if (configSeen.has(key))
          return Effect.fail(
            new ManifestInvalid({ document: index, reason: `${key} appears more than once` }),
          )
        configSeen.add(key)
        configs.push(result)
      } else workloads.push(result)
    }
    if (
      workloads.length === 0 &&
      configs.length === 0 &&
      services.length === 0 &&
      policies.length === 0
    ) {
      return Effect.fail(new ManifestInvalid({ document: 0, reason: "no manifest in the body" }))
    }
    const seen = new Set<string>()
    for (const [index, workload] of workloads.entries()) {
      const key = `${workload.namespace}/${workload.name}`
      if (seen.has(key)) {
        return Effect.fail(
          new ManifestInvalid({
            document: index,
            reason: `workload ${key} appears more than once`,
          }),
        )
      }
      seen.add(key)
    }
    return Effect.succeed({ workloads, configs, services, policies })
  })

/** A ConfigMap or Secret document as an object (or why it is refused); undefined for other kinds. */
const toConfig = (value: unknown): ConfigObject | string | undefined => {
  const header = Schema.decodeUnknownExit(Header)(value)
  if (Exit.isFailure(header) || header.value.apiVersion !== "v1") return undefined
  if (header.value.kind === "ConfigMap") {
    const decoded = decodeOrReason(ConfigMapManifest, value)
    if (typeof decoded === "string") return decoded
    const { metadata, data, binaryData } = decoded.ok
    return toConfigObject("ConfigMap", metadata, { text: data, base64: binaryData })
  }
  if (header.value.kind === "Secret") {
    const decoded = decodeOrReason(SecretManifest, value)
    if (typeof decoded === "string") return decoded
    const { metadata, type, data, stringData } = decoded.ok
    return toConfigObject("Secret", metadata, { type, text: stringData, base64: data })
  }
  return undefined
}

/** A Service document as an object (or why it is refused); undefined for other kinds. */
const toService = (value: unknown): ServiceObject | ServiceUnprocessable | string | undefined => {
  const header = Schema.decodeUnknownExit(Header)(value)
  if (Exit.isFailure(header) || header.value.apiVersion !== "v1" || header.value.kind !== "Service")
    return undefined
  const decoded = decodeOrReason(ServiceManifest, value)
  return typeof decoded === "string" ? decoded : toServiceObject(decoded.ok)
}

/** A NetworkPolicy document as the sidecars enforce it (or why it is refused); undefined for other kinds. */
const toNetworkPolicy = (value: unknown): NetworkPolicy.Policy | string | undefined => {
  const header = Schema.decodeUnknownExit(Header)(value)
  if (
    Exit.isFailure(header) ||
    header.value.apiVersion !== "networking.k8s.io/v1" ||
    header.value.kind !== "NetworkPolicy"
  )
    return undefined
  const decoded = decodeOrReason(NetworkPolicyManifest, value)
  if (typeof decoded === "string") return decoded
  const { metadata, spec } = decoded.ok
  const name = `NetworkPolicy ${metadata.name}`
  for (const type of spec.policyTypes ?? []) {
    if (type === "Egress")
      return `${name}: spec.policyTypes Egress is not supported by beemesh yet: sidecars enforce ingress only; remove it`
    if (type !== "Ingress")
      return `${name}: spec.policyTypes ${quote(type, 40)} is not a policy type; use Ingress`
  }
  const selectors = [
    ["spec.podSelector", spec.podSelector] as const,
    ...(spec.ingress ?? []).flatMap((rule, r) =>
      (rule.from ?? []).flatMap((peer, p) => [
        [`spec.ingress[${r}].from[${p}].podSelector`, peer.podSelector] as const,
        [`spec.ingress[${r}].from[${p}].namespaceSelector`, peer.namespaceSelector] as const,
      ]),
    ),
  ]
  for (const [path, selector] of selectors) {
    for (const [i, requirement] of (selector?.matchExpressions ?? []).entries()) {
      const needsValues = requirement.operator === "In" || requirement.operator === "NotIn"
      const count = requirement.values?.length ?? 0
      if (needsValues && count === 0)
        return `${name}: ${path}.matchExpressions[${i}] with operator ${requirement.operator} needs values`
      if (!needsValues && count > 0)
        return `${name}: ${path}.matchExpressions[${i}] with operator ${requirement.operator} takes no values; remove them`
    }
  }
  for (const [r, rule] of (spec.ingress ?? []).entries())
    for (const [p, port] of (rule.ports ?? []).entries())
      if (typeof port.port === "string")
        return `${name}: spec.ingress[${r}].ports[${p}].port ${quote(port.port, 40)}: named ports are not supported by beemesh yet (sidecars know their services' port numbers only); use the container port number`
  for (const [r, rule] of (spec.ingress ?? []).entries())
    for (const [p, peer] of (rule.from ?? []).entries())
      if (peer.podSelector === undefined && peer.namespaceSelector === undefined)
        return `${name}: spec.ingress[${r}].from[${p}] selects nothing; give podSelector or namespaceSelector`
  return {
    namespace: metadata.namespace ?? "default",
    name: metadata.name,
    podSelector: selectorOf(spec.podSelector),
    ingress: (spec.ingress ?? []).map((rule) => ({
      ...(rule.from === undefined
        ? {}
        : {
            from: rule.from.map((peer) => ({
              ...(peer.podSelector === undefined
                ? {}
                : { podSelector: selectorOf(peer.podSelector) }),
              ...(peer.namespaceSelector === undefined
                ? {}
                : { namespaceSelector: selectorOf(peer.namespaceSelector) }),
            })),
          }),
      ...(rule.ports === undefined
        ? {}
        : {
            ports: rule.ports.map((port) => (port.port === undefined ? {} : { port: port.port })),
          }),
    })),
  }
}

interface SelectorInput {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined
  readonly matchExpressions?:
    | ReadonlyArray<{
        readonly key: string
        readonly operator: NetworkPolicy.SelectorOperator
        readonly values?: ReadonlyArray<string> | undefined
      }>
    | undefined
}

const selectorOf = (selector: SelectorInput): NetworkPolicy.LabelSelector => ({
  ...(selector.matchLabels === undefined ? {} : { matchLabels: selector.matchLabels }),
  ...(selector.matchExpressions === undefined
    ? {}
    : {
        matchExpressions: selector.matchExpressions.map(({ key, operator, values }) => ({
          key,
          operator,
          ...(values === undefined ? {} : { values }),
        })),
      }),
})

/** `["spec"]["containers"][0]` (a Schema issue's path) as `spec.containers[0]`. */
const readablePath = (brackets: string): string =>
  [...brackets.matchAll(/\[(\d+|"(?:[^"\\]|\\.)*")\]/g)].reduce(
    (path, [, key]) =>
      key?.startsWith('"') ? fieldPath(path, JSON.parse(key) as string) : `${path}[${key}]`,
    "",
  )

const EXPECTED: Readonly<Record<string, string>> = {
  string: "must be a string",
  number: "must be a number",
  boolean: "must be true or false",
  array: "must be a list",
  object: "must be an object",
  "string | number": "must be a string or a number",
  null: "must be null",
}

/** `"a" | "b"` (a Schema's literals) as `one of a, b`. */
const literals = (expected: string): string | undefined =>
  /^"[^"]*"(?: \| "[^"]*")*$/.test(expected)
    ? expected.includes("|")
      ? `must be one of ${expected.replaceAll('"', "").split(" | ").join(", ")}`
      : `must be ${expected.replaceAll('"', "")}`
    : undefined

/** A Schema's failure message (`Expected string\n  at ["a"]["b"]`) as `a.b: must be a string`. */
const readableIssue = (message: string): string => {
  const at = message.lastIndexOf("\n  at ")
  const path = at < 0 ? "" : readablePath(message.slice(at + "\n  at ".length))
  const text = (at < 0 ? message : message.slice(0, at)).trim()
  const expected = /^Expected (.+?)(?: \| undefined)?(?:, got (.*))?$/s.exec(text)
  const reason =
    expected === null
      ? text === "Missing key"
        ? "is required"
        : text
      : (EXPECTED[expected[1] ?? ""] ??
        literals(expected[1] ?? "") ??
        `must be ${expected[1]}${expected[2] === undefined ? "" : `, not ${quote(expected[2])}`}`)
  return path === "" ? reason : `${path}: ${reason}`
}

const decodeOrReason = <S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  value: unknown,
): { readonly ok: S["Type"] } | string => {
  const problem = fieldProblem(schema.ast, value)
  if (problem !== undefined) return problem
  const exit = Schema.decodeUnknownExit(schema)(value)
  if (Exit.isSuccess(exit)) return { ok: exit.value }
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  return failure === undefined ? "invalid manifest" : readableIssue(String(failure.error.message))
}

/** Returns the workload, or a reason the manifest is refused. */
const toWorkload = (value: unknown, options: ManifestOptions): Workload | string => {
  const header = Schema.decodeUnknownExit(Header)(value)
  if (Exit.isFailure(header)) {
    return "every document needs apiVersion and kind (both strings), as in apiVersion: v1, kind: Pod"
  }
  const { apiVersion, kind } = header.value
  if (kind === "Pod" && apiVersion === "v1") {
    const pod = decodeOrReason(PodManifest, value)
    if (typeof pod === "string") return pod
    const { metadata, spec } = pod.ok
    const workload = build("Pod", metadata, 1, metadata.labels, metadata.annotations, spec, options)
    const policy = spec.restartPolicy
    // Only when not the default, so that Pods without it keep the spec hash they always had.
    return typeof workload === "string" || policy === undefined || policy === "Always"
      ? workload
      : { ...workload, restartPolicy: policy }
  }
  if ((kind === "Deployment" || kind === "StatefulSet") && apiVersion === "apps/v1") {
    const replicated =
      kind === "Deployment"
        ? decodeOrReason(DeploymentManifest, value)
        : decodeOrReason(StatefulSetManifest, value)
    if (typeof replicated === "string") return replicated
    const { metadata, spec } = replicated.ok
    const replicas = spec.replicas ?? 1
    if (replicas > options.maxReplicas) {
      return `spec.replicas is ${replicas}; at most ${options.maxReplicas} replicas are allowed per workload`
    }
    const policy = spec.template.spec.restartPolicy
    if (policy !== undefined && policy !== "Always")
      return `spec.template.spec.restartPolicy: a ${kind}'s pods restart Always (as in Kubernetes); ${policy} is for a v1 Pod`
    const templateLabels = spec.template.metadata?.labels ?? {}
    for (const [key, wanted] of Object.entries(spec.selector?.matchLabels ?? {})) {
      if (templateLabels[key] !== wanted) {
        return `spec.selector.matchLabels ${key}=${wanted} does not match spec.template.metadata.labels`
      }
    }
    const update = readUpdatePolicy(replicated.ok.kind, spec)
    if (typeof update === "string") return update
    const annotations = { ...metadata.annotations, ...spec.template.metadata?.annotations }
    const labels = { ...metadata.labels, ...templateLabels }
    const workload = build(
      replicated.ok.kind,
      metadata,
      replicas,
      labels,
      annotations,
      spec.template.spec,
      options,
    )
    const fields: ReplicatedSpecInput = spec
    const given =
      fields.strategy !== undefined ||
      fields.updateStrategy !== undefined ||
      fields.progressDeadlineSeconds !== undefined
    // Absent means the defaults, so that manifests without these fields keep their spec hash.
    return typeof workload === "string" ? workload : given ? { ...workload, update } : workload
  }
  return `unsupported kind ${quote(apiVersion, 40).slice(1, -1)} ${quote(kind, 40).slice(1, -1)}; supported: ${SUPPORTED}`
}

const build = (
  kind: WorkloadKind,
  metadata: { readonly name: string; readonly namespace?: string | undefined },
  replicas: number,
  labels: Readonly<Record<string, string>> | undefined,
  annotations: Readonly<Record<string, string>> | undefined,
  spec: PodSpecInput,
  options: ManifestOptions,
): Workload | string => {
  if (spec.hostNetwork === true)
    return "spec.hostNetwork is refused: every pod gets its own network"
  if (spec.hostPID === true || spec.hostIPC === true) return "spec.hostPID/hostIPC are refused"
  const volumes = readVolumes(spec.volumes ?? [])
  if (typeof volumes === "string") return volumes
  const containers: Array<ContainerTemplate> = []
  const names = new Set<string>()
  const appPorts = new Map<number, string>()
  const portNames: Record<string, number> = {}
  for (const container of spec.containers) {
    const where = `container ${container.name}`
    if (names.has(container.name)) return `${where} appears twice; container names must be unique`
    names.add(container.name)
    const template = toContainer(container, where, spec.securityContext, volumes)
    if (typeof template === "string") return template
    for (const field of ["readinessProbe", "livenessProbe", "startupProbe"] as const) {
      const probe = template[field]
      if (
        probe !== undefined &&
        probe.action !== "exec" &&
        options.reservedPorts.includes(probe.port)
      )
        return `${where}: ${field} port ${probe.port} is the sidecar's inside the pod; probe a port of the app`
    }
    for (const port of template.ports) {
      if (options.reservedPorts.includes(port)) {
        return `${where}: containerPort ${port} is reserved for the sidecar inside the pod; use another port`
      }
      const owner = appPorts.get(port)
      if (owner !== undefined)
        return `${where}: containerPort ${port} is already used by container ${owner}`
      appPorts.set(port, container.name)
    }
    for (const port of container.ports ?? []) {
      if (port.name === undefined) continue
      if (Object.hasOwn(portNames, port.name))
        return `${where}: port name ${port.name} is used twice in the pod; port names must be unique`
      portNames[port.name] = port.containerPort
    }
    containers.push(template)
  }
  const namespace = metadata.namespace ?? "default"
  const services = parseServices(annotations?.["beemesh.io/services"], metadata.name, appPorts)
  if (typeof services === "string") return services
  const upstreams = parseUpstreams(annotations?.["beemesh.io/upstreams"])
  if (typeof upstreams === "string") return upstreams
  for (const upstream of upstreams) {
    if (options.reservedPorts.includes(upstream.port) || appPorts.has(upstream.port)) {
      return `beemesh.io/upstreams: port ${upstream.port} for ${UpstreamList.describe(upstream)} is already taken inside the pod`
    }
  }
  return {
    kind,
    namespace,
    name: metadata.name,
    replicas,
    labels: labels ?? {},
    containers,
    services,
    upstreams,
    // Only when given, so that workloads without named ports keep the spec hash they always had.
    ...(Object.keys(portNames).length === 0 ? {} : { portNames }),
    ...(volumes.length === 0 ? {} : { volumes }),
    ...(spec.terminationGracePeriodSeconds === undefined
      ? {}
      : { terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds }),
  }
}

const toContainer = (
  container: ContainerInput,
  where: string,
  podSecurity: unknown,
  volumes: ReadonlyArray<Volume>,
): ContainerTemplate | string => {
  const security = translateSecurityContext(podSecurity, container.securityContext, where)
  if (typeof security === "string") return security
  const env: Array<EnvVar> = []
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom
    if (from === undefined) {
      env.push({ name: variable.name, value: variable.value ?? "" })
      continue
    }
    const refs = [
      ...(from.configMapKeyRef === undefined ? [] : [["ConfigMap", from.configMapKeyRef] as const]),
      ...(from.secretKeyRef === undefined ? [] : [["Secret", from.secretKeyRef] as const]),
    ]
    const [ref] = refs
    if (variable.value !== undefined || refs.length !== 1 || ref === undefined)
      return `${where}: env ${variable.name} needs exactly one of value, valueFrom.configMapKeyRef and valueFrom.secretKeyRef`
    const [kind, { name, key, optional }] = ref
    env.push({
      name: variable.name,
      value: "",
      from: { kind, name, key, optional: optional ?? false },
    })
  }
  const envFrom: Array<EnvSource> = []
  for (const source of container.envFrom ?? []) {
    const refs = [
      ...(source.configMapRef === undefined ? [] : [["ConfigMap", source.configMapRef] as const]),
      ...(source.secretRef === undefined ? [] : [["Secret", source.secretRef] as const]),
    ]
    const [ref] = refs
    if (refs.length !== 1 || ref === undefined)
      return `${where}: each envFrom entry needs exactly one of configMapRef and secretRef`
    const [kind, { name, optional }] = ref
    envFrom.push({ kind, name, prefix: source.prefix ?? "", optional: optional ?? false })
  }
  const ports: Array<number> = []
  for (const port of container.ports ?? []) {
    if (port.hostPort !== undefined) {
      return (
        `${where}: hostPort is refused — only the sidecar is ever published; ` +
        `remove hostPort, containerPort ${port.containerPort} is the port the sidecar serves`
      )
    }
    if (port.protocol !== undefined && port.protocol !== "TCP") {
      return `${where}: containerPort ${port.containerPort} uses ${port.protocol}; only TCP is carried`
    }
    ports.push(port.containerPort)
  }
  const memory = parseQuantity(container.resources?.limits?.memory, "memory", where)
  if (typeof memory === "string") return memory
  const cpu = parseCpu(container.resources?.limits?.cpu, where)
  if (typeof cpu === "string") return cpu
  const readinessProbe = readProbe(container, "readinessProbe", where)
  if (typeof readinessProbe === "string") return readinessProbe
  const livenessProbe = readProbe(container, "livenessProbe", where)
  if (typeof livenessProbe === "string") return livenessProbe
  const startupProbe = readProbe(container, "startupProbe", where)
  if (typeof startupProbe === "string") return startupProbe
  const volumeMounts = readVolumeMounts(container.volumeMounts ?? [], volumes, where)
  if (typeof volumeMounts === "string") return volumeMounts
  return {
    name: container.name,
    image: container.image,
    command: container.command,
    args: container.args,
    workingDir: container.workingDir,
    env,
    ...(envFrom.length === 0 ? {} : { envFrom }),
    ports,
    memoryLimitBytes: memory.value,
    cpuLimitMillis: cpu.value,
    ...(security === undefined ? {} : { security }),
    // Only when given, so that workloads without probes keep the spec hash they always had.
    ...(readinessProbe === undefined ? {} : { readinessProbe }),
    ...(livenessProbe === undefined ? {} : { livenessProbe }),
    ...(startupProbe === undefined ? {} : { startupProbe }),
    ...(volumeMounts.length === 0 ? {} : { volumeMounts }),
  }
}

/** Reads a `name=port` annotation with the contract's codec (the sidecar reads it back so). */
const parsePortList = (
  text: string,
  annotation: string,
  nameProblem: (name: string) => string,
): ReadonlyArray<PortList.NamedPort> | string => {
  const parsed = PortList.parse(text)
  if (Result.isSuccess(parsed)) return parsed.success
  const problem = parsed.failure
  const reason =
    problem.kind === "name"
      ? nameProblem(problem.subject)
      : problem.kind === "entry"
        ? `"${problem.subject}" is not name=port`
        : problem.reason
  return `${annotation}: ${reason}`
}

const parseServices = (
  annotation: string | undefined,
  workloadName: string,
  appPorts: ReadonlyMap<number, string>,
): ReadonlyArray<ServicePort> | string => {
  if (annotation === undefined) {
    const [first] = appPorts.keys()
    return first === undefined ? [] : [{ name: workloadName, port: first }]
  }
  const services = parsePortList(
    annotation,
    "beemesh.io/services",
    (name) => `service name "${name}" must be a DNS-1123 label`,
  )
  if (typeof services === "string") return services
  for (const { name, port } of services) {
    if (name.length > MAX_NAME_LENGTH) {
      return `beemesh.io/services: service name "${name}" must be at most ${MAX_NAME_LENGTH} characters`
    }
    if (!appPorts.has(port)) {
      return `beemesh.io/services: service ${name} maps to port ${port}, which no container declares as containerPort`
    }
  }
  return services
}

const parseUpstreams = (annotation: string | undefined): ReadonlyArray<Upstream> | string => {
  if (annotation === undefined) return []
  const parsed = UpstreamList.parse(annotation)
  if (Result.isFailure(parsed)) {
    const problem = parsed.failure
    const reason =
      problem.kind === "name"
        ? `"${problem.subject}" must be a service name (a DNS-1123 label) of this namespace`
        : problem.kind === "entry"
          ? `"${problem.subject}" is not name=port`
          : problem.reason
    return `beemesh.io/upstreams: ${reason}`
  }
  const upstreams: Array<Upstream> = []
  for (const upstream of parsed.success) {
    if (upstream.service === "localhost") {
      return `beemesh.io/upstreams: "localhost" cannot be an upstream: apps reach upstreams by name, and localhost must stay the pod itself`
    }
    if (upstreams.some((other) => other.port === upstream.port)) {
      return `beemesh.io/upstreams: port ${upstream.port} is used twice`
    }
    upstreams.push(upstream)
  }
  return upstreams
}

/**
 * Names of a workload's replicas: StatefulSets get stable ordinals (`web-0`, `web-1`); Pods keep
 * their name; Deployments get `name-<index>` too, so that the agent can match running pods to
 * replicas after a restart without extra state.
 */
export const replicaNames = (workload: Workload): ReadonlyArray<string> =>
  workload.kind === "Pod"
    ? [workload.name]
    : Array.from({ length: workload.replicas }, (_, index) => `${workload.name}-${index}`)
