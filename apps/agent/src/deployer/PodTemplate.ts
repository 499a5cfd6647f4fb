/**
 * The pod template of a replica (pure): its Podman pod name, the pod spec with the sidecar
 * injected, the labels that let a restarted agent recognise it, and the spec hash that decides
 * whether a running pod still matches its workload.
 */
import { createHash } from "node:crypto"
import { join } from "node:path"
import {
  SameHostSockets,
  SidecarEnvironment,
  SidecarIdentity,
  SidecarPorts,
  SidecarShutdown,
  UpstreamNames,
} from "@beemesh/contract"
import { gatewayAddress, type SlirpOptions } from "@beemesh/netns"
import type { MeshKey } from "@beemesh/p2p"
import { type ContainerSpec, type PodSpecInput, SIDECAR_PORT } from "@beemesh/podman"
import { Order, Redacted, Result } from "effect"
import { DEFAULT_TERMINATION_GRACE_SECONDS, type Workload } from "../Manifest"
import { publishedAddress } from "../RegistrationAddresses"
import { appSecuritySpec } from "../SecurityContext"
import { offeredServices } from "../ServiceObjects"
import { issuePodToken } from "../Tokens"

export const LABEL_NAMESPACE = "io.beemesh.namespace"
export const LABEL_WORKLOAD = "io.beemesh.workload"
export const LABEL_REPLICA = "io.beemesh.replica"
export const LABEL_SPEC = "io.beemesh.spec"
/** The hash of the app images' IDs the pod was created from (see imagesHash). */
export const LABEL_IMAGES = "io.beemesh.images"
/**
 * The pod's generation: drawn anew each time the pod is created and signed into its sidecar's pod
 * token, so that a token outlives neither its pod's deletion nor its recreation (see Tokens.ts).
 * Not a secret (a token also needs the agent's key); a restarted agent reads it back from here.
 */
export const LABEL_GENERATION = "io.beemesh.generation"

/**
 * Marks a standby pod (WarmPods.ts): made ahead of need with its sidecar only, claimed by a replica
 * later. Its name and labels stay the standby's; a claimed one's replica labels are on its apps.
 */
export const LABEL_STANDBY = "io.beemesh.standby"

/** One creation of a replica's pod: the replica's name and the pod's generation. */
export interface ReplicaInstance {
  readonly name: string
  readonly generation: string
}

/** What the template takes from the agent's settings. */
export interface TemplateOptions {
  readonly sidecarImage: string
  readonly slirp: SlirpOptions
  /** Host address the sidecars' port 8080 is published on and advertised at. */
  readonly advertiseHost: string
  /** The host is behind a NAT: relays its sidecars hold a slot at (see the agent's `--relay`). */
  readonly relays?: ReadonlyArray<string>
  /** The agent API's port, reached from pods at host.containers.internal. */
  readonly apiPort: number
  readonly podTokenKey: string
  /**
   * The mesh key the sidecars run their private network with (handed over in their environment,
   * which apps cannot read). Absent: open sidecars.
   */
  readonly meshKey?: MeshKey
  /**
   * The host's same-host socket directory (SameHostDirectory.ts), mounted into sidecars only:
   * pods of this agent then reach each other on unix sockets instead of through slirp4netns.
   * Absent: network addresses only.
   */
  readonly sameHostDirectory?: string
  /**
   * The mesh authority's peer id: the sidecars run certified membership under it (their chain
   * comes with each registration lease). Absent: no membership check.
   */
  readonly meshAuthority?: string
}

/** What decides a pod's spec hash besides its workload. */
export type HashOptions = Pick<
  TemplateOptions,
  "sidecarImage" | "slirp" | "relays" | "meshKey" | "sameHostDirectory" | "meshAuthority"
>

/** Marks the pods whose sidecars have the same-host directory (see specHash). */
const SAME_HOST = "samehost/1"

export const workloadKey = (namespace: string, name: string) => `${namespace}/${name}`

const isDigit = (code: number) => code >= 48 && code <= 57

/** The end of the run of digits that starts at `from`, and where it starts without leading zeros. */
const digitRun = (text: string, from: number) => {
  let end = from
  while (end < text.length && isDigit(text.charCodeAt(end))) end++
  let start = from
  while (start < end - 1 && text.charCodeAt(start) === 48) start++
  return { start, end }
}

/**
 * Pod names in the order a person reads them, `web-2` before `web-10`: runs of digits compare as
 * numbers (of any length), every other character by code unit; names equal so (`web-01`,
 * `web-1`) by code unit. Not `localeCompare(…, { numeric: true })`: ICU's collation, for names
 * that are ASCII, costs the agent about 2 MiB of memory it keeps.
 */
export const podNameOrder: Order.Order<string> = Order.make((a, b) => {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(j)
    if (isDigit(x) && isDigit(y)) {
      const m = digitRun(a, i)
      const n = digitRun(b, j)
      const lengths = m.end - m.start - (n.end - n.start)
      if (lengths !== 0) return lengths < 0 ? -1 : 1
      const digits = Order.String(a.slice(m.start, m.end), b.slice(n.start, n.end))
      if (digits !== 0) return digits
      i = m.end
      j = n.end
      continue
    }
    if (x !== y) return x < y ? -1 : 1
    i++
    j++
  }
  if (i < a.length || j < b.length) return i < a.length ? 1 : -1
  return Order.String(a, b)
})

export const podNameOf = (workload: Pick<Workload, "namespace">, replica: string) =>
  `bm-${workload.namespace}-${replica}`

/** Podman's limit on pod names (a hostname). */
export const MAX_POD_NAME_LENGTH = 63

/** Marks the pods whose upstreams have names (see specHash). */
const UPSTREAM_NAMES = "upstream-names/1"

const shortHash = (value: unknown) =>
  createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16)

/**
 * Changes whenever anything in the manifest that shapes a pod changes (not the replica count:
 * scaling keeps the running pods; not the update policy: it says how pods change, not what they
 * are); a running pod with another hash is replaced.
 */
export const specHash = (workload: Workload, options: HashOptions) =>
  shortHash([
    // Port names shape no pod (what a Service makes of them is `selectedBy`).
    { ...workload, replicas: undefined, update: undefined, portNames: undefined },
    options.sidecarImage,
    options.slirp,
    // Only when set, so that pods of a reachable host keep the hash they always had.
    ...(options.relays === undefined ? [] : [options.relays]),
    // Pods with upstreams from before upstreams had names lack the hosts entries: replace them.
    ...(workload.upstreams.length === 0 ? [] : [UPSTREAM_NAMES]),
    // A rotated mesh key replaces the pods: their sidecars hold the old one. Only a fingerprint:
    // the label is readable by anyone who can list pods.
    ...(options.meshKey === undefined ? [] : [`mesh:${options.meshKey.fingerprint}`]),
    // Pods from before the same-host path lack its mount: replace them (not its host path,
    // which only moves with the data directory).
    ...(options.sameHostDirectory === undefined ? [] : [SAME_HOST]),
    // A new authority replaces the pods: their sidecars would refuse the new certificates.
    ...(options.meshAuthority === undefined ? [] : [`authority:${options.meshAuthority}`]),
  ])

/**
 * The identity of the app images, by the IDs Podman gives them in container order: a tag rebuilt
 * to another image changes it, an unchanged image does not.
 */
export const imagesHash = (imageIds: ReadonlyArray<string>) => shortHash(imageIds)

/** A version of a workload's pods: its spec hash and its images' hash. */
export const revisionOf = (spec: string, images: string) => `${spec}.${images}`

/** The images part of a revision. */
export const imagesOfRevision = (revision: string) => revision.slice(revision.indexOf(".") + 1)

/** The revision a pod's labels name (a pod from before image hashes has an empty images part). */
export const revisionOfLabels = (labels: Readonly<Record<string, string>>) =>
  revisionOf(labels[LABEL_SPEC] ?? "", labels[LABEL_IMAGES] ?? "")

/** The gateway address, not a name: the sidecar depends on no file an app might influence. */
export const agentUrlOf = (options: Pick<TemplateOptions, "slirp" | "apiPort">) =>
  `http://${gatewayAddress(options.slirp)}:${options.apiPort}`

/** The sidecar's environment for one replica, in the contract's encoding the sidecar decodes. */
export const sidecarEnvironment = (
  workload: Workload,
  replica: ReplicaInstance,
  hostPort: number,
  options: TemplateOptions,
): Record<string, string> => {
  const probes = (field: "readinessProbe" | "livenessProbe" | "startupProbe") =>
    workload.containers.flatMap((c) => (c[field] === undefined ? [] : [c[field]]))
  const readinessProbes = probes("readinessProbe")
  const livenessProbes = probes("livenessProbe")
  const startupProbes = probes("startupProbe")
  const encoded = SidecarEnvironment.encode({
    namespace: workload.namespace,
    workload: workload.name,
    pod: replica.name,
    services: offeredServices(workload),
    upstreams: workload.upstreams,
    agentUrl: agentUrlOf(options),
    podToken: Redacted.make(
      issuePodToken(
        options.podTokenKey,
        { namespace: workload.namespace, workload: workload.name, pod: replica.name },
        replica.generation,
      ),
    ),
    // The one address its registrations may carry besides relay circuits (RegistrationAddresses).
    advertise: [publishedAddress(options.advertiseHost, hostPort)],
    ...(options.relays === undefined ? {} : { relays: options.relays }),
    ...(readinessProbes.length === 0 ? {} : { readinessProbes }),
    ...(livenessProbes.length === 0 ? {} : { livenessProbes }),
    ...(startupProbes.length === 0 ? {} : { startupProbes }),
    ...(options.meshKey === undefined ? {} : { meshKey: Redacted.make(options.meshKey.hex) }),
    ...(options.sameHostDirectory === undefined
      ? {}
      : { sameHostDirectory: SameHostSockets.MOUNT }),
    ...(options.meshAuthority === undefined ? {} : { meshAuthority: options.meshAuthority }),
    listenPort: SidecarPorts.PROXY_PORT,
    healthPort: SidecarPorts.HEALTH_PORT,
  })
  // Manifests and the agent's configuration are validated by the same rules before this point.
  if (Result.isFailure(encoded))
    throw new Error(
      `replica ${replica.name}: the sidecar environment is invalid: ${encoded.failure.message}`,
    )
  return encoded.success
}

/** The sidecar container of a pod, with its environment. */
export const sidecarContainer = (
  options: Pick<TemplateOptions, "sidecarImage" | "sameHostDirectory">,
  env: Record<string, string>,
): ContainerSpec => ({
  name: "sidecar",
  role: "sidecar",
  image: options.sidecarImage,
  user: SidecarIdentity.podmanUser(SidecarIdentity.UID),
  ports: [SIDECAR_PORT],
  env,
  // Not the pod's grace period: the sidecar exits within 2 s of SIGTERM, and one that lost its
  // SIGTERM (node drops one that comes while it starts) must not hold the pod's removal for 30 s.
  stopTimeoutSeconds: SidecarShutdown.STOP_TIMEOUT_SECONDS,
  // The sidecar's only mount: app containers never get the socket directory.
  ...(options.sameHostDirectory === undefined
    ? {}
    : { mounts: [{ source: options.sameHostDirectory, destination: SameHostSockets.MOUNT }] }),
})

/** The pod spec of one replica. */
export const replicaPodSpec = (
  workload: Workload,
  replica: ReplicaInstance,
  hostPort: number,
  options: TemplateOptions,
  images?: string,
  /** Each app container's environment with its ConfigMap and Secret references resolved. */
  resolvedEnv?: ReadonlyArray<Readonly<Record<string, string>>>,
  /** The host directory of each of the workload's volumes (PodVolumes.prepare). */
  volumePaths?: ReadonlyMap<string, string>,
): PodSpecInput => {
  const mountsOf = (c: Workload["containers"][number]) =>
    (c.volumeMounts ?? []).flatMap((m) => {
      const source = volumePaths?.get(m.name)
      if (source === undefined)
        throw new Error(`replica ${replica}: volume ${m.name} was not prepared before its pod`)
      return [
        {
          source: m.subPath === undefined ? source : join(source, m.subPath),
          destination: m.mountPath,
          readOnly: m.readOnly,
        },
      ]
    })
  const sidecar = sidecarContainer(
    options,
    sidecarEnvironment(workload, replica, hostPort, options),
  )
  const apps = workload.containers.map(
    (c, index): ContainerSpec => ({
      name: c.name,
      role: "app",
      image: c.image,
      ...(c.command === undefined ? {} : { entrypoint: c.command }),
      ...(c.args === undefined ? {} : { command: c.args }),
      ...(c.workingDir === undefined ? {} : { workdir: c.workingDir }),
      env: resolvedEnv?.[index] ?? Object.fromEntries(c.env.map((e) => [e.name, e.value])),
      ...(c.volumeMounts === undefined ? {} : { mounts: mountsOf(c) }),
      ...appSecuritySpec(c.security),
      ...(c.memoryLimitBytes === undefined && c.cpuLimitMillis === undefined
        ? {}
        : {
            resources: {
              ...(c.memoryLimitBytes === undefined ? {} : { memoryBytes: c.memoryLimitBytes }),
              ...(c.cpuLimitMillis === undefined ? {} : { cpus: c.cpuLimitMillis / 1000 }),
            },
          }),
    }),
  )
  return {
    name: podNameOf(workload, replica.name),
    labels: {
      [LABEL_NAMESPACE]: workload.namespace,
      [LABEL_WORKLOAD]: workload.name,
      [LABEL_REPLICA]: replica.name,
      [LABEL_GENERATION]: replica.generation,
      [LABEL_SPEC]: specHash(workload, options),
      ...(images === undefined ? {} : { [LABEL_IMAGES]: images }),
    },
    network: options.slirp,
    // The upstreams' names (`orders`, `orders.<ns>.svc` …) at the addresses the sidecar serves them.
    ...(workload.upstreams.length === 0
      ? {}
      : { hosts: UpstreamNames.hostEntries(workload.namespace, workload.upstreams) }),
    hostIp: options.advertiseHost,
    hostPort,
    containers: [sidecar, ...apps],
    // Only containers that handle SIGTERM wait it out (see terminatePod of @beemesh/podman).
    stopTimeoutSeconds: workload.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS,
  }
}
