/**
 * The HTTP status of every failure the API can meet, decided here at the adapter by the error's
 * class: the agent's own errors and the registry's say nothing about HTTP.
 */
import {
  DhtOperationFailed,
  InvalidName,
  ManifestNotFound,
  PublishRejected,
  RecordRejected,
  RecordTooLarge,
} from "@beemesh/registry"
import { Data } from "effect"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import { DirectoryUnavailable } from "../Directory"
import { ProbeNotFound } from "../deployer/ReplicaProbes"
import { ManifestInvalid } from "../Manifest"
import { NetworkPolicyNotFound } from "../NetworkPolicies"
import {
  ConfigInUse,
  ConfigNotFound,
  DeployFailed,
  PodNameTaken,
  ReplicaNotReady,
  ServiceNotFound,
  WorkloadNotFound,
  WorkloadNotRemoved,
} from "../Workloads"

/**
 * A failure the adapter itself raises (bad token, bad body …), with its status. `detail` is for the
 * agent's log only (a defect's cause): answers never carry stacks or the agent's own paths.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly tag: string,
    message: string,
    readonly detail?: string,
  ) {
    super(message)
  }
  get _tag(): string {
    return this.tag
  }
}

/** A sidecar's registration body does not match the contract (@beemesh/contract Registration). */
export class RegistrationInvalid extends Data.TaggedError("RegistrationInvalid")<{
  readonly reason: string
}> {
  override get message() {
    return `registration: ${this.reason}`
  }
}

type ErrorClass = abstract new (...args: never) => object

const STATUS: ReadonlyArray<readonly [ErrorClass, ContentfulStatusCode]> = [
  [ManifestInvalid, 400],
  [RegistrationInvalid, 400],
  [InvalidName, 400],
  [WorkloadNotFound, 404],
  // Some of its pods are still there (kept as orphans): the host failed, not the request.
  [WorkloadNotRemoved, 500],
  [ProbeNotFound, 404],
  [PodNameTaken, 409],
  [ConfigNotFound, 404],
  [ConfigInUse, 409],
  [ServiceNotFound, 404],
  [NetworkPolicyNotFound, 404],
  [ManifestNotFound, 404],
  [RecordTooLarge, 413],
  [DirectoryUnavailable, 503],
  // The sidecar retries a 503: it registers once its pod's containers all run.
  [ReplicaNotReady, 503],
  [PublishRejected, 503],
  // The registry refuses to sign with this agent's own membership certificate (revoked or
  // expired): the mesh will not take its records until the operator renews it.
  [RecordRejected, 503],
  [DhtOperationFailed, 503],
]

/** The status to answer `error` with; 500 for anything not known to be the client's or a peer's. */
export const httpStatusOf = (error: unknown): ContentfulStatusCode => {
  if (error instanceof ApiError) return error.status
  // A deployment the request made impossible (a name taken by a foreign pod …) is unprocessable.
  if (error instanceof DeployFailed) return error.fault === "client" ? 422 : 500
  if (error instanceof ManifestInvalid && error.unprocessable === true) return 422
  return STATUS.find(([errorClass]) => error instanceof errorClass)?.[1] ?? 500
}
