/**
 * ConfigMaps and Secrets as the agent keeps them (pure): decoded manifests turned into objects
 * whose values are bytes (base64 in memory and in the store), the references workloads make to
 * them, and the environment those references resolve to when a pod is created.
 *
 * References are resolved when a replica's pod is created, not when it is applied: a workload keeps
 * the reference (so the state file never holds a secret's value) and `configHash`, a keyed hash of
 * what it referenced when applied. Changing a ConfigMap or Secret changes that hash of every
 * workload using it, which rolls them as any other change of their spec does.
 */
import { createHmac } from "node:crypto"
import { type Volume, volumeReferenceProblem, volumeReferences } from "./Volumes"

export type ConfigKind = "ConfigMap" | "Secret"

export interface ConfigObject {
  readonly kind: ConfigKind
  readonly namespace: string
  readonly name: string
  /** Each key's value as base64 of its bytes. */
  readonly data: Readonly<Record<string, string>>
}

/** `env[].valueFrom.configMapKeyRef` / `secretKeyRef`. */
export interface KeyRef {
  readonly kind: ConfigKind
  readonly name: string
  readonly key: string
  readonly optional: boolean
}

/** `envFrom[]`: every key of the object, with a prefix. */
export interface EnvSource {
  readonly kind: ConfigKind
  readonly name: string
  readonly prefix: string
  readonly optional: boolean
}

/** Kubernetes' limit on one object. */
export const MAX_CONFIG_BYTES = 1024 * 1024

export const configKey = (kind: ConfigKind, namespace: string, name: string) =>
  `${kind}/${namespace}/${name}`

export const describeConfig = (object: Pick<ConfigObject, "kind" | "namespace" | "name">) =>
  `${object.kind} ${object.namespace}/${object.name}`

const toBase64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** A decoded ConfigMap or Secret as an object, or why it is refused. */
export const toConfigObject = (
  kind: ConfigKind,
  metadata: { readonly name: string; readonly namespace?: string | undefined },
  fields: {
    readonly type?: string | undefined
    readonly text?: Readonly<Record<string, string>> | undefined
    readonly base64?: Readonly<Record<string, string>> | undefined
  },
): ConfigObject | string => {
  if (kind === "Secret" && fields.type !== undefined && fields.type !== "Opaque")
    return `Secret type ${JSON.stringify(fields.type.slice(0, 80))} is not supported; only Opaque (the default) is`
  const data: Record<string, string> = {}
  let bytes = 0
  const text = fields.text ?? {}
  for (const [key, value] of Object.entries(fields.base64 ?? {})) {
    // A ConfigMap's data and binaryData share keys; a Secret's stringData wins over data.
    if (kind === "ConfigMap" && Object.hasOwn(text, key))
      return `ConfigMap ${metadata.name}: key ${key} is in both data and binaryData; keep one`
    data[key] = value
  }
  for (const [key, value] of Object.entries(text)) data[key] = toBase64(value)
  for (const value of Object.values(data)) bytes += Buffer.byteLength(value, "base64")
  if (bytes > MAX_CONFIG_BYTES)
    return `${kind} ${metadata.name} holds ${bytes} bytes; at most ${MAX_CONFIG_BYTES} (1 MiB) are allowed, as in Kubernetes`
  return { kind, namespace: metadata.namespace ?? "default", name: metadata.name, data }
}

/** What a workload's containers and volumes use. */
export interface ConfigUser {
  readonly containers: ReadonlyArray<{
    readonly env: ReadonlyArray<{ readonly name: string; readonly from?: KeyRef | undefined }>
    readonly envFrom?: ReadonlyArray<EnvSource> | undefined
  }>
  readonly volumes?: ReadonlyArray<Volume> | undefined
}

/** What a workload refers to (environment and volumes), as `{kind, name, optional}`. */
export const referencesOf = (
  workload: ConfigUser,
): ReadonlyArray<{
  readonly kind: ConfigKind
  readonly name: string
  readonly optional: boolean
}> => [
  ...workload.containers.flatMap((c) => [
    ...c.env.flatMap((e) => (e.from === undefined ? [] : [e.from])),
    ...(c.envFrom ?? []),
  ]),
  ...volumeReferences(workload.volumes),
]

export type Lookup = (kind: ConfigKind, name: string) => ConfigObject | undefined

/**
 * The problem with a workload's references, or undefined: a missing object or key is refused
 * unless the reference is optional.
 */
export const referenceProblem = (
  workload: { readonly namespace: string; readonly name: string } & ConfigUser,
  lookup: Lookup,
): string | undefined => {
  for (const c of workload.containers) {
    for (const e of c.env) {
      const ref = e.from
      if (ref === undefined || ref.optional) continue
      const object = lookup(ref.kind, ref.name)
      if (object === undefined)
        return `env ${e.name} refers to ${ref.kind} ${workload.namespace}/${ref.name}, which does not exist; apply it (in the same request or before) or mark the reference optional`
      if (!Object.hasOwn(object.data, ref.key))
        return `env ${e.name} refers to key ${ref.key} of ${ref.kind} ${workload.namespace}/${ref.name}, which it does not have (keys: ${Object.keys(object.data).join(", ") || "none"})`
    }
    for (const source of c.envFrom ?? []) {
      if (source.optional || lookup(source.kind, source.name) !== undefined) continue
      return `envFrom refers to ${source.kind} ${workload.namespace}/${source.name}, which does not exist; apply it (in the same request or before) or mark it optional`
    }
  }
  return volumeReferenceProblem(workload.namespace, workload.volumes, lookup)
}

/**
 * A hash of every object the workload refers to (its content, or its absence), keyed with the
 * agent's secret key so that it says nothing about a secret's value; undefined when it refers to
 * none (so that workloads without references keep the spec hash they always had).
 */
export const configHash = (
  workload: ConfigUser,
  lookup: Lookup,
  key: Uint8Array,
): string | undefined => {
  const refs = referencesOf(workload)
  if (refs.length === 0) return undefined
  const names = [...new Set(refs.map((r) => `${r.kind}/${r.name}`))].sort()
  const content = names.map((name) => {
    const [kind, object] = name.split("/") as [ConfigKind, string]
    const found = lookup(kind, object)
    return [name, found === undefined ? null : Object.entries(found.data).sort()]
  })
  return createHmac("sha256", key).update(JSON.stringify(content)).digest("hex").slice(0, 16)
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/

/**
 * A container's environment with its references resolved, in Kubernetes' order: `envFrom` first
 * (keys that are not variable names skipped), then `env` (which wins); or why it cannot be.
 */
export const resolveEnv = (
  container: {
    readonly env: ReadonlyArray<{
      readonly name: string
      readonly value: string
      readonly from?: KeyRef | undefined
    }>
    readonly envFrom?: ReadonlyArray<EnvSource> | undefined
  },
  lookup: Lookup,
): { readonly env: Record<string, string> } | { readonly problem: string } => {
  const env: Record<string, string> = {}
  const text = (base64: string) => Buffer.from(base64, "base64").toString("utf8")
  for (const source of container.envFrom ?? []) {
    const object = lookup(source.kind, source.name)
    if (object === undefined) {
      if (source.optional) continue
      return { problem: `envFrom: ${source.kind} ${source.name} does not exist` }
    }
    for (const [key, value] of Object.entries(object.data))
      if (ENV_NAME.test(`${source.prefix}${key}`)) env[`${source.prefix}${key}`] = text(value)
  }
  for (const variable of container.env) {
    const ref = variable.from
    if (ref === undefined) {
      env[variable.name] = variable.value
      continue
    }
    const data = lookup(ref.kind, ref.name)?.data
    const value = data !== undefined && Object.hasOwn(data, ref.key) ? data[ref.key] : undefined
    if (value !== undefined) env[variable.name] = text(value)
    else if (!ref.optional)
      return {
        problem: `env ${variable.name}: key ${ref.key} of ${ref.kind} ${ref.name} is missing`,
      }
  }
  return { env }
}
