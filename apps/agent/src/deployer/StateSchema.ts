/**
 * The state file's format: `{ version: 1, workloads: [...], orphans: [...] }`. Decoded with these
 * Schemas, so a file damaged by hand or by a crash is refused whole instead of read as "nothing
 * wanted".
 */
import { DnsLabel, ReadinessProbe } from "@beemesh/contract"
import { Schema } from "effect"
import type { Workload } from "../Manifest"

export const STATE_VERSION = 1

const Port = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 65535 }))
const Count = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))
const Strings = Schema.Array(Schema.String)

const ConfigKind = Schema.Literals(["ConfigMap", "Secret"])

const Mode = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 0o777 }))

const Volume = Schema.Union([
  Schema.Struct({
    name: Schema.String,
    kind: ConfigKind,
    object: Schema.String,
    items: Schema.optional(
      Schema.Array(
        Schema.Struct({ key: Schema.String, path: Schema.String, mode: Schema.optional(Mode) }),
      ),
    ),
    defaultMode: Mode,
    optional: Schema.Boolean,
  }),
  Schema.Struct({
    name: Schema.String,
    kind: Schema.Literal("EmptyDir"),
    medium: Schema.Literals(["", "Memory"]),
    sizeLimitBytes: Schema.optional(Count),
  }),
])

const Container = Schema.Struct({
  name: Schema.String,
  image: Schema.String,
  command: Schema.optional(Strings),
  args: Schema.optional(Strings),
  workingDir: Schema.optional(Schema.String),
  env: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      value: Schema.String,
      from: Schema.optional(
        Schema.Struct({
          kind: ConfigKind,
          name: Schema.String,
          key: Schema.String,
          optional: Schema.Boolean,
        }),
      ),
    }),
  ),
  envFrom: Schema.optional(
    Schema.Array(
      Schema.Struct({
        kind: ConfigKind,
        name: Schema.String,
        prefix: Schema.String,
        optional: Schema.Boolean,
      }),
    ),
  ),
  ports: Schema.Array(Port),
  memoryLimitBytes: Schema.optional(Count),
  cpuLimitMillis: Schema.optional(Count),
  readinessProbe: Schema.optional(ReadinessProbe.ReadinessProbe),
  livenessProbe: Schema.optional(ReadinessProbe.ReadinessProbe),
  startupProbe: Schema.optional(ReadinessProbe.ReadinessProbe),
  // The app's securityContext as the agent enforces it: without it a restarted agent would
  // recreate the app without its user, read-only root or dropped capabilities.
  security: Schema.optional(
    Schema.Struct({
      runAsUser: Schema.optional(Count),
      runAsGroup: Schema.optional(Count),
      runAsNonRoot: Schema.Boolean,
      readOnlyRootFilesystem: Schema.Boolean,
      noNewPrivileges: Schema.Boolean,
      capDrop: Strings,
      capAdd: Strings,
    }),
  ),
  volumeMounts: Schema.optional(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        mountPath: Schema.String,
        readOnly: Schema.Boolean,
        subPath: Schema.optional(Schema.String),
      }),
    ),
  ),
})

const StoredWorkload = Schema.Struct({
  kind: Schema.Literals(["Pod", "Deployment", "StatefulSet"]),
  namespace: DnsLabel.DnsLabel,
  name: DnsLabel.DnsLabel,
  replicas: Count,
  labels: Schema.Record(Schema.String, Schema.String),
  containers: Schema.Array(Container).check(Schema.isMinLength(1)),
  services: Schema.Array(Schema.Struct({ name: Schema.String, port: Port })),
  upstreams: Schema.Array(
    Schema.Struct({
      service: Schema.String,
      port: Port,
      servicePort: Schema.optionalKey(Schema.String),
    }),
  ),
  // Where the manifest reader puts it: the spec hash is of the workload's JSON, keys in order.
  volumes: Schema.optional(Schema.Array(Volume)),
  update: Schema.optional(
    Schema.Struct({
      type: Schema.Literals(["RollingUpdate", "Recreate", "OnDelete"]),
      maxSurge: Schema.Union([Count, Schema.String]),
      maxUnavailable: Schema.Union([Count, Schema.String]),
      progressDeadlineSeconds: Count,
    }),
  ),
  configHash: Schema.optional(Schema.String),
  portNames: Schema.optional(Schema.Record(Schema.String, Port)),
  // What Services add to its pods: without it a restarted agent would see a changed spec.
  selectedBy: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, port: Port }))),
  restartPolicy: Schema.optional(Schema.Literals(["OnFailure", "Never"])),
})

export const StateFile = Schema.Struct({
  version: Schema.Literal(STATE_VERSION),
  workloads: Schema.Array(StoredWorkload),
  /** Pods found running with no state that wanted them: kept until an operator decides. */
  orphans: Schema.optional(Strings),
  /** The revision each workload was applied at, by `namespace/name`: an update survives a restart. */
  revisions: Schema.optional(Schema.Record(Schema.String, Schema.String)),
})
export type StateFile = typeof StateFile.Type

/**
 * A stored workload as the agent's model (JSON has no `undefined`: absent fields come back), its
 * keys in the order the manifest reader gives them: the spec hash is of the workload's JSON, so a
 * restarted agent must hash what it loaded as it hashed what it applied.
 */
export const toWorkload = (stored: (typeof StoredWorkload)["Type"]): Workload => ({
  ...stored,
  containers: stored.containers.map(
    ({ security, readinessProbe, volumeMounts, envFrom, ...c }) => ({
      name: c.name,
      image: c.image,
      command: c.command,
      args: c.args,
      workingDir: c.workingDir,
      env: c.env.map((e) => ({ name: e.name, value: e.value, from: e.from })),
      ...(envFrom === undefined ? {} : { envFrom }),
      ports: c.ports,
      memoryLimitBytes: c.memoryLimitBytes,
      cpuLimitMillis: c.cpuLimitMillis,
      ...(security === undefined
        ? {}
        : {
            security: {
              ...security,
              runAsUser: security.runAsUser,
              runAsGroup: security.runAsGroup,
            },
          }),
      ...(readinessProbe === undefined ? {} : { readinessProbe }),
      ...(volumeMounts === undefined ? {} : { volumeMounts }),
    }),
  ),
})
