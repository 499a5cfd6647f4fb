/**
 * Pod volumes (pure): `configMap`, `secret` and `emptyDir` volumes and the containers' mounts of
 * them, read from a manifest and checked (every mount names a declared volume, paths stay inside
 * what they name), and the files a ConfigMap or Secret volume holds when a pod is created.
 *
 * A workload keeps references, never values: the files are written from the objects as they are
 * when a replica's pod is created (deployer/PodVolumes.ts puts them on the host).
 */
import { posix } from "node:path"
import type { ConfigKind, Lookup } from "./ConfigObjects"
import type { VolumeInput } from "./ManifestSchema"
import { parseQuantity } from "./Quantity"

/** Kubernetes' default mode of projected files (0644). */
export const DEFAULT_FILE_MODE = 0o644

export interface KeyToPath {
  readonly key: string
  readonly path: string
  readonly mode?: number | undefined
}

/** A ConfigMap or Secret projected as files. */
export interface ProjectedVolume {
  readonly name: string
  readonly kind: ConfigKind
  /** The object's name, in the workload's namespace. */
  readonly object: string
  /** Absent: every key, as a file named after it. */
  readonly items?: ReadonlyArray<KeyToPath> | undefined
  readonly defaultMode: number
  readonly optional: boolean
}

/** An empty directory for the pod's life: on the host's disk, or a tmpfs (`Memory`). */
export interface EmptyDirVolume {
  readonly name: string
  readonly kind: "EmptyDir"
  readonly medium: "" | "Memory"
  /** The tmpfs's size (`Memory` only); absent: the tmpfs default. */
  readonly sizeLimitBytes?: number | undefined
}

export type Volume = ProjectedVolume | EmptyDirVolume

export interface VolumeMount {
  readonly name: string
  readonly mountPath: string
  readonly readOnly: boolean
  readonly subPath?: string | undefined
}

/** Why a relative path (items[].path, subPath) is refused, or undefined. */
export const relativePathProblem = (path: string): string | undefined => {
  if (path === "") return "must not be empty"
  if (path.startsWith("/")) return "must be relative"
  if (path.includes("\0")) return "must not contain NUL"
  if (path.split("/").some((part) => part === ".."))
    return "must not contain '..': it would leave the volume"
  if (path.split("/").some((part) => part === "" || part === "."))
    return "must not contain empty or '.' parts"
  return undefined
}

/** Why a mountPath is refused, or undefined. */
const mountPathProblem = (path: string): string | undefined => {
  if (!path.startsWith("/")) return "must be an absolute path such as /etc/config"
  if (path.includes(":") || path.includes(",")) return "must not contain ':' or ','"
  if (path.split("/").some((part) => part === ".." || part === "."))
    return "must not contain '.' or '..' parts"
  if (posix.normalize(path) === "/") return "must not be / (the container's root)"
  return undefined
}

/** The volumes of a pod spec as the agent's model, or why they are refused. */
export const readVolumes = (inputs: ReadonlyArray<VolumeInput>): ReadonlyArray<Volume> | string => {
  const volumes: Array<Volume> = []
  const names = new Set<string>()
  for (const [index, input] of inputs.entries()) {
    const where = `spec.volumes[${index}] (${input.name})`
    if (names.has(input.name)) return `${where}: volume name ${input.name} is used twice`
    names.add(input.name)
    const sources = [input.configMap, input.secret, input.emptyDir].filter((s) => s !== undefined)
    if (sources.length !== 1)
      return `${where}: needs exactly one of configMap, secret and emptyDir (found ${sources.length})`
    if (input.emptyDir !== undefined) {
      const medium = input.emptyDir.medium ?? ""
      const size = parseQuantity(input.emptyDir.sizeLimit, "memory", where)
      if (typeof size === "string")
        return `${where}: emptyDir.sizeLimit ${JSON.stringify(input.emptyDir.sizeLimit)} is not a quantity like 64Mi`
      if (medium === "" && size.value !== undefined)
        return `${where}: emptyDir.sizeLimit is enforced only with medium: Memory (a tmpfs of that size); use medium: Memory or remove sizeLimit`
      volumes.push({
        name: input.name,
        kind: "EmptyDir",
        medium,
        ...(size.value === undefined ? {} : { sizeLimitBytes: size.value }),
      })
      continue
    }
    const [kind, object, source] =
      input.configMap !== undefined
        ? (["ConfigMap", input.configMap.name, input.configMap] as const)
        : (["Secret", input.secret?.secretName ?? "", input.secret] as const)
    if (source === undefined) return `${where}: needs a source`
    const paths = new Set<string>()
    for (const [i, item] of (source.items ?? []).entries()) {
      const field = `${where}: ${kind === "ConfigMap" ? "configMap" : "secret"}.items[${i}].path ${JSON.stringify(item.path.slice(0, 80))}`
      const problem = relativePathProblem(item.path)
      if (problem !== undefined) return `${field} ${problem}`
      if (paths.has(item.path)) return `${field} is used twice`
      paths.add(item.path)
    }
    for (const path of paths)
      for (const other of paths)
        if (other.startsWith(`${path}/`))
          return `${where}: items path ${path} is a file, so ${other} cannot be inside it`
    volumes.push({
      name: input.name,
      kind,
      object,
      ...(source.items === undefined
        ? {}
        : {
            items: source.items.map((item) => ({
              key: item.key,
              path: item.path,
              ...(item.mode === undefined ? {} : { mode: item.mode }),
            })),
          }),
      defaultMode: source.defaultMode ?? DEFAULT_FILE_MODE,
      optional: source.optional ?? false,
    })
  }
  return volumes
}

/** A container's mounts, checked against the pod's volumes, or why they are refused. */
export const readVolumeMounts = (
  inputs: ReadonlyArray<{
    readonly name: string
    readonly mountPath: string
    readonly readOnly?: boolean | undefined
    readonly subPath?: string | undefined
  }>,
  volumes: ReadonlyArray<Volume>,
  where: string,
): ReadonlyArray<VolumeMount> | string => {
  const mounts: Array<VolumeMount> = []
  const paths = new Set<string>()
  for (const [index, input] of inputs.entries()) {
    const field = `${where}: volumeMounts[${index}]`
    const volume = volumes.find((v) => v.name === input.name)
    if (volume === undefined) {
      const declared = volumes.map((v) => v.name).join(", ") || "none"
      return `${field} names volume ${JSON.stringify(input.name.slice(0, 80))}, which spec.volumes does not declare (declared: ${declared})`
    }
    const pathProblem = mountPathProblem(input.mountPath)
    if (pathProblem !== undefined)
      return `${field}.mountPath ${JSON.stringify(input.mountPath.slice(0, 80))} ${pathProblem}`
    const mountPath = posix.normalize(input.mountPath).replace(/\/$/, "")
    if (paths.has(mountPath)) return `${field}.mountPath ${mountPath} is mounted twice`
    paths.add(mountPath)
    if (input.subPath !== undefined && input.subPath !== "") {
      const problem = relativePathProblem(input.subPath)
      if (problem !== undefined)
        return `${field}.subPath ${JSON.stringify(input.subPath.slice(0, 80))} ${problem}`
    }
    mounts.push({
      name: input.name,
      mountPath,
      // Kubernetes mounts ConfigMap and Secret volumes read-only whatever the mount says.
      readOnly: volume.kind !== "EmptyDir" || input.readOnly === true,
      ...(input.subPath === undefined || input.subPath === "" ? {} : { subPath: input.subPath }),
    })
  }
  return mounts
}

/** One file of a projected volume: its path in the volume, mode and bytes. */
export interface ProjectedFile {
  readonly path: string
  readonly mode: number
  readonly bytes: Buffer
}

/**
 * The files a ConfigMap or Secret volume holds given the objects as they are, or why it cannot be
 * made: a missing object or key refuses it unless the volume is optional (then it is left out).
 */
export const projectedFiles = (
  volume: ProjectedVolume,
  lookup: Lookup,
): ReadonlyArray<ProjectedFile> | { readonly problem: string } => {
  const object = lookup(volume.kind, volume.object)
  if (object === undefined)
    return volume.optional
      ? []
      : { problem: `volume ${volume.name}: ${volume.kind} ${volume.object} does not exist` }
  const items =
    volume.items ?? Object.keys(object.data).map((key): KeyToPath => ({ key, path: key }))
  const files: Array<ProjectedFile> = []
  for (const item of items) {
    const value = Object.hasOwn(object.data, item.key) ? object.data[item.key] : undefined
    if (value === undefined) {
      if (volume.optional) continue
      return {
        problem: `volume ${volume.name}: key ${item.key} of ${volume.kind} ${volume.object} is missing`,
      }
    }
    files.push({
      path: item.path,
      mode: item.mode ?? volume.defaultMode,
      bytes: Buffer.from(value, "base64"),
    })
  }
  return files
}

/** The ConfigMaps and Secrets the volumes refer to, as `{kind, name, optional}`. */
export const volumeReferences = (volumes: ReadonlyArray<Volume> | undefined) =>
  (volumes ?? []).flatMap((v) =>
    v.kind === "EmptyDir" ? [] : [{ kind: v.kind, name: v.object, optional: v.optional }],
  )

/**
 * The problem with the volumes' references, or undefined: a missing object, or a missing key an
 * item names, is refused unless the volume is optional.
 */
export const volumeReferenceProblem = (
  namespace: string,
  volumes: ReadonlyArray<Volume> | undefined,
  lookup: Lookup,
): string | undefined => {
  for (const volume of volumes ?? []) {
    if (volume.kind === "EmptyDir" || volume.optional) continue
    const object = lookup(volume.kind, volume.object)
    if (object === undefined)
      return `volume ${volume.name} refers to ${volume.kind} ${namespace}/${volume.object}, which does not exist; apply it (in the same request or before) or mark the volume optional`
    for (const item of volume.items ?? [])
      if (!Object.hasOwn(object.data, item.key))
        return `volume ${volume.name} refers to key ${item.key} of ${volume.kind} ${namespace}/${volume.object}, which it does not have (keys: ${Object.keys(object.data).join(", ") || "none"})`
  }
  return undefined
}
