/**
 * Kubernetes `securityContext` (pod level and container level; the container's fields override the
 * pod's) translated into an app container's user and security settings, or refused by name.
 *
 * Honoured: runAsUser, runAsGroup, runAsNonRoot, readOnlyRootFilesystem,
 * allowPrivilegeEscalation (false: no new privileges), capabilities.drop, capabilities.add
 * (NET_BIND_SERVICE only), privileged: false. Every other field is refused with its name: a field a
 * user relies on is never dropped silently. The sidecar's UID and GID are refused too: with its own
 * user namespace an app's 1337 is not the sidecar's, but logs and audits should never show two.
 */
import { SIDECAR_UID } from "@beemesh/netns"
import { ADDABLE_CAPABILITY, type ContainerSpec, capabilityName } from "@beemesh/podman"

/** What an app's securityContext asks for, merged over pod and container levels. */
export interface AppSecurity {
  readonly runAsUser: number | undefined
  readonly runAsGroup: number | undefined
  readonly runAsNonRoot: boolean
  readonly readOnlyRootFilesystem: boolean
  readonly noNewPrivileges: boolean
  readonly capDrop: ReadonlyArray<string>
  readonly capAdd: ReadonlyArray<string>
}

const POD_FIELDS = new Set(["runAsUser", "runAsGroup", "runAsNonRoot"])
const CONTAINER_FIELDS = new Set([
  "runAsUser",
  "runAsGroup",
  "runAsNonRoot",
  "readOnlyRootFilesystem",
  "allowPrivilegeEscalation",
  "capabilities",
  "privileged",
])

type Fields = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const refusedField = (level: string, fields: Fields, honoured: ReadonlySet<string>) => {
  const refused = Object.keys(fields).filter((key) => !honoured.has(key))
  return refused.length === 0
    ? undefined
    : `${level}.${refused[0]} is not supported and is refused rather than ignored; supported: ${[...honoured].join(", ")}`
}

const id = (value: unknown, field: string): number | undefined | string => {
  if (value === undefined) return undefined
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 4294967294) {
    return `${field} must be a non-negative integer ID`
  }
  if (value === SIDECAR_UID) {
    return `${field} ${SIDECAR_UID} is the sidecar's identity, which no app container may take; choose another ID`
  }
  return value
}

const flag = (value: unknown, field: string): boolean | undefined | string =>
  value === undefined || typeof value === "boolean" ? value : `${field} must be true or false`

const names = (value: unknown, field: string): ReadonlyArray<string> | string =>
  value === undefined
    ? []
    : Array.isArray(value) && value.every((v) => typeof v === "string")
      ? value
      : `${field} must be a list of capability names`

/**
 * The app's security settings from the pod's and the container's securityContext, or the reason
 * they are refused (prefixed with `where`). Both absent: undefined.
 */
export const translateSecurityContext = (
  podLevel: unknown,
  containerLevel: unknown,
  where: string,
): AppSecurity | undefined | string => {
  if (podLevel === undefined && containerLevel === undefined) return undefined
  if (podLevel !== undefined && !isRecord(podLevel)) return "spec.securityContext must be an object"
  if (containerLevel !== undefined && !isRecord(containerLevel))
    return `${where}: securityContext must be an object`
  const pod = podLevel ?? {}
  const container = containerLevel ?? {}
  const podRefused = refusedField("spec.securityContext", pod, POD_FIELDS)
  if (podRefused !== undefined) return podRefused
  const containerRefused = refusedField("securityContext", container, CONTAINER_FIELDS)
  if (containerRefused !== undefined) return `${where}: ${containerRefused}`
  if (container.privileged === true) return `${where}: privileged containers are refused`
  const privileged = flag(container.privileged, "securityContext.privileged")
  if (typeof privileged === "string") return `${where}: ${privileged}`

  const merged = (key: string) => container[key] ?? pod[key]
  const runAsUser = id(merged("runAsUser"), "runAsUser")
  const runAsGroup = id(merged("runAsGroup"), "runAsGroup")
  const runAsNonRoot = flag(merged("runAsNonRoot"), "runAsNonRoot")
  const readOnly = flag(container.readOnlyRootFilesystem, "readOnlyRootFilesystem")
  const escalation = flag(container.allowPrivilegeEscalation, "allowPrivilegeEscalation")
  for (const value of [runAsUser, runAsGroup, runAsNonRoot, readOnly, escalation]) {
    if (typeof value === "string") return `${where}: securityContext.${value}`
  }
  const capabilities = container.capabilities ?? {}
  if (!isRecord(capabilities)) return `${where}: securityContext.capabilities must be an object`
  const extra = Object.keys(capabilities).filter((key) => key !== "add" && key !== "drop")
  if (extra.length > 0)
    return `${where}: securityContext.capabilities.${extra[0]} is not supported; use add and drop`
  const drop = names(capabilities.drop, "capabilities.drop")
  const add = names(capabilities.add, "capabilities.add")
  if (typeof drop === "string") return `${where}: securityContext.${drop}`
  if (typeof add === "string") return `${where}: securityContext.${add}`
  const refusedCaps = add.map(capabilityName).filter((c) => c !== ADDABLE_CAPABILITY)
  if (refusedCaps.length > 0) {
    return `${where}: securityContext.capabilities.add ${refusedCaps.join(", ")} is refused; an app may be given ${ADDABLE_CAPABILITY} only`
  }
  if (runAsGroup !== undefined && runAsUser === undefined) {
    return `${where}: securityContext.runAsGroup needs runAsUser as well (the image's user cannot be combined with another group here)`
  }
  if (runAsNonRoot === true && runAsUser === 0) {
    return `${where}: securityContext.runAsNonRoot is true but runAsUser is 0 (root); choose a non-zero runAsUser`
  }
  return {
    runAsUser: runAsUser as number | undefined,
    runAsGroup: runAsGroup as number | undefined,
    runAsNonRoot: runAsNonRoot === true,
    readOnlyRootFilesystem: readOnly === true,
    noNewPrivileges: escalation === false,
    capDrop: drop,
    capAdd: add,
  }
}

/** The pod-spec fields of an app container with these settings (user and security). */
export const appSecuritySpec = (
  security: AppSecurity | undefined,
): Pick<ContainerSpec, "user" | "security"> =>
  security === undefined
    ? {}
    : {
        ...(security.runAsUser === undefined
          ? {}
          : {
              user:
                security.runAsGroup === undefined
                  ? String(security.runAsUser)
                  : `${security.runAsUser}:${security.runAsGroup}`,
            }),
        security: {
          ...(security.runAsNonRoot ? { runAsNonRoot: true } : {}),
          ...(security.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
          ...(security.noNewPrivileges ? { noNewPrivileges: true } : {}),
          ...(security.capDrop.length > 0 ? { capDrop: security.capDrop } : {}),
          ...(security.capAdd.length > 0 ? { capAdd: security.capAdd } : {}),
        },
      }
