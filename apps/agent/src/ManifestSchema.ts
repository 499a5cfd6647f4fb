/**
 * The Schemas of the Kubernetes manifests the agent accepts (v1 Pod, apps/v1 Deployment and
 * StatefulSet), with the messages a refused field gets. Manifest.ts turns them into workloads.
 */
import { DnsLabel } from "@beemesh/contract"
import { Schema } from "effect"

/** Leaves room for replica suffixes and the agent's pod-name prefix within Podman's limits. */
export const MAX_NAME_LENGTH = 40

const Dns1123Label = DnsLabel.DnsLabel.check(
  Schema.isMaxLength(MAX_NAME_LENGTH, { message: `must be at most ${MAX_NAME_LENGTH} characters` }),
)
const Port = Schema.Number.check(
  Schema.isInt({ message: "must be an integer port" }),
  Schema.isBetween(
    { minimum: 1, maximum: 65535 },
    { message: "must be a port between 1 and 65535" },
  ),
)
const NonEmptyString = Schema.String.check(Schema.isMinLength(1, { message: "must not be empty" }))
const StringMap = Schema.Record(Schema.String, Schema.String)

const ContainerPortSchema = Schema.Struct({
  name: Schema.optional(Schema.String),
  containerPort: Port,
  hostPort: Schema.optional(Schema.Unknown),
  protocol: Schema.optional(Schema.String),
})

const ContainerSchema = Schema.Struct({
  name: Dns1123Label,
  image: NonEmptyString,
  command: Schema.optional(Schema.Array(Schema.String)),
  args: Schema.optional(Schema.Array(Schema.String)),
  workingDir: Schema.optional(Schema.String),
  env: Schema.optional(
    Schema.Array(
      Schema.Struct({
        name: NonEmptyString,
        value: Schema.optional(Schema.String),
        valueFrom: Schema.optional(Schema.Unknown),
      }),
    ),
  ),
  ports: Schema.optional(Schema.Array(ContainerPortSchema)),
  resources: Schema.optional(
    Schema.Struct({
      limits: Schema.optional(
        Schema.Struct({
          cpu: Schema.optional(Schema.Union([Schema.String, Schema.Number])),
          memory: Schema.optional(Schema.Union([Schema.String, Schema.Number])),
        }),
      ),
    }),
  ),
  securityContext: Schema.optional(Schema.Unknown),
})

const PodSpecSchema = Schema.Struct({
  containers: Schema.Array(ContainerSchema).check(
    Schema.isMinLength(1, { message: "needs at least one container" }),
  ),
  initContainers: Schema.optional(Schema.Unknown),
  hostNetwork: Schema.optional(Schema.Boolean),
  hostPID: Schema.optional(Schema.Boolean),
  hostIPC: Schema.optional(Schema.Boolean),
  securityContext: Schema.optional(Schema.Unknown),
})

const ObjectMetaSchema = Schema.Struct({
  name: Dns1123Label,
  namespace: Schema.optional(Dns1123Label),
  labels: Schema.optional(StringMap),
  annotations: Schema.optional(StringMap),
})

const TemplateSchema = Schema.Struct({
  metadata: Schema.optional(
    Schema.Struct({ labels: Schema.optional(StringMap), annotations: Schema.optional(StringMap) }),
  ),
  spec: PodSpecSchema,
})

/** An absolute count or a percentage of the replicas ("25%"), as Kubernetes' IntOrString. */
const intOrPercent = (field: string) => {
  const message = `${field} must be a non-negative integer or a percentage like "25%"`
  return Schema.Union([
    Schema.Number.check(Schema.isInt({ message }), Schema.isGreaterThanOrEqualTo(0, { message })),
    Schema.String.check(Schema.isPattern(/^\d+%$/, { message })),
  ])
}

/** Deployment `spec.strategy`. */
const DeploymentStrategySchema = Schema.Struct({
  type: Schema.optional(Schema.Literals(["RollingUpdate", "Recreate"])),
  rollingUpdate: Schema.optional(
    Schema.Struct({
      maxSurge: Schema.optional(intOrPercent("spec.strategy.rollingUpdate.maxSurge")),
      maxUnavailable: Schema.optional(intOrPercent("spec.strategy.rollingUpdate.maxUnavailable")),
    }),
  ),
})

/** StatefulSet `spec.updateStrategy`; `partition` and `maxUnavailable` are refused in Manifest.ts. */
const StatefulSetUpdateStrategySchema = Schema.Struct({
  type: Schema.optional(Schema.Literals(["RollingUpdate", "OnDelete"])),
  rollingUpdate: Schema.optional(
    Schema.Struct({
      partition: Schema.optional(Schema.Unknown),
      maxUnavailable: Schema.optional(Schema.Unknown),
    }),
  ),
})

const ReplicatedSpecSchema = Schema.Struct({
  replicas: Schema.optional(
    Schema.Number.check(
      Schema.isInt({ message: "must be an integer" }),
      Schema.isGreaterThanOrEqualTo(0, { message: "must not be negative" }),
    ),
  ),
  selector: Schema.optional(Schema.Struct({ matchLabels: Schema.optional(StringMap) })),
  template: TemplateSchema,
  strategy: Schema.optional(DeploymentStrategySchema),
  updateStrategy: Schema.optional(StatefulSetUpdateStrategySchema),
  progressDeadlineSeconds: Schema.optional(
    Schema.Number.check(
      Schema.isInt({
        message: "spec.progressDeadlineSeconds must be an integer number of seconds",
      }),
      Schema.isGreaterThan(0, { message: "spec.progressDeadlineSeconds must be greater than 0" }),
    ),
  ),
})

export const PodManifest = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Pod"),
  metadata: ObjectMetaSchema,
  spec: PodSpecSchema,
})

export const ReplicatedManifest = Schema.Struct({
  apiVersion: Schema.Literal("apps/v1"),
  kind: Schema.Literals(["Deployment", "StatefulSet"]),
  metadata: ObjectMetaSchema,
  spec: ReplicatedSpecSchema,
})

export const Header = Schema.Struct({ apiVersion: Schema.String, kind: Schema.String })

export type ReplicatedSpecInput = typeof ReplicatedSpecSchema.Type
export type PodSpecInput = typeof PodSpecSchema.Type
export type ContainerInput = typeof ContainerSchema.Type
