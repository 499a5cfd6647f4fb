/**
 * Schemas of the libpod API responses this client reads (Podman 4.x). Only the fields we use are
 * declared; Podman sends many more, which decoding ignores. Podman writes empty maps as `null`.
 */
import { Schema } from "effect"

const Labels = Schema.NullOr(Schema.Record(Schema.String, Schema.String))

export const VersionResponse = Schema.Struct({
  Version: Schema.String,
  ApiVersion: Schema.String,
  Components: Schema.optionalKey(
    Schema.NullOr(Schema.Array(Schema.Struct({ Name: Schema.String, Version: Schema.String }))),
  ),
})
export type VersionResponse = typeof VersionResponse.Type

export const InfoResponse = Schema.Struct({
  host: Schema.Struct({
    arch: Schema.String,
    os: Schema.String,
    ociRuntime: Schema.Struct({ name: Schema.String, path: Schema.String }),
    cgroupVersion: Schema.String,
    security: Schema.Struct({ rootless: Schema.Boolean }),
    slirp4netns: Schema.optionalKey(
      Schema.Struct({ executable: Schema.String, version: Schema.String }),
    ),
  }),
  store: Schema.Struct({ graphRoot: Schema.String, runRoot: Schema.String }),
  version: Schema.Struct({ Version: Schema.String, APIVersion: Schema.String }),
})
export type InfoResponse = typeof InfoResponse.Type

export const IdResponse = Schema.Struct({ Id: Schema.String })

export const PortBinding = Schema.Struct({ HostIp: Schema.String, HostPort: Schema.String })
const PortBindings = Schema.NullOr(
  Schema.Record(Schema.String, Schema.NullOr(Schema.Array(PortBinding))),
)

export const PodInspect = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  State: Schema.String,
  Labels: Schema.optionalKey(Labels),
  InfraContainerID: Schema.optionalKey(Schema.String),
  InfraConfig: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        PortBindings: Schema.optionalKey(PortBindings),
        HostAdd: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.String))),
        NetworkOptions: Schema.optionalKey(
          Schema.NullOr(Schema.Record(Schema.String, Schema.Array(Schema.String))),
        ),
      }),
    ),
  ),
  SharedNamespaces: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.String))),
  Containers: Schema.optionalKey(
    Schema.NullOr(
      Schema.Array(Schema.Struct({ Id: Schema.String, Name: Schema.String, State: Schema.String })),
    ),
  ),
})
export type PodInspect = typeof PodInspect.Type

export const PodListEntry = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Status: Schema.String,
  Labels: Schema.optionalKey(Labels),
})
export type PodListEntry = typeof PodListEntry.Type
export const PodList = Schema.NullOr(Schema.Array(PodListEntry))

export const ContainerInspect = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Pod: Schema.optionalKey(Schema.String),
  State: Schema.Struct({
    Status: Schema.String,
    Running: Schema.Boolean,
    Pid: Schema.Number,
    ExitCode: Schema.Number,
    Error: Schema.optionalKey(Schema.String),
    Health: Schema.optionalKey(Schema.NullOr(Schema.Struct({ Status: Schema.String }))),
  }),
  Config: Schema.Struct({
    Labels: Schema.optionalKey(Labels),
    User: Schema.optionalKey(Schema.String),
    /** Seconds between SIGTERM and SIGKILL when it stops (its grace period). */
    StopTimeout: Schema.optionalKey(Schema.Number),
  }),
  HostConfig: Schema.Struct({
    PortBindings: Schema.optionalKey(PortBindings),
    NetworkMode: Schema.optionalKey(Schema.String),
    ExtraHosts: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.String))),
    Ulimits: Schema.optionalKey(
      Schema.NullOr(
        Schema.Array(
          Schema.Struct({ Name: Schema.String, Soft: Schema.Number, Hard: Schema.Number }),
        ),
      ),
    ),
  }),
  OCIRuntime: Schema.optionalKey(Schema.String),
  /** The container's /etc/hosts on the host (shared with containers joining its network). */
  HostsPath: Schema.optionalKey(Schema.String),
  NetworkSettings: Schema.optionalKey(
    Schema.NullOr(Schema.Struct({ SandboxKey: Schema.optionalKey(Schema.String) })),
  ),
})
export type ContainerInspect = typeof ContainerInspect.Type

export const ImageInspect = Schema.Struct({
  Id: Schema.String,
  /** The image's run settings; `User` is empty when the image names none (it runs as root). */
  Config: Schema.optionalKey(
    Schema.NullOr(Schema.Struct({ User: Schema.optionalKey(Schema.String) })),
  ),
})
export type ImageInspect = typeof ImageInspect.Type

export const ContainerListEntry = Schema.Struct({
  Id: Schema.String,
  Names: Schema.Array(Schema.String),
  Image: Schema.String,
  State: Schema.String,
  Pod: Schema.optionalKey(Schema.String),
  PodName: Schema.optionalKey(Schema.String),
  IsInfra: Schema.optionalKey(Schema.Boolean),
  Labels: Schema.optionalKey(Labels),
  /** The main process (0 when not running). */
  Pid: Schema.optionalKey(Schema.Number),
})
export type ContainerListEntry = typeof ContainerListEntry.Type
export const ContainerList = Schema.NullOr(Schema.Array(ContainerListEntry))

/** Removal reports: Podman answers 200 with per-object errors. */
export const RemoveReports = Schema.NullOr(
  Schema.Array(
    Schema.Struct({ Id: Schema.String, Err: Schema.optionalKey(Schema.NullOr(Schema.Unknown)) }),
  ),
)

export const PodActionReport = Schema.Struct({
  Id: Schema.optionalKey(Schema.String),
  Errs: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Unknown))),
  Err: Schema.optionalKey(Schema.NullOr(Schema.Unknown)),
})

export const ExecInspect = Schema.Struct({ ExitCode: Schema.Number, Running: Schema.Boolean })

export const HealthcheckResult = Schema.Struct({ Status: Schema.String })

/** One line of the build stream. */
export const BuildLine = Schema.Struct({
  stream: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(Schema.String),
})

/** The error body Podman sends with 4xx/5xx. */
export const ErrorBody = Schema.Struct({
  cause: Schema.optionalKey(Schema.String),
  message: Schema.String,
  response: Schema.optionalKey(Schema.Number),
})

export const EventMessage = Schema.Struct({
  Type: Schema.String,
  Action: Schema.String,
  Actor: Schema.Struct({
    ID: Schema.String,
    Attributes: Schema.optionalKey(Labels),
  }),
  timeNano: Schema.optionalKey(Schema.Number),
})
export type EventMessage = typeof EventMessage.Type
