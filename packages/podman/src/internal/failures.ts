/** Podman's HTTP failures as typed errors, from its `cause` text and the status. */
import { Effect, Result, Schedule, Schema } from "effect"
import {
  ImageMissing,
  NameInUse,
  NotFound,
  type PodmanError,
  type PodmanObjectKind,
  RuntimeFailure,
} from "../Errors.js"
import * as R from "../Responses.js"

export interface Subject {
  readonly kind: PodmanObjectKind
  readonly name: string
  readonly image?: string
}

export const errorText = (body: Buffer) => {
  const text = body.toString("utf8")
  const decoded = Schema.decodeUnknownResult(R.ErrorBody)(safeJson(text))
  return Result.isSuccess(decoded)
    ? { cause: decoded.success.cause ?? "", message: decoded.success.message }
    : { cause: "", message: text.trim() }
}

export const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Maps an HTTP failure to the typed error, from Podman's `cause` and status. */
export const classifyFailure = (
  operation: string,
  status: number,
  body: Buffer,
  subject: Subject,
): PodmanError => {
  const { cause, message } = errorText(body)
  const text = `${cause} ${message}`
  const missing = /no such (pod|container|exec session|exec)\b/.exec(text)
  if (missing) {
    const kind = missing[1] === "pod" ? "pod" : missing[1] === "container" ? "container" : "exec"
    return new NotFound({
      kind,
      name: kind === subject.kind ? subject.name : (nameFromMessage(message) ?? subject.name),
    })
  }
  if (/image not known|no such image|failed to find image/.test(text)) {
    if (subject.kind === "image" && operation !== "container create") {
      return new NotFound({ kind: "image", name: subject.name })
    }
    return new ImageMissing({ image: subject.image ?? subject.name, hint: IMAGE_HINT })
  }
  // Not name clashes: a port taken ("address already in use"), and "has dependent containers",
  // which Podman wraps in its "container already exists" error.
  if (
    /already exists|(?<!address )already in use/.test(text) &&
    !/dependent containers/.test(text)
  ) {
    return new NameInUse({ kind: subject.kind, name: subject.name })
  }
  if (status === 404) return new NotFound({ kind: subject.kind, name: subject.name })
  return new RuntimeFailure({ operation, status, podmanMessage: message || `HTTP ${status}` })
}

/**
 * Podman could not publish a port whose host port is taken. rootlessport (Podman's default port
 * handler) says "address already in use"; slirp4netns (`port_handler=slirp4netns`) names no
 * cause, only "add_hostfwd: slirp_add_hostfwd failed" (also for a host address it cannot bind,
 * which a bounded retry on another port then reports the same way).
 */
export const isPortTaken = (podmanMessage: string) =>
  /address already in use|slirp_add_hostfwd failed/.test(podmanMessage)

const nameFromMessage = (message: string) => /name or ID "?([^" ]+)"? found/.exec(message)?.[1]

export const IMAGE_HINT =
  "No registry is reachable: build it locally (podman build -t <image> <context dir>, FROM scratch or a local base) or with PodmanClient.images.build"

/**
 * A removal that lost a race with a container's exit, which a later attempt finishes. Podman 4.3
 * runs the conmon of a container with its own ID map in a mount namespace of its own, which holds
 * the container's `userdata/shm` until conmon exits: a removal racing that exit fails with
 * "unlinkat …/userdata/shm: device or resource busy". A forced removal that stops a container just
 * as its process exits (SIGKILLed a moment before, or at the end of its stop timeout) fails with
 * "sending SIGKILL … container state improper: stopped" (or "exited"). Both come after part of the
 * object is removed.
 */
export const isRemovalRace = (e: PodmanError) =>
  e._tag === "RuntimeFailure" &&
  /device or resource busy|container state improper/.test(e.podmanMessage)

/**
 * A removal, tried again while it loses a race with a container's exit (`isRemovalRace`). A later
 * attempt that finds the object gone (NotFound) has finished the job.
 */
export const removeRetryingExitRaces = <E extends PodmanError>(
  once: Effect.Effect<void, E>,
): Effect.Effect<void, E> =>
  once.pipe(
    Effect.catchIf(isRemovalRace, () =>
      once.pipe(
        Effect.catchIf(
          (e: E) => e._tag === "NotFound",
          () => Effect.void,
        ),
        Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 8, while: isRemovalRace }),
      ),
    ),
  )
