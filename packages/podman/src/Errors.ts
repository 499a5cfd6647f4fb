/**
 * Typed failures of the Podman client and the isolated-pod builder. Each carries what a person needs
 * to act: the sockets tried, the object's kind and name, Podman's own message.
 */
import { Data } from "effect"

/** No Podman API answered. Lists every socket tried, in order, and why each failed. */
export class PodmanUnavailable extends Data.TaggedError("PodmanUnavailable")<{
  readonly socketsTried: ReadonlyArray<{
    readonly path: string
    readonly source: string
    readonly reason: string
  }>
  readonly hint: string
}> {
  override get message() {
    const tried = this.socketsTried.map((s) => `${s.path} (${s.source}: ${s.reason})`).join("; ")
    return `no Podman API service answered; tried ${tried || "no socket"}. ${this.hint}`
  }
}

export type PodmanObjectKind = "pod" | "container" | "image" | "exec"

/** The named pod, container, image or exec session does not exist. */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly kind: PodmanObjectKind
  readonly name: string
}> {
  override get message() {
    return `${this.kind} ${this.name} not found`
  }
}

/** A pod or container with that name exists already. */
export class NameInUse extends Data.TaggedError("NameInUse")<{
  readonly kind: PodmanObjectKind
  readonly name: string
}> {
  override get message() {
    return `${this.kind} name ${this.name} is already in use; remove the existing ${this.kind} or choose another name`
  }
}

/** The image is not in local storage. No registry is reachable, so it must be built locally. */
export class ImageMissing extends Data.TaggedError("ImageMissing")<{
  readonly image: string
  readonly hint: string
}> {
  override get message() {
    return `image ${this.image} is not present locally. ${this.hint}`
  }
}

/** Podman refused or failed an operation; `podmanMessage` is Podman's own text. */
export class RuntimeFailure extends Data.TaggedError("RuntimeFailure")<{
  readonly operation: string
  readonly status: number
  readonly podmanMessage: string
}> {
  override get message() {
    return `podman ${this.operation} failed (HTTP ${this.status}): ${this.podmanMessage}`
  }
}

/** Any failure of a client call. */
export type PodmanError = PodmanUnavailable | NotFound | NameInUse | ImageMissing | RuntimeFailure

/** A pod spec broke a rule; checked before anything is created. */
export class PodSpecInvalid extends Data.TaggedError("PodSpecInvalid")<{
  /** Path of the offending field, e.g. `containers[1].ports`. */
  readonly field: string
  readonly reason: string
}> {
  override get message() {
    return `invalid pod spec at ${this.field}: ${this.reason}`
  }
}

/**
 * A pod's egress policy could not be put in force (`create`: the pod was removed, never started) or
 * could be neither verified nor re-applied (`adopt`: the pod must be recreated).
 */
export class PodEgressFailed extends Data.TaggedError("PodEgressFailed")<{
  readonly pod: string
  readonly operation: "create" | "adopt"
  readonly reason: string
}> {
  override get message() {
    return this.operation === "create"
      ? `pod ${this.pod} was removed without being started: its egress policy could not be put in force: ${this.reason}`
      : `the egress policy of pod ${this.pod} can be neither verified nor re-applied: ${this.reason}; recreate the pod`
  }
}

/**
 * The image of the container that holds a pod's network namespace cannot be built: its catatonit
 * binary is missing or not static (a `FROM scratch` image has no libraries to link against).
 */
export class HolderImageUnavailable extends Data.TaggedError("HolderImageUnavailable")<{
  readonly catatonit: string
  readonly reason: string
}> {
  override get message() {
    return `cannot build the pod holder image from ${this.catatonit}: ${this.reason}; fix: apt-get install catatonit (a static binary), or pass holderImage with an image whose entrypoint holds the pod (e.g. catatonit -P)`
  }
}

/** A wait ran out of time. Says what was awaited, on what, and what was last seen. */
export class WaitTimedOut extends Data.TaggedError("WaitTimedOut")<{
  readonly condition: string
  readonly target: string
  readonly timeoutMs: number
  readonly lastObserved: string
}> {
  override get message() {
    return `timed out after ${this.timeoutMs} ms waiting for ${this.condition} on ${this.target} (last observed: ${this.lastObserved})`
  }
}
