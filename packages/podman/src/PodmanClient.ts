/**
 * A typed client for Podman's libpod REST API on its unix socket: the service's shape and tag.
 * Narrow parts: system, pods, containers, images, events. Responses are decoded with Schema
 * (Responses.ts), request bodies are typed (Requests.ts), failures are typed (Errors.ts); the
 * implementation is in internal/ (client, containers, events, image build, socket discovery).
 */
import { Context, type Effect, Layer, type Stream } from "effect"
import type { EmbeddedServiceOptions } from "./EmbeddedService.js"
import type { PodmanError, PodmanUnavailable } from "./Errors.js"
import { makePodmanClient } from "./internal/discovery.js"
import type {
  ContainerCreateRequest,
  EventFilter,
  ExecResult,
  ImageBuildRequest,
  ImageBuildResult,
  LabelFilter,
  LogChunk,
  LogOptions,
  PodCreateRequest,
  PodmanEvent,
} from "./Requests.js"
import type * as R from "./Responses.js"

export { makePodmanClient }

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
    /**
     * Prepares a created container to start (`podman init`: the OCI runtime's create, with its
     * namespaces, mounts and cgroup) without running anything of its image: its process waits
     * for `start` before it executes the command. A container past its init (initialized or
     * running) is left as it is.
     */
    readonly init: (name: string) => Effect.Effect<void, PodmanError>
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
    readonly logs: (
      name: string,
      opts?: LogOptions,
    ) => Effect.Effect<{ stdout: string; stderr: string }, PodmanError>
    /**
     * The container's output as it is written (after the last `tail` lines); ends when the
     * container stops or the stream is no longer consumed.
     */
    readonly followLogs: (name: string, opts?: LogOptions) => Stream.Stream<LogChunk, PodmanError>
    /** Runs the container's healthcheck once and returns its status (`healthy`, `unhealthy`, …). */
    readonly healthcheck: (name: string) => Effect.Effect<string, PodmanError>
    /** TCP ports listening in the container's network namespace (read from /proc/<pid>/net). */
    readonly listeningPorts: (name: string) => Effect.Effect<ReadonlyArray<number>, PodmanError>
    /**
     * Adds entries to the /etc/hosts the container owns (Podman's file for it, which containers
     * joining its network namespace share), for containers created after: Podman 4.3 refuses host
     * entries on a container that joins another's network namespace. Written to the file Podman
     * reports (`HostsPath`); RuntimeFailure when it reports none.
     */
    readonly addHosts: (
      name: string,
      entries: ReadonlyArray<{ readonly name: string; readonly address: string }>,
    ) => Effect.Effect<void, PodmanError>
  }
  readonly images: {
    readonly exists: (ref: string) => Effect.Effect<boolean, PodmanError>
    /** The image's ID and run settings (its `User`); NotFound for a missing image. */
    readonly inspect: (ref: string) => Effect.Effect<R.ImageInspect, PodmanError>
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
