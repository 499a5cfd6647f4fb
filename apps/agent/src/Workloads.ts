/**
 * The agent's view of deployed workloads, as the HTTP API needs it. The implementation over Podman
 * lives in deployer/ (composed by Deployer.ts); the API only sees this service.
 */
import { Context, Data, type Effect } from "effect"
import type { ConfigKind, ConfigObject } from "./ConfigObjects"
import type { StateWriteFailed } from "./deployer/StateStore"
import type { ServicePort, Workload } from "./Manifest"
import type { ServiceObject } from "./ServiceObjects"
import type { PodIdentity } from "./Tokens"

/**
 * `CrashLoopBackOff`: a container of the replica exited and the replica waits out its back-off
 * before it is restarted (see `restartAt`). `Succeeded`: an app of a Pod whose restartPolicy does
 * not restart it ended with code 0; `Failed`: it ended with another code (or the replica could not
 * be created, which is retried).
 */
export type ReplicaPhase =
  | "Pending"
  | "Running"
  | "Restarting"
  | "CrashLoopBackOff"
  | "Succeeded"
  | "Failed"

/** How a container of the replica last ended, as `kubectl describe pod` shows "Last State". */
export interface ReplicaTermination {
  /** The container's name in the manifest (`sidecar` for the sidecar). */
  readonly container: string
  readonly exitCode: number
  /** ISO 8601 time it was found exited. */
  readonly at: string
  /** Its last lines of output (at most `LOG_TAIL_LINES`, each at most `LOG_LINE_MAX` characters). */
  readonly logTail: ReadonlyArray<string>
}

/** Bounds of `ReplicaTermination.logTail`: a status stays small whatever an app prints. */
export const LOG_TAIL_LINES = 5
export const LOG_LINE_MAX = 200

export interface ReplicaStatus {
  readonly name: string
  /** The pod's name (`bm-<namespace>-<replica>`), the name `beemesh logs` and the API take. */
  readonly pod: string
  /**
   * Its pod's name in Podman when that differs from `pod`: a pod made ahead of need (a standby
   * pod, see the agent's `--warm-pods`), named before its replica was known.
   */
  readonly podmanPod?: string | undefined
  readonly phase: ReplicaPhase
  /** Host port the sidecar's 8080 is published on. */
  readonly hostPort: number | undefined
  readonly restarts: number
  /** The version of the workload its pod runs (spec hash and images hash). */
  readonly revision?: string | undefined
  /** Its sidecar registered since its pod was (re)created. */
  readonly registered?: boolean | undefined
  readonly message: string | undefined
  /** How a container of this replica last exited, once one has. */
  readonly lastTermination?: ReplicaTermination | undefined
  /** ISO 8601 time a replica in `CrashLoopBackOff` is restarted. */
  readonly restartAt?: string | undefined
  /** The most recent events of this replica, oldest first (at most `MAX_REPLICA_EVENTS`). */
  readonly events: ReadonlyArray<ReplicaEvent>
}

/**
 * `Created` (pod created with its egress policy in force), `Started` (its containers started),
 * `Exited` (a container ended, with its exit code), `BackOff` (the delay before the next restart),
 * `Restarted` (recreated after a failure), `Unhealthy` (the pod, its holder or slirp4netns is
 * gone, or a liveness or startup probe failed), `Killing` (a container is stopped because its
 * probe failed; the restart follows), `Adopted` (taken over by a restarted agent), `Failed` (it
 * could not be created).
 */
export type ReplicaEventReason =
  | "Created"
  | "Started"
  | "Exited"
  | "BackOff"
  | "Adopted"
  | "Unhealthy"
  | "Killing"
  | "Restarted"
  | "Failed"

export interface ReplicaEvent {
  /** ISO 8601 time. */
  readonly at: string
  readonly reason: ReplicaEventReason
  readonly message: string
}

export const MAX_REPLICA_EVENTS = 10

/** Conditions as `kubectl describe deployment` shows them. */
export interface WorkloadCondition {
  readonly type: "Available" | "Progressing" | "ReplicaFailure"
  readonly status: "True" | "False"
  readonly reason: string
  readonly message: string
}

export interface WorkloadStatus {
  readonly namespace: string
  readonly name: string
  readonly kind: Workload["kind"]
  readonly replicas: number
  readonly services: ReadonlyArray<ServicePort>
  /**
   * While an update runs: the services of every version still running, which its replicas may
   * register (an old replica renews what it was started with, such as a Service since deleted).
   */
  readonly registrable?: ReadonlyArray<ServicePort> | undefined
  /** The current version (spec hash and images hash): what "updated" replicas run. */
  readonly revision?: string | undefined
  /** Replicas wanted (as `replicas`), running, running the current spec, and serving. */
  readonly desired: number
  readonly ready: number
  readonly updated: number
  readonly available: number
  readonly conditions: ReadonlyArray<WorkloadCondition>
  readonly pods: ReadonlyArray<ReplicaStatus>
}

/**
 * A pod this agent owns that no known state wants (the state file was missing when the agent
 * started): it keeps running until an operator deletes its workload or applies it again.
 */
export interface OrphanPod {
  readonly pod: string
  readonly namespace: string
  readonly workload: string
  readonly replica: string
}

export class WorkloadNotFound extends Data.TaggedError("WorkloadNotFound")<{
  readonly namespace: string
  readonly name: string
}> {
  override get message() {
    return `workload ${this.namespace}/${this.name} does not exist (GET /v1/workloads lists them)`
  }
}

/**
 * A workload was removed except some of its pods, which Podman could not remove: they are kept as
 * its orphans (listed by GET /v1/workloads), and removing the workload again retries them.
 */
export class WorkloadNotRemoved extends Data.TaggedError("WorkloadNotRemoved")<{
  readonly namespace: string
  readonly name: string
  readonly failures: ReadonlyArray<{ readonly pod: string; readonly reason: string }>
}> {
  override get message() {
    const pods = this.failures.map((f) => `${f.pod} (${f.reason})`).join("; ")
    return `workload ${this.namespace}/${this.name} was removed but ${this.failures.length} of its pods could not be: ${pods}; they are kept as its orphans (GET /v1/workloads lists them): DELETE it again to retry`
  }
}

/** A failure to deploy: nothing of the workload is left behind. */
export class DeployFailed extends Data.TaggedError("DeployFailed")<{
  readonly namespace: string
  readonly name: string
  readonly reason: string
  /** The HTTP class of the cause: the request was wrong (client) or the host failed (server). */
  readonly fault: "client" | "server"
}> {
  override get message() {
    return `deploying ${this.namespace}/${this.name} failed: ${this.reason}`
  }
}

/** A pod name the request needs is another workload's: nothing of the request was deployed. */
export class PodNameTaken extends Data.TaggedError("PodNameTaken")<{
  readonly pod: string
  /** Who asked for it, e.g. "Pod shop/web-0". */
  readonly wanted: string
  /** Who holds it, e.g. "replica web-0 of Deployment shop/web". */
  readonly holder: string
}> {
  override get message() {
    return `pod name ${this.pod} of ${this.wanted} is taken by ${this.holder}; rename one of them (pod names are bm-<namespace>-<replica> and must be unique on this agent)`
  }
}

/** A sidecar registered for a replica whose pod is not whole: it must not get traffic yet. */
export class ReplicaNotReady extends Data.TaggedError("ReplicaNotReady")<{
  readonly pod: string
  readonly reason: string
}> {
  override get message() {
    return `pod ${this.pod} is not ready (${this.reason}); its services are published once every container runs`
  }
}

/** A replica whose pod this agent runs now, as its sidecar's token and registration are checked. */
export interface LiveReplica {
  /** The generation its pod was created with: a pod token must carry it (see Tokens.ts). */
  readonly generation: string
  /** Host port its sidecar's 8080 is published on (undefined while it has none). */
  readonly hostPort: number | undefined
}

/** A replica's pod as a sidecar certificate names it. */
export interface PodClaims {
  /** The pod's labels (the workload's and its template's), which NetworkPolicy selectors match. */
  readonly labels: Readonly<Record<string, string>>
  /** Which creation of the pod: a recreated pod's sidecar gets certificates naming the new one. */
  readonly generation: string
}

/** A ConfigMap or Secret as listed: its keys, never its values. */
export interface ConfigSummary {
  readonly kind: ConfigKind
  readonly namespace: string
  readonly name: string
  readonly keys: ReadonlyArray<string>
  /** The workloads (`namespace/name`) that refer to it. */
  readonly usedBy: ReadonlyArray<string>
}

export class ConfigNotFound extends Data.TaggedError("ConfigNotFound")<{
  readonly kind: ConfigKind
  readonly namespace: string
  readonly name: string
}> {
  override get message() {
    return `${this.kind} ${this.namespace}/${this.name} does not exist (GET /v1/configs lists ConfigMaps and Secrets)`
  }
}

/** Deleting an object a workload refers to would break its next pod: refused, naming the users. */
export class ConfigInUse extends Data.TaggedError("ConfigInUse")<{
  readonly kind: ConfigKind
  readonly namespace: string
  readonly name: string
  readonly usedBy: ReadonlyArray<string>
}> {
  override get message() {
    return `${this.kind} ${this.namespace}/${this.name} is used by ${this.usedBy.join(", ")}; delete or change those workloads first`
  }
}

/** A `v1 Service` as listed: what it is, and the workloads (`namespace/name`) it selects. */
export interface ServiceSummary extends ServiceObject {
  readonly selects: ReadonlyArray<string>
}

export class ServiceNotFound extends Data.TaggedError("ServiceNotFound")<{
  readonly namespace: string
  readonly name: string
}> {
  override get message() {
    return `Service ${this.namespace}/${this.name} does not exist (GET /v1/configs lists them with the ConfigMaps and Secrets)`
  }
}

export class WorkloadManager extends Context.Service<
  WorkloadManager,
  {
    /**
     * Creates or replaces the workloads, all or none: when one fails, the ones before it are put
     * back as they were. Returns their status once their pods were created.
     */
    readonly apply: (
      workloads: ReadonlyArray<Workload>,
      /** ConfigMaps and Secrets applied with them (before them: the workloads may use them). */
      configs?: ReadonlyArray<ConfigObject>,
      /** Services applied with them: the workloads they select (new or running) get them. */
      services?: ReadonlyArray<ServiceObject>,
    ) => Effect.Effect<
      ReadonlyArray<WorkloadStatus>,
      DeployFailed | PodNameTaken | StateWriteFailed
    >
    readonly list: () => Effect.Effect<ReadonlyArray<WorkloadStatus>>
    /**
     * The `services` and `registrable` of `get`, without the rest of the status (whose size grows
     * with the replica count): what every lease renewal checks. Absent: `get` serves.
     */
    readonly offered?: (
      namespace: string,
      name: string,
    ) => Effect.Effect<Pick<WorkloadStatus, "services" | "registrable">, WorkloadNotFound>
    readonly get: (
      namespace: string,
      name: string,
    ) => Effect.Effect<WorkloadStatus, WorkloadNotFound>
    /** Removes the workload's pods (or its orphans) and withdraws its service records. */
    readonly remove: (
      namespace: string,
      name: string,
    ) => Effect.Effect<void, WorkloadNotFound | WorkloadNotRemoved | StateWriteFailed>
    readonly orphans: () => Effect.Effect<ReadonlyArray<OrphanPod>>
    /** The ConfigMaps and Secrets held, with their keys (never their values). */
    readonly configs: () => Effect.Effect<ReadonlyArray<ConfigSummary>>
    /** Removes a ConfigMap or Secret no workload refers to. */
    readonly removeConfig: (
      kind: ConfigKind,
      namespace: string,
      name: string,
    ) => Effect.Effect<void, ConfigNotFound | ConfigInUse | StateWriteFailed>
    /** The Services held, with the workloads each selects. */
    readonly services: () => Effect.Effect<ReadonlyArray<ServiceSummary>>
    /** Removes a Service: the workloads it selected stop offering it (they roll). */
    readonly removeService: (
      namespace: string,
      name: string,
    ) => Effect.Effect<void, ServiceNotFound | DeployFailed | PodNameTaken | StateWriteFailed>
    /**
     * A pod's sidecar registers (true) or withdraws (false). A registered replica is ready, which
     * is what an update waits for before it removes an old replica; a registration from a pod
     * whose containers do not all run is refused (ReplicaNotReady), so that it gets no traffic.
     */
    readonly registered: (
      identity: PodIdentity,
      registered: boolean,
    ) => Effect.Effect<void, ReplicaNotReady>
    /**
     * The replica `identity` names, while this agent runs a pod for it (created or adopted, not yet
     * removed); undefined otherwise (deleted, never created here, or an orphan).
     */
    readonly live: (identity: PodIdentity) => Effect.Effect<LiveReplica | undefined>
    /**
     * What a sidecar certificate says about the pod `identity` names: its labels and which
     * creation of the pod it is; undefined when this agent runs no such replica.
     */
    readonly podClaims?: (identity: PodIdentity) => Effect.Effect<PodClaims | undefined>
  }
>()("@beemesh/agent/WorkloadManager") {}
