/**
 * What the client sends and gets back beyond the decoded responses: libpod specgen request bodies
 * (snake_case, as Podman expects), filters, exec and build results, events.
 */
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

/** A piece of a container's output, as Podman's log stream frames it. */
export interface LogChunk {
  readonly stream: "stdout" | "stderr"
  readonly text: string
}

export interface LogOptions {
  /** Only the last lines (default: all). */
  readonly tail?: number
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
