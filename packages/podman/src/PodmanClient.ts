/**
 * A typed client for Podman's libpod REST API on its unix socket. Narrow services: system, pods,
 * containers, images, events. Responses are decoded with Schema; failures are typed (Errors.ts).
 */
import { readFile } from "node:fs/promises"
import type { IncomingMessage } from "node:http"
import { Cause, Context, Effect, Layer, Queue, Result, Schema, type Scope, Stream } from "effect"
import { execa } from "execa"
import { type EmbeddedServiceOptions, startEmbeddedService } from "./EmbeddedService.js"
import {
  ImageMissing,
  NameInUse,
  NotFound,
  type PodmanError,
  type PodmanObjectKind,
  PodmanUnavailable,
  RuntimeFailure,
} from "./Errors.js"
import { type RawRequest, type RawResponse, request, requestStreaming } from "./internal/http.js"
import { demultiplex, listeningPortsOf } from "./internal/multiplex.js"
import * as R from "./Responses.js"
import { parseContainerHost, type SocketCandidate, socketCandidates } from "./Socket.js"

/** libpod API prefix; v4.0.0 is the oldest 4.x API and what Podman 4.3 serves. */
export const API_PREFIX = "/v4.0.0/libpod"

// --- request bodies (libpod specgen, snake_case as Podman expects) ------------------------------

export interface PortMapping {
  readonly host_ip?: string
  readonly host_port: number
  readonly container_port: number
  readonly protocol?: "tcp" | "udp"
}

export interface PodCreateRequest {
  readonly name: string
  readonly labels?: Readonly<Record<string, string>>
  readonly netns?: { readonly nsmode: string; readonly value?: string }
  readonly network_options?: Readonly<Record<string, ReadonlyArray<string>>>
  readonly hostadd?: ReadonlyArray<string>
  readonly portmappings?: ReadonlyArray<PortMapping>
  readonly share?: ReadonlyArray<string>
  readonly no_infra?: boolean
}

export interface Rlimit {
  readonly type: "nofile" | "nproc"
  readonly hard: number
  readonly soft: number
}

export interface Mount {
  readonly destination: string
  readonly source: string
  readonly type: "bind"
  readonly options?: ReadonlyArray<string>
}

export interface HealthConfig {
  readonly Test: ReadonlyArray<string>
  /** Durations in nanoseconds. */
  readonly Interval?: number
  readonly Timeout?: number
  readonly StartPeriod?: number
  readonly Retries?: number
}

export interface ContainerCreateRequest {
  readonly name: string
  readonly image: string
  readonly pod?: string
  readonly command?: ReadonlyArray<string>
  readonly entrypoint?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  readonly labels?: Readonly<Record<string, string>>
  readonly user?: string
  readonly work_dir?: string
  readonly mounts?: ReadonlyArray<Mount>
  readonly r_limits?: ReadonlyArray<Rlimit>
  readonly oci_runtime?: string
  /** Seconds between SIGTERM and SIGKILL on stop. */
  readonly stop_timeout?: number
  readonly resource_limits?: {
    readonly memory?: { readonly limit: number }
    readonly cpu?: { readonly quota: number; readonly period: number }
    readonly pids?: { readonly limit: number }
  }
  readonly healthconfig?: HealthConfig
  readonly portmappings?: ReadonlyArray<PortMapping>
  readonly netns?: { readonly nsmode: string; readonly value?: string }
  readonly network_options?: Readonly<Record<string, ReadonlyArray<string>>>
  readonly hostadd?: ReadonlyArray<string>
}

export interface ImageBuildRequest {
  /** Directory sent as the build context (tarred with the system `tar`). */
  readonly contextDir: string
  readonly tag: string
  /** Containerfile path inside the context (default `Containerfile`). */
  readonly containerfile?: string
  readonly labels?: Readonly<Record<string, string>>
}

export interface ImageBuildResult {
  readonly tag: string
  readonly id: string
  readonly output: string
}

export interface ExecResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface LabelFilter {
  /** Every label must match (`key=value`). */
  readonly labels?: Readonly<Record<string, string>>
}

export interface PodmanEvent {
  readonly type: string
  readonly action: string
  readonly id: string
  readonly name: string | undefined
  readonly attributes: Readonly<Record<string, string>>
}

export interface EventFilter {
  readonly type?: ReadonlyArray<"pod" | "container" | "image">
  readonly labels?: Readonly<Record<string, string>>
  readonly pod?: string
  /** Replay events from this time on (Podman keeps an event log), then follow. */
  readonly since?: Date
}

// --- the service -----------------------------------------------------------------------------

export interface PodmanClientShape {
  /** The socket this client talks to. */
  readonly socketPath: string
  /** True when this client started its own `podman system service`. */
  readonly embedded: boolean
  readonly system: {
    readonly ping: () => Effect.Effect<void, PodmanError>
    readonly version: () => Effect.Effect<R.VersionResponse, PodmanError>
    readonly info: () => Effect.Effect<R.InfoResponse, PodmanError>
  }
  readonly pods: {
    readonly create: (req: PodCreateRequest) => Effect.Effect<string, PodmanError>
    readonly start: (name: string) => Effect.Effect<void, PodmanError>
    readonly stop: (
      name: string,
      opts?: { readonly timeoutSeconds?: number },
    ) => Effect.Effect<void, PodmanError>
    readonly remove: (
      name: string,
      opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
    ) => Effect.Effect<void, PodmanError>
    readonly inspect: (name: string) => Effect.Effect<R.PodInspect, PodmanError>
    readonly exists: (name: string) => Effect.Effect<boolean, PodmanError>
    readonly list: (
      filter?: LabelFilter,
    ) => Effect.Effect<ReadonlyArray<R.PodListEntry>, PodmanError>
  }
  readonly containers: {
    readonly create: (req: ContainerCreateRequest) => Effect.Effect<string, PodmanError>
    readonly start: (name: string) => Effect.Effect<void, PodmanError>
    readonly stop: (
      name: string,
      opts?: { readonly timeoutSeconds?: number },
    ) => Effect.Effect<void, PodmanError>
    readonly remove: (
      name: string,
      opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
    ) => Effect.Effect<void, PodmanError>
    readonly inspect: (name: string) => Effect.Effect<R.ContainerInspect, PodmanError>
    readonly list: (
      filter?: LabelFilter & { readonly pod?: string },
    ) => Effect.Effect<ReadonlyArray<R.ContainerListEntry>, PodmanError>
    readonly exec: (
      name: string,
      cmd: ReadonlyArray<string>,
      opts?: { readonly user?: string },
    ) => Effect.Effect<ExecResult, PodmanError>
    readonly logs: (name: string) => Effect.Effect<{ stdout: string; stderr: string }, PodmanError>
    /** Runs the container's healthcheck once and returns its status (`healthy`, `unhealthy`, …). */
    readonly healthcheck: (name: string) => Effect.Effect<string, PodmanError>
    /** TCP ports listening in the container's network namespace (read from /proc/<pid>/net). */
    readonly listeningPorts: (name: string) => Effect.Effect<ReadonlyArray<number>, PodmanError>
  }
  readonly images: {
    readonly exists: (ref: string) => Effect.Effect<boolean, PodmanError>
    readonly build: (req: ImageBuildRequest) => Effect.Effect<ImageBuildResult, PodmanError>
    readonly remove: (
      ref: string,
      opts?: { readonly force?: boolean },
    ) => Effect.Effect<void, PodmanError>
  }
  readonly events: (filter?: EventFilter) => Stream.Stream<PodmanEvent, PodmanError>
}

export class PodmanClient extends Context.Service<PodmanClient, PodmanClientShape>()(
  "@beemesh/podman/PodmanClient",
) {
  /** The client as a Layer; an embedded service lives as long as the layer. */
  static readonly layer = (
    options: PodmanClientOptions = {},
  ): Layer.Layer<PodmanClient, PodmanUnavailable> =>
    Layer.effect(PodmanClient, makePodmanClient(options))
}

export interface PodmanClientOptions {
  /** An explicit socket path, tried first. */
  readonly socketPath?: string
  /** `CONTAINER_HOST` as the application read it (`unix:///…`). */
  readonly containerHost?: string
  /** Defaults to this process's uid. */
  readonly uid?: number
  /** `$XDG_RUNTIME_DIR` as the application read it (rootless default socket). */
  readonly xdgRuntimeDir?: string
  /** Also try the rootful and rootless default sockets (default true). */
  readonly searchDefaults?: boolean
  /**
   * `fallback` (default): start an embedded `podman system service` when no socket answers;
   * `never`: fail with PodmanUnavailable; `always`: always use an embedded service.
   */
  readonly embedded?: "fallback" | "never" | "always"
  readonly embeddedOptions?: EmbeddedServiceOptions
  /** Inactivity limit of one request (default 120 s; builds and pod starts can be slow). */
  readonly requestTimeoutMs?: number
}

// --- helpers ---------------------------------------------------------------------------------

const qs = (params: Record<string, string | number | boolean | undefined>) => {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
  return parts.length === 0 ? "" : `?${parts.join("&")}`
}

const labelFilters = (labels: Readonly<Record<string, string>> | undefined) =>
  Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`)

const seg = (name: string) => encodeURIComponent(name)

interface Subject {
  readonly kind: PodmanObjectKind
  readonly name: string
  readonly image?: string
}

const errorText = (body: Buffer) => {
  const text = body.toString("utf8")
  const decoded = Schema.decodeUnknownResult(R.ErrorBody)(safeJson(text))
  return Result.isSuccess(decoded)
    ? { cause: decoded.success.cause ?? "", message: decoded.success.message }
    : { cause: "", message: text.trim() }
}

const safeJson = (text: string): unknown => {
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
  if (/already exists|already in use/.test(text)) {
    return new NameInUse({ kind: subject.kind, name: subject.name })
  }
  if (status === 404) return new NotFound({ kind: subject.kind, name: subject.name })
  return new RuntimeFailure({ operation, status, podmanMessage: message || `HTTP ${status}` })
}

const nameFromMessage = (message: string) => /name or ID "?([^" ]+)"? found/.exec(message)?.[1]

export const IMAGE_HINT =
  "No registry is reachable: build it locally (podman build -t <image> <context dir>, FROM scratch or a local base) or with PodmanClient.images.build"

// --- implementation --------------------------------------------------------------------------

const makeApi = (socketPath: string, embedded: boolean, timeoutMs: number): PodmanClientShape => {
  const unavailable = (reason: string) =>
    new PodmanUnavailable({
      socketsTried: [
        { path: socketPath, source: embedded ? "embedded service" : "connected", reason },
      ],
      hint: "the Podman service stopped answering",
    })

  const send = (req: RawRequest): Effect.Effect<RawResponse, PodmanUnavailable> =>
    request(socketPath, req).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))

  const call = (
    operation: string,
    subject: Subject,
    req: Omit<RawRequest, "idleTimeoutMs">,
    ok: ReadonlyArray<number>,
  ): Effect.Effect<RawResponse, PodmanError> =>
    send({ ...req, idleTimeoutMs: timeoutMs }).pipe(
      Effect.flatMap((res) =>
        ok.includes(res.status)
          ? Effect.succeed(res)
          : Effect.fail(classifyFailure(operation, res.status, res.body, subject)),
      ),
    )

  const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(
    schema: S,
    operation: string,
    res: RawResponse,
  ): Effect.Effect<S["Type"], RuntimeFailure> => {
    const decoded = Schema.decodeUnknownResult(schema)(safeJson(res.body.toString("utf8")))
    return Result.isSuccess(decoded)
      ? Effect.succeed(decoded.success)
      : Effect.fail(
          new RuntimeFailure({
            operation,
            status: res.status,
            podmanMessage: `unexpected response (${decoded.failure.message}): ${res.body.toString("utf8").slice(0, 300)}`,
          }),
        )
  }

  const json = (body: unknown) => ({ body: JSON.stringify(body), contentType: "application/json" })

  const actionErrors = (operation: string, res: RawResponse) =>
    decode(R.PodActionReport, operation, res).pipe(
      Effect.flatMap((report) => {
        const errs = [...(report.Errs ?? []), ...(report.Err ? [report.Err] : [])]
        return errs.length === 0
          ? Effect.void
          : Effect.fail(
              new RuntimeFailure({
                operation,
                status: res.status,
                podmanMessage: errs
                  .map((e) => (typeof e === "string" ? e : JSON.stringify(e)))
                  .join("; "),
              }),
            )
      }),
    )

  const pod = (name: string): Subject => ({ kind: "pod", name })
  const ctr = (name: string): Subject => ({ kind: "container", name })

  const system: PodmanClientShape["system"] = {
    ping: Effect.fn("PodmanClient.system.ping")(function* () {
      yield* call(
        "ping",
        { kind: "pod", name: "_ping" },
        { method: "GET", path: `${API_PREFIX}/_ping` },
        [200],
      )
    }),
    version: Effect.fn("PodmanClient.system.version")(function* () {
      const res = yield* call(
        "version",
        pod("-"),
        { method: "GET", path: `${API_PREFIX}/version` },
        [200],
      )
      return yield* decode(R.VersionResponse, "version", res)
    }),
    info: Effect.fn("PodmanClient.system.info")(function* () {
      const res = yield* call(
        "info",
        pod("-"),
        { method: "GET", path: `${API_PREFIX}/info` },
        [200],
      )
      return yield* decode(R.InfoResponse, "info", res)
    }),
  }

  const pods: PodmanClientShape["pods"] = {
    create: Effect.fn("PodmanClient.pods.create")(function* (req: PodCreateRequest) {
      const res = yield* call(
        "pod create",
        pod(req.name),
        { method: "POST", path: `${API_PREFIX}/pods/create`, ...json(req) },
        [201],
      )
      return (yield* decode(R.IdResponse, "pod create", res)).Id
    }),
    start: Effect.fn("PodmanClient.pods.start")(function* (name: string) {
      const res = yield* call(
        "pod start",
        pod(name),
        { method: "POST", path: `${API_PREFIX}/pods/${seg(name)}/start` },
        [200, 304, 409, 500],
      )
      if (res.status === 304) return
      if (res.status !== 200) {
        const report = Schema.decodeUnknownResult(R.PodActionReport)(
          safeJson(res.body.toString("utf8")),
        )
        if (Result.isFailure(report) || (report.success.Errs ?? []).length === 0) {
          return yield* Effect.fail(classifyFailure("pod start", res.status, res.body, pod(name)))
        }
      }
      yield* actionErrors("pod start", res)
    }),
    stop: Effect.fn("PodmanClient.pods.stop")(function* (
      name: string,
      opts?: { readonly timeoutSeconds?: number },
    ) {
      const res = yield* call(
        "pod stop",
        pod(name),
        {
          method: "POST",
          path: `${API_PREFIX}/pods/${seg(name)}/stop${qs({ t: opts?.timeoutSeconds })}`,
        },
        [200, 304],
      )
      if (res.status === 200) yield* actionErrors("pod stop", res)
    }),
    remove: Effect.fn("PodmanClient.pods.remove")(function* (
      name: string,
      opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
    ) {
      const res = yield* call(
        "pod remove",
        pod(name),
        {
          method: "DELETE",
          path: `${API_PREFIX}/pods/${seg(name)}${qs({ force: opts?.force, t: opts?.timeoutSeconds })}`,
        },
        [200],
      )
      yield* actionErrors("pod remove", res)
    }),
    inspect: Effect.fn("PodmanClient.pods.inspect")(function* (name: string) {
      const res = yield* call(
        "pod inspect",
        pod(name),
        { method: "GET", path: `${API_PREFIX}/pods/${seg(name)}/json` },
        [200],
      )
      return yield* decode(R.PodInspect, "pod inspect", res)
    }),
    exists: Effect.fn("PodmanClient.pods.exists")(function* (name: string) {
      const res = yield* call(
        "pod exists",
        pod(name),
        { method: "GET", path: `${API_PREFIX}/pods/${seg(name)}/exists` },
        [204, 404],
      )
      return res.status === 204
    }),
    list: Effect.fn("PodmanClient.pods.list")(function* (filter?: LabelFilter) {
      const filters = JSON.stringify({ label: labelFilters(filter?.labels) })
      const res = yield* call(
        "pod list",
        pod("-"),
        { method: "GET", path: `${API_PREFIX}/pods/json${qs({ filters })}` },
        [200],
      )
      return (yield* decode(R.PodList, "pod list", res)) ?? []
    }),
  }

  const execIn = Effect.fn("PodmanClient.containers.exec")(function* (
    name: string,
    cmd: ReadonlyArray<string>,
    opts?: { readonly user?: string },
  ) {
    const created = yield* call(
      "exec create",
      ctr(name),
      {
        method: "POST",
        path: `${API_PREFIX}/containers/${seg(name)}/exec`,
        ...json({
          AttachStdout: true,
          AttachStderr: true,
          Cmd: cmd,
          ...(opts?.user ? { User: opts.user } : {}),
        }),
      },
      [201],
    )
    const id = (yield* decode(R.IdResponse, "exec create", created)).Id
    const started = yield* call(
      "exec start",
      { kind: "exec", name: id },
      {
        method: "POST",
        path: `${API_PREFIX}/exec/${id}/start`,
        ...json({ Detach: false, Tty: false }),
      },
      [200],
    )
    const inspected = yield* call(
      "exec inspect",
      { kind: "exec", name: id },
      { method: "GET", path: `${API_PREFIX}/exec/${id}/json` },
      [200],
    )
    const { ExitCode } = yield* decode(R.ExecInspect, "exec inspect", inspected)
    return { exitCode: ExitCode, ...demultiplex(started.body) }
  })

  const containers: PodmanClientShape["containers"] = {
    create: Effect.fn("PodmanClient.containers.create")(function* (req: ContainerCreateRequest) {
      const res = yield* call(
        "container create",
        { kind: "container", name: req.name, image: req.image },
        { method: "POST", path: `${API_PREFIX}/containers/create`, ...json(req) },
        [201],
      )
      return (yield* decode(R.IdResponse, "container create", res)).Id
    }),
    start: Effect.fn("PodmanClient.containers.start")(function* (name: string) {
      yield* call(
        "container start",
        ctr(name),
        { method: "POST", path: `${API_PREFIX}/containers/${seg(name)}/start` },
        [204, 304],
      )
    }),
    stop: Effect.fn("PodmanClient.containers.stop")(function* (
      name: string,
      opts?: { readonly timeoutSeconds?: number },
    ) {
      yield* call(
        "container stop",
        ctr(name),
        {
          method: "POST",
          path: `${API_PREFIX}/containers/${seg(name)}/stop${qs({ timeout: opts?.timeoutSeconds })}`,
        },
        [204, 304],
      )
    }),
    remove: Effect.fn("PodmanClient.containers.remove")(function* (
      name: string,
      opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
    ) {
      const res = yield* call(
        "container remove",
        ctr(name),
        {
          method: "DELETE",
          path: `${API_PREFIX}/containers/${seg(name)}${qs({ force: opts?.force, timeout: opts?.timeoutSeconds })}`,
        },
        [200, 204],
      )
      if (res.status === 204) return
      const reports = (yield* decode(R.RemoveReports, "container remove", res)) ?? []
      const errs = reports.flatMap((r) => (r.Err ? [r.Err] : []))
      if (errs.length > 0) {
        return yield* Effect.fail(
          new RuntimeFailure({
            operation: "container remove",
            status: res.status,
            podmanMessage: errs.map(String).join("; "),
          }),
        )
      }
    }),
    inspect: Effect.fn("PodmanClient.containers.inspect")(function* (name: string) {
      const res = yield* call(
        "container inspect",
        ctr(name),
        { method: "GET", path: `${API_PREFIX}/containers/${seg(name)}/json` },
        [200],
      )
      return yield* decode(R.ContainerInspect, "container inspect", res)
    }),
    list: Effect.fn("PodmanClient.containers.list")(function* (
      filter?: LabelFilter & { readonly pod?: string },
    ) {
      const filters = JSON.stringify({
        label: labelFilters(filter?.labels),
        ...(filter?.pod === undefined ? {} : { pod: [filter.pod] }),
      })
      const res = yield* call(
        "container list",
        ctr("-"),
        { method: "GET", path: `${API_PREFIX}/containers/json${qs({ all: true, filters })}` },
        [200],
      )
      return (yield* decode(R.ContainerList, "container list", res)) ?? []
    }),
    exec: execIn,
    logs: Effect.fn("PodmanClient.containers.logs")(function* (name: string) {
      const res = yield* call(
        "container logs",
        ctr(name),
        {
          method: "GET",
          path: `${API_PREFIX}/containers/${seg(name)}/logs${qs({ stdout: true, stderr: true })}`,
        },
        [200],
      )
      return demultiplex(res.body)
    }),
    healthcheck: Effect.fn("PodmanClient.containers.healthcheck")(function* (name: string) {
      const res = yield* call(
        "container healthcheck",
        ctr(name),
        { method: "GET", path: `${API_PREFIX}/containers/${seg(name)}/healthcheck` },
        [200],
      )
      return (yield* decode(R.HealthcheckResult, "container healthcheck", res)).Status
    }),
    listeningPorts: Effect.fn("PodmanClient.containers.listeningPorts")(function* (name: string) {
      const info = yield* containers.inspect(name)
      if (!info.State.Running || info.State.Pid <= 0) return []
      const pid = info.State.Pid
      const tables = yield* Effect.promise(() =>
        Promise.all(
          ["tcp", "tcp6"].map((t) => readFile(`/proc/${pid}/net/${t}`, "utf8").catch(() => "")),
        ),
      )
      return [...new Set(tables.flatMap(listeningPortsOf))].sort((a, b) => a - b)
    }),
  }

  const images: PodmanClientShape["images"] = {
    exists: Effect.fn("PodmanClient.images.exists")(function* (ref: string) {
      const res = yield* call(
        "image exists",
        { kind: "image", name: ref },
        { method: "GET", path: `${API_PREFIX}/images/${ref}/exists` },
        [204, 404],
      )
      return res.status === 204
    }),
    build: Effect.fn("PodmanClient.images.build")(function* (req: ImageBuildRequest) {
      return yield* buildImage(socketPath, req, timeoutMs, unavailable)
    }),
    remove: Effect.fn("PodmanClient.images.remove")(function* (
      ref: string,
      opts?: { readonly force?: boolean },
    ) {
      yield* call(
        "image remove",
        { kind: "image", name: ref },
        { method: "DELETE", path: `${API_PREFIX}/images/${ref}${qs({ force: opts?.force })}` },
        [200],
      )
    }),
  }

  const events = (filter?: EventFilter): Stream.Stream<PodmanEvent, PodmanError> =>
    Stream.callback<PodmanEvent, PodmanError>((queue) =>
      Effect.gen(function* () {
        const filters = JSON.stringify({
          ...(filter?.type ? { type: filter.type } : {}),
          ...(filter?.labels ? { label: labelFilters(filter.labels) } : {}),
          ...(filter?.pod ? { pod: [filter.pod] } : {}),
        })
        const res = yield* requestStreaming(socketPath, {
          method: "GET",
          path: `${API_PREFIX}/events${qs({
            stream: true,
            filters,
            since: filter?.since ? (filter.since.getTime() / 1000).toFixed(3) : undefined,
          })}`,
          idleTimeoutMs: 0,
        }).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))
        if (res.statusCode !== 200) {
          const body = yield* readAll(res)
          return yield* Effect.fail(classifyFailure("events", res.statusCode ?? 0, body, pod("-")))
        }
        pumpEvents(res, queue, unavailable)
      }),
    )

  return { socketPath, embedded, system, pods, containers, images, events }
}

const readAll = (res: IncomingMessage) =>
  Effect.promise(
    () =>
      new Promise<Buffer>((resolve) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve(Buffer.concat(chunks)))
        res.on("error", () => resolve(Buffer.concat(chunks)))
      }),
  )

const pumpEvents = (
  res: IncomingMessage,
  queue: Queue.Queue<PodmanEvent, PodmanError | Cause.Done>,
  unavailable: (reason: string) => PodmanUnavailable,
) => {
  let pending = ""
  res.setEncoding("utf8")
  res.on("data", (chunk: string) => {
    pending += chunk
    let nl = pending.indexOf("\n")
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim()
      pending = pending.slice(nl + 1)
      nl = pending.indexOf("\n")
      if (line === "") continue
      const decoded = Schema.decodeUnknownResult(R.EventMessage)(safeJson(line))
      if (Result.isFailure(decoded)) continue
      const e = decoded.success
      const attributes = e.Actor.Attributes ?? {}
      Queue.offerUnsafe(queue, {
        type: e.Type,
        action: e.Action,
        id: e.Actor.ID,
        name: attributes.name,
        attributes,
      })
    }
  })
  res.on("end", () => Queue.endUnsafe(queue))
  res.on("error", (err) =>
    Queue.failCauseUnsafe(queue, Cause.fail(unavailable(`events stream broke: ${err.message}`))),
  )
}

/**
 * Builds through the libpod build endpoint: the context directory is tarred by the system `tar`
 * (argument array, streamed into the request), the answer is a stream of JSON lines.
 */
const buildImage = (
  socketPath: string,
  req: ImageBuildRequest,
  timeoutMs: number,
  unavailable: (reason: string) => PodmanUnavailable,
): Effect.Effect<ImageBuildResult, PodmanError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const tar = yield* Effect.acquireRelease(
        Effect.sync(() =>
          execa("tar", ["-C", req.contextDir, "-cf", "-", "."], {
            stdout: "pipe",
            stderr: "pipe",
            reject: false,
            buffer: { stdout: false, stderr: true },
          }),
        ),
        (p) => Effect.sync(() => p.kill("SIGKILL")),
      )
      const path = `${API_PREFIX}/build${qs({
        dockerfile: req.containerfile ?? "Containerfile",
        t: req.tag,
        labels: req.labels ? JSON.stringify(req.labels) : undefined,
        rm: true,
      })}`
      const res = yield* request(socketPath, {
        method: "POST",
        path,
        body: tar.stdout!,
        contentType: "application/x-tar",
        idleTimeoutMs: timeoutMs,
      }).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))
      const tarResult = yield* Effect.promise(() => tar)
      if (tarResult.exitCode !== 0) {
        return yield* Effect.fail(
          new RuntimeFailure({
            operation: "image build (tar of the context)",
            status: 0,
            podmanMessage: `tar -C ${req.contextDir} failed: ${String(tarResult.stderr).trim() || tarResult.shortMessage}`,
          }),
        )
      }
      const lines = res.body
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => Schema.decodeUnknownResult(R.BuildLine)(safeJson(l)))
        .flatMap((r) => (Result.isSuccess(r) ? [r.success] : []))
      const output = lines.map((l) => l.stream ?? "").join("")
      const error = lines.find((l) => l.error !== undefined)?.error
      if (res.status !== 200 || error !== undefined) {
        return yield* Effect.fail(
          new RuntimeFailure({
            operation: `image build ${req.tag}`,
            status: res.status,
            podmanMessage: error ?? errorText(res.body).message,
          }),
        )
      }
      const id = output.trim().split("\n").at(-1)?.trim() ?? ""
      return { tag: req.tag, id, output }
    }),
  )

// --- construction ----------------------------------------------------------------------------

const answers = (path: string) =>
  request(path, { method: "GET", path: `${API_PREFIX}/_ping`, idleTimeoutMs: 3000 }).pipe(
    Effect.map((r) => (r.status === 200 ? undefined : `HTTP ${r.status}`)),
    Effect.catch((e) => Effect.succeed(`${e.code}`)),
  )

/**
 * Finds a socket that answers, or starts the embedded service (scoped) when allowed.
 * Fails with PodmanUnavailable naming every socket tried.
 */
export const makePodmanClient = (
  options: PodmanClientOptions = {},
): Effect.Effect<PodmanClientShape, PodmanUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const mode = options.embedded ?? "fallback"
    const timeoutMs = options.requestTimeoutMs ?? 120_000
    const tried: Array<SocketCandidate & { reason: string }> = []
    if (mode !== "always") {
      const candidates = socketCandidates({
        socketPath: options.socketPath,
        containerHost: options.containerHost,
        uid: options.uid ?? process.getuid?.() ?? 0,
        xdgRuntimeDir: options.xdgRuntimeDir,
        searchDefaults: options.searchDefaults,
      })
      if (
        options.containerHost !== undefined &&
        parseContainerHost(options.containerHost) === undefined
      ) {
        tried.push({
          path: options.containerHost,
          source: "CONTAINER_HOST",
          reason: "unsupported scheme (only unix:// sockets)",
        })
      }
      for (const candidate of candidates) {
        const reason = yield* answers(candidate.path)
        if (reason === undefined) return makeApi(candidate.path, false, timeoutMs)
        tried.push({ ...candidate, reason })
      }
      if (mode === "never") {
        return yield* Effect.fail(
          new PodmanUnavailable({
            socketsTried: tried,
            hint: "start one (podman system service --time=0 unix://<path>, or systemctl start podman.socket) or allow the embedded service",
          }),
        )
      }
    }
    const service = yield* startEmbeddedService(options.embeddedOptions).pipe(
      Effect.mapError(
        (e) => new PodmanUnavailable({ socketsTried: [...tried, ...e.socketsTried], hint: e.hint }),
      ),
    )
    return makeApi(service.socketPath, true, timeoutMs)
  })
