/**
 * The Schemas of the Kubernetes manifests the agent accepts (v1 Pod, apps/v1 Deployment and
 * StatefulSet, v1 ConfigMap, Secret and Service), with the messages a refused field gets.
 * Manifest.ts turns them into workloads and objects.
 *
 * Every object is closed: ManifestFields.ts walks these schemas and refuses any key they do not
 * declare, with the reason each object gives for the Kubernetes fields it knows but refuses
 * (`refusing`), and "unknown field" for any other. The agent README's field table is generated
 * from the same schemas (`fieldTables`), so a field declared here is a field documented there.
 */
import { DnsLabel } from "@beemesh/contract"
import { Schema } from "effect"
import { IMAGE_EXAMPLE, imageReferenceProblem } from "./ImageReference"

/** Leaves room for replica suffixes and the agent's pod-name prefix within Podman's limits. */
export const MAX_NAME_LENGTH = 40
/** More containers than any real pod has; each one costs a Podman container and its processes. */
export const MAX_CONTAINERS = 16

/** Annotation keys read by ManifestFields.ts. */
export const REFUSED = "beemesh/refused"
export const REFUSED_OTHER = "beemesh/refusedOther"
export const NOTE = "beemesh/note"

const NOT_YET = "not supported by beemesh yet"
const SERVER_SET = "is set by a Kubernetes API server, not read from a manifest; remove it"
const CLAIMS = `${NOT_YET}: there are no persistent volumes; use emptyDir, configMap or secret volumes`
const VOLUME_TYPE = `${NOT_YET}: use configMap, secret or emptyDir`
const PROBE_HOST = "is refused: probes reach the app on the pod's 127.0.0.1; remove host"

/** An object of a manifest: a section of the README table, with the fields it refuses by name. */
const refusing = <S extends Schema.Top>(
  title: string,
  schema: S,
  refused: Readonly<Record<string, string>>,
): S["Rebuild"] => schema.annotate({ title, [REFUSED]: refused })

/** A field's note in the README table. */
const noted = <S extends Schema.Top>(schema: S, note: string): S["Rebuild"] =>
  schema.annotate({ [NOTE]: note })

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
const NonNegativeInt = Schema.Number.check(
  Schema.isInt({ message: "must be an integer" }),
  Schema.isGreaterThanOrEqualTo(0, { message: "must not be negative" }),
)

const LABEL_NAME = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/
const isLabelKey = (key: string) => {
  const slash = key.indexOf("/")
  return slash < 0
    ? LABEL_NAME.test(key)
    : DNS_SUBDOMAIN.test(key.slice(0, slash)) && LABEL_NAME.test(key.slice(slash + 1))
}
const LABEL_KEY_RULE =
  "an optional DNS subdomain and '/', then 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
const LABEL_VALUE_RULE =
  "empty, or 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"

/** What a message quotes back of a value that may be a megabyte long. */
const shortQuote = (text: string) =>
  JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)

/**
 * A map whose keys are label keys. Checked on the whole map: a Record with a refined key schema
 * drops the keys that fail, which would lose a label silently.
 */
const keyedByLabelKey = (values: Schema.Codec<string>, valueRule?: (value: string) => boolean) =>
  Schema.Record(Schema.String, values).check(
    Schema.makeFilter((map: Readonly<Record<string, string>>) => {
      for (const [key, value] of Object.entries(map)) {
        if (!isLabelKey(key)) return `key ${shortQuote(key)} must be a label key: ${LABEL_KEY_RULE}`
        if (valueRule !== undefined && !valueRule(value)) {
          return `value ${shortQuote(value)} of ${key} must be a label value: ${LABEL_VALUE_RULE}`
        }
      }
      return undefined
    }),
  )
const Labels = keyedByLabelKey(Schema.String, (value) => value === "" || LABEL_NAME.test(value))
const Annotations = keyedByLabelKey(Schema.String)

const ImageReference = Schema.String.check(
  Schema.makeFilter((image: string) => {
    const problem = imageReferenceProblem(image)
    return problem === undefined
      ? undefined
      : `is not an image reference: it ${problem}; ${IMAGE_EXAMPLE}`
  }),
)
const EnvName = Schema.String.check(
  Schema.makeFilter((name: string) =>
    /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)
      ? undefined
      : "must be an environment variable name: letters, digits, '_', '-' or '.', not starting with a digit",
  ),
)
const Quantity = Schema.Union([Schema.String, Schema.Number])

const ContainerPortSchema = refusing(
  "Container port (`ports[]`)",
  Schema.Struct({
    name: Schema.optional(Schema.String),
    containerPort: noted(Port, "the port the pod's sidecar serves"),
    hostPort: Schema.optional(noted(Schema.Unknown, "refused: only the sidecar is ever published")),
    protocol: Schema.optional(noted(Schema.String, "`TCP` only")),
  }),
  { hostIP: "is refused: only the sidecar is ever published" },
)

/** A key of a ConfigMap or Secret, as Kubernetes allows it. */
export const CONFIG_KEY = /^[-._a-zA-Z0-9]{1,253}$/
const ConfigKey = Schema.String.check(
  Schema.makeFilter((key: string) =>
    CONFIG_KEY.test(key) && key !== "." && key !== ".."
      ? undefined
      : "must be a key of a ConfigMap or Secret: 1-253 letters, digits, '-', '_' or '.'",
  ),
)
const Optional = Schema.optional(
  noted(Schema.Boolean, "default false: a missing object (or key) refuses the workload"),
)

const keyRef = (title: string) =>
  refusing(
    title,
    Schema.Struct({
      name: noted(Dns1123Label, "in the workload's namespace"),
      key: ConfigKey,
      optional: Optional,
    }),
    {},
  )

const ValueFromSchema = refusing(
  "Value source (`env[].valueFrom`)",
  Schema.Struct({
    configMapKeyRef: Schema.optional(keyRef("ConfigMap key (`valueFrom.configMapKeyRef`)")),
    secretKeyRef: Schema.optional(keyRef("Secret key (`valueFrom.secretKeyRef`)")),
  }),
  {
    fieldRef: `${NOT_YET}; use configMapKeyRef, secretKeyRef or a value`,
    resourceFieldRef: `${NOT_YET}; use configMapKeyRef, secretKeyRef or a value`,
    fileKeyRef: `${NOT_YET}; use configMapKeyRef, secretKeyRef or a value`,
  },
)

const EnvVarSchema = refusing(
  "Environment variable (`env[]`)",
  Schema.Struct({
    name: EnvName,
    value: Schema.optional(Schema.String),
    valueFrom: Schema.optional(ValueFromSchema),
  }),
  {},
)

const sourceRef = (title: string) =>
  refusing(
    title,
    Schema.Struct({ name: noted(Dns1123Label, "in the workload's namespace"), optional: Optional }),
    {},
  )

const EnvFromSchema = refusing(
  "Environment source (`envFrom[]`)",
  Schema.Struct({
    prefix: Schema.optional(noted(Schema.String, "put before every key")),
    configMapRef: Schema.optional(sourceRef("ConfigMap source (`envFrom[].configMapRef`)")),
    secretRef: Schema.optional(sourceRef("Secret source (`envFrom[].secretRef`)")),
  }),
  {},
)

const ResourcesSchema = refusing(
  "Container resources",
  Schema.Struct({
    limits: Schema.optional(
      refusing(
        "Resource limits",
        Schema.Struct({
          cpu: Schema.optional(noted(Quantity, "cgroup CPU quota")),
          memory: Schema.optional(noted(Quantity, "cgroup memory limit")),
        }),
        { "ephemeral-storage": NOT_YET },
      ),
    ),
  }),
  { requests: `${NOT_YET}: there is no scheduler; only limits are enforced`, claims: NOT_YET },
)

const PositiveInt = Schema.Number.check(
  Schema.isInt({ message: "must be an integer" }),
  Schema.isGreaterThanOrEqualTo(1, { message: "must be at least 1" }),
)
const ProbePort = noted(
  Schema.Union([Port, Schema.String]),
  "a port number or the name of one of the container's ports",
)
const HttpGetProbeSchema = refusing(
  "HTTP probe (`httpGet` of a probe)",
  Schema.Struct({
    port: ProbePort,
    path: Schema.optional(noted(Schema.String, "default `/`")),
    scheme: Schema.optional(noted(Schema.Literal("HTTP"), "`HTTP` only")),
  }),
  { host: PROBE_HOST, httpHeaders: `${NOT_YET}; remove httpHeaders` },
)
const TcpSocketProbeSchema = refusing(
  "TCP probe (`tcpSocket` of a probe)",
  Schema.Struct({ port: ProbePort }),
  { host: PROBE_HOST },
)
const ExecProbeSchema = refusing(
  "Exec probe (`exec` of a probe), run by the agent in the container",
  Schema.Struct({
    command: noted(
      Schema.Array(Schema.String).check(
        Schema.isMinLength(1, { message: "needs the program to run" }),
        Schema.isMaxLength(64, { message: "must have at most 64 arguments" }),
      ),
      "run as is, without a shell; passes when it exits 0",
    ),
  }),
  {},
)
const probeSchema = (title: string, successNote: string) =>
  refusing(
    title,
    Schema.Struct({
      httpGet: Schema.optional(HttpGetProbeSchema),
      tcpSocket: Schema.optional(TcpSocketProbeSchema),
      exec: Schema.optional(ExecProbeSchema),
      initialDelaySeconds: Schema.optional(noted(NonNegativeInt, "default 0")),
      periodSeconds: Schema.optional(noted(PositiveInt, "default 10")),
      timeoutSeconds: Schema.optional(noted(PositiveInt, "default 1")),
      successThreshold: Schema.optional(noted(PositiveInt, successNote)),
      failureThreshold: Schema.optional(noted(PositiveInt, "default 3")),
    }),
    {
      grpc: `${NOT_YET}: grpc probes are not run; use httpGet, tcpSocket or exec`,
      terminationGracePeriodSeconds: NOT_YET,
    },
  )
const ReadinessProbeSchema = probeSchema(
  "Readiness probe (`readinessProbe`), run by the pod's sidecar",
  "default 1",
)
const LivenessProbeSchema = probeSchema(
  "Liveness probe (`livenessProbe`), run by the pod's sidecar",
  "must be 1 (default 1)",
)
const StartupProbeSchema = probeSchema(
  "Startup probe (`startupProbe`), run by the pod's sidecar",
  "must be 1 (default 1)",
)

/** A file mode as Kubernetes writes it (0644 is 420); only the permission bits. */
const FileMode = Schema.Number.check(
  Schema.isInt({ message: "must be an integer file mode" }),
  Schema.isBetween(
    { minimum: 0, maximum: 0o777 },
    { message: "must be a file mode between 0 and 0777 (511), such as 0644 (420)" },
  ),
)
const KeyToPathSchema = refusing(
  "Projected key (`volumes[].configMap.items[]`, `volumes[].secret.items[]`)",
  Schema.Struct({
    key: ConfigKey,
    path: noted(Schema.String, "relative, without `..`; directories are created"),
    mode: Schema.optional(noted(FileMode, "default: the volume's `defaultMode`")),
  }),
  {},
)
const projectedFields = {
  items: Schema.optional(
    noted(Schema.Array(KeyToPathSchema), "default: every key, as a file named after it"),
  ),
  defaultMode: Schema.optional(noted(FileMode, "default 0644 (420); owner: root of the app")),
  optional: Optional,
}
const ConfigMapVolumeSchema = refusing(
  "ConfigMap volume (`volumes[].configMap`)",
  Schema.Struct({ name: noted(Dns1123Label, "in the workload's namespace"), ...projectedFields }),
  {},
)
const SecretVolumeSchema = refusing(
  "Secret volume (`volumes[].secret`), on tmpfs",
  Schema.Struct({
    secretName: noted(Dns1123Label, "in the workload's namespace"),
    ...projectedFields,
  }),
  {},
)
const EmptyDirSchema = refusing(
  "emptyDir volume (`volumes[].emptyDir`)",
  Schema.Struct({
    medium: Schema.optional(
      noted(Schema.Literals(["", "Memory"]), '`""` (the host\'s disk) or `Memory` (tmpfs)'),
    ),
    sizeLimit: Schema.optional(noted(Quantity, "the tmpfs size; `Memory` only")),
  }),
  {},
)
const VolumeSchema = refusing(
  "Volume (`spec.volumes[]`)",
  Schema.Struct({
    name: noted(DnsLabel.DnsLabel, "named by `volumeMounts[].name`"),
    configMap: Schema.optional(ConfigMapVolumeSchema),
    secret: Schema.optional(SecretVolumeSchema),
    emptyDir: Schema.optional(EmptyDirSchema),
  }),
  {
    hostPath: "is refused: apps never see the host's files; use emptyDir",
    persistentVolumeClaim: CLAIMS,
    ephemeral: CLAIMS,
    projected: VOLUME_TYPE,
    downwardAPI: VOLUME_TYPE,
    image: VOLUME_TYPE,
    csi: VOLUME_TYPE,
    nfs: VOLUME_TYPE,
    iscsi: VOLUME_TYPE,
    gitRepo: VOLUME_TYPE,
    awsElasticBlockStore: VOLUME_TYPE,
    azureDisk: VOLUME_TYPE,
    azureFile: VOLUME_TYPE,
    cephfs: VOLUME_TYPE,
    cinder: VOLUME_TYPE,
    fc: VOLUME_TYPE,
    flexVolume: VOLUME_TYPE,
    flocker: VOLUME_TYPE,
    gcePersistentDisk: VOLUME_TYPE,
    glusterfs: VOLUME_TYPE,
    photonPersistentDisk: VOLUME_TYPE,
    portworxVolume: VOLUME_TYPE,
    quobyte: VOLUME_TYPE,
    rbd: VOLUME_TYPE,
    scaleIO: VOLUME_TYPE,
    storageos: VOLUME_TYPE,
    vsphereVolume: VOLUME_TYPE,
  },
)
const VolumeMountSchema = refusing(
  "Volume mount (`containers[].volumeMounts[]`)",
  Schema.Struct({
    name: noted(Schema.String, "a volume of `spec.volumes`"),
    mountPath: noted(Schema.String, "absolute, not `/`, without `.` or `..` parts, `:` or `,`"),
    readOnly: Schema.optional(
      noted(Schema.Boolean, "default false; configMap and secret volumes are always read-only"),
    ),
    subPath: Schema.optional(noted(Schema.String, "relative, without `..`")),
  }),
  {
    mountPropagation: `${NOT_YET}; remove it`,
    recursiveReadOnly: `${NOT_YET}; remove it`,
    subPathExpr: `${NOT_YET}; use subPath`,
  },
)

const ContainerSchema = refusing(
  "Container (`containers[]`)",
  Schema.Struct({
    name: Dns1123Label,
    image: noted(ImageReference, "never pulled: build or load it into the host's Podman"),
    imagePullPolicy: Schema.optional(
      noted(Schema.Literals(["IfNotPresent", "Never"]), "`IfNotPresent` or `Never` (never pulled)"),
    ),
    command: Schema.optional(Schema.Array(Schema.String)),
    args: Schema.optional(Schema.Array(Schema.String)),
    workingDir: Schema.optional(Schema.String),
    env: Schema.optional(Schema.Array(EnvVarSchema)),
    envFrom: Schema.optional(
      noted(Schema.Array(EnvFromSchema), "keys that are not variable names are skipped"),
    ),
    ports: Schema.optional(Schema.Array(ContainerPortSchema)),
    resources: Schema.optional(ResourcesSchema),
    securityContext: Schema.optional(
      noted(Schema.Unknown, "honoured or refused field by field (see securityContext below)"),
    ),
    readinessProbe: Schema.optional(
      noted(
        ReadinessProbeSchema,
        "`httpGet`, `tcpSocket` or `exec`, scheduled by the sidecar: traffic only while it passes",
      ),
    ),
    livenessProbe: Schema.optional(
      noted(
        LivenessProbeSchema,
        "`httpGet`, `tcpSocket` or `exec`: failing `failureThreshold` times restarts the replica (with back-off)",
      ),
    ),
    startupProbe: Schema.optional(
      noted(
        StartupProbeSchema,
        "`httpGet`, `tcpSocket` or `exec`: readiness and liveness wait until it passes; failing `failureThreshold` times restarts the replica",
      ),
    ),
    volumeMounts: Schema.optional(Schema.Array(VolumeMountSchema)),
  }),
  {
    volumeDevices: `${NOT_YET}: there are no block volumes`,
    lifecycle: NOT_YET,
    restartPolicy: NOT_YET,
    resizePolicy: NOT_YET,
    stdin: NOT_YET,
    stdinOnce: NOT_YET,
    tty: NOT_YET,
    terminationMessagePath: NOT_YET,
    terminationMessagePolicy: NOT_YET,
  },
)

const PodSpecSchema = refusing(
  "Pod spec (`spec`, `spec.template.spec`)",
  Schema.Struct({
    containers: Schema.Array(ContainerSchema).check(
      Schema.isMinLength(1, { message: "needs at least one container" }),
      Schema.isMaxLength(MAX_CONTAINERS, {
        message: `has more than ${MAX_CONTAINERS} containers; at most ${MAX_CONTAINERS} are allowed per pod`,
      }),
    ),
    restartPolicy: Schema.optional(
      noted(
        Schema.Literals(["Always", "OnFailure", "Never"]),
        "default `Always`; `OnFailure` and `Never` for a v1 Pod only",
      ),
    ),
    hostNetwork: Schema.optional(
      noted(Schema.Boolean, "`true` refused: every pod has its own network"),
    ),
    hostPID: Schema.optional(noted(Schema.Boolean, "`true` refused")),
    hostIPC: Schema.optional(noted(Schema.Boolean, "`true` refused")),
    securityContext: Schema.optional(
      noted(Schema.Unknown, "honoured or refused field by field (see securityContext below)"),
    ),
    volumes: Schema.optional(
      noted(Schema.Array(VolumeSchema), "`configMap`, `secret` and `emptyDir`"),
    ),
    terminationGracePeriodSeconds: Schema.optional(
      noted(
        NonNegativeInt,
        "default 30: how long a container that handles SIGTERM has to stop; one that cannot handle it is killed at once",
      ),
    ),
  }),
  {
    initContainers: NOT_YET,
    ephemeralContainers: NOT_YET,
    nodeSelector: `${NOT_YET}: an agent runs what it is given on its own host`,
    nodeName: `${NOT_YET}: an agent runs what it is given on its own host`,
    affinity: `${NOT_YET}: an agent runs what it is given on its own host`,
    tolerations: NOT_YET,
    topologySpreadConstraints: NOT_YET,
    schedulerName: NOT_YET,
    priority: NOT_YET,
    priorityClassName: NOT_YET,
    preemptionPolicy: NOT_YET,
    runtimeClassName: NOT_YET,
    serviceAccount: NOT_YET,
    serviceAccountName: NOT_YET,
    automountServiceAccountToken: NOT_YET,
    imagePullSecrets: `${NOT_YET}: images are never pulled`,
    activeDeadlineSeconds: NOT_YET,
    dnsPolicy: NOT_YET,
    dnsConfig: NOT_YET,
    hostname: NOT_YET,
    subdomain: NOT_YET,
    setHostnameAsFQDN: NOT_YET,
    hostAliases: NOT_YET,
    hostUsers: "is refused: every app runs in a user namespace of its own",
    shareProcessNamespace: NOT_YET,
    enableServiceLinks: NOT_YET,
    readinessGates: NOT_YET,
    overhead: NOT_YET,
    os: NOT_YET,
    resourceClaims: NOT_YET,
    schedulingGates: NOT_YET,
  },
)

const META_REFUSED = {
  generateName: `${NOT_YET}; give metadata.name`,
  finalizers: NOT_YET,
  ownerReferences: NOT_YET,
  uid: SERVER_SET,
  resourceVersion: SERVER_SET,
  generation: SERVER_SET,
  selfLink: SERVER_SET,
  managedFields: SERVER_SET,
  deletionTimestamp: SERVER_SET,
  deletionGracePeriodSeconds: SERVER_SET,
}
/** What `kubectl create --dry-run -o yaml` writes; any timestamp is the server's. */
const CreationTimestamp = Schema.optional(noted(Schema.Null, "`null` only (as kubectl writes it)"))

const ObjectMetaSchema = refusing(
  "Metadata (`metadata`)",
  Schema.Struct({
    name: Dns1123Label,
    namespace: Schema.optional(noted(Dns1123Label, "default: `default`")),
    labels: Schema.optional(Labels),
    annotations: Schema.optional(
      noted(Annotations, "`beemesh.io/services`, `beemesh.io/upstreams` (below)"),
    ),
    creationTimestamp: CreationTimestamp,
  }),
  META_REFUSED,
)

const TemplateSchema = refusing(
  "Pod template (`spec.template`)",
  Schema.Struct({
    metadata: Schema.optional(
      refusing(
        "Pod template metadata (`spec.template.metadata`)",
        Schema.Struct({
          labels: Schema.optional(noted(Labels, "must include `spec.selector.matchLabels`")),
          annotations: Schema.optional(Annotations),
          creationTimestamp: CreationTimestamp,
        }),
        {
          ...META_REFUSED,
          name: "is refused: replicas are named after the workload",
          namespace: "is refused: give metadata.namespace",
        },
      ),
    ),
    spec: PodSpecSchema,
  }),
  {},
)

const SelectorSchema = refusing(
  "Selector (`spec.selector`)",
  Schema.Struct({ matchLabels: Schema.optional(Labels) }),
  { matchExpressions: `${NOT_YET}; use matchLabels` },
)

/** `status: {}` is what kubectl output carries; a status is the agent's to write. */
const EmptyStatus = Schema.optional(
  noted(
    refusing("Status (`status`)", Schema.Struct({}), {}).annotate({
      [REFUSED_OTHER]: "is written by the agent, never read from a manifest; remove status",
    }),
    "empty only (`status: {}`, as kubectl writes it)",
  ),
)

const Replicas = Schema.optional(noted(NonNegativeInt, "default 1"))

// ---------------------------------------------------------------------------------------------
// Update strategies (rolling updates): declared with their Kubernetes shapes so that manifests
// carrying them are accepted; how they are applied belongs to the deployer.
const IntOrPercent = Schema.Union([
  NonNegativeInt,
  Schema.String.check(
    Schema.makeFilter((text: string) =>
      /^[0-9]+%$/.test(text)
        ? undefined
        : "must be a non-negative integer or a percentage such as 25%",
    ),
  ),
])
const DeploymentStrategySchema = refusing(
  "Deployment strategy (`spec.strategy`)",
  Schema.Struct({
    type: Schema.optional(
      noted(Schema.Literals(["RollingUpdate", "Recreate"]), "default `RollingUpdate`"),
    ),
    rollingUpdate: Schema.optional(
      refusing(
        "Rolling update (`spec.strategy.rollingUpdate`)",
        Schema.Struct({
          maxSurge: Schema.optional(noted(IntOrPercent, "default 25%")),
          maxUnavailable: Schema.optional(noted(IntOrPercent, "default 25%")),
        }),
        {},
      ),
    ),
  }),
  {},
)
const StatefulSetUpdateStrategySchema = refusing(
  "StatefulSet update strategy (`spec.updateStrategy`)",
  Schema.Struct({
    type: Schema.optional(
      noted(Schema.Literals(["RollingUpdate", "OnDelete"]), "default `RollingUpdate`"),
    ),
    rollingUpdate: Schema.optional(
      refusing(
        "StatefulSet rolling update (`spec.updateStrategy.rollingUpdate`)",
        Schema.Struct({}),
        {
          partition: "is not supported: every ordinal is updated; remove it",
          maxUnavailable: "is not supported: one ordinal at a time; remove it",
        },
      ),
    ),
  }),
  {},
)
const DeploymentUpdateFields = {
  strategy: Schema.optional(DeploymentStrategySchema),
  progressDeadlineSeconds: Schema.optional(
    noted(
      Schema.Number.check(
        Schema.isInt({ message: "must be an integer" }),
        Schema.isGreaterThan(0, { message: "must be greater than 0" }),
      ),
      "default 600",
    ),
  ),
}
const StatefulSetUpdateFields = {
  updateStrategy: Schema.optional(StatefulSetUpdateStrategySchema),
}
// End of the update strategies.
// ---------------------------------------------------------------------------------------------

const ReplicatedSpecFields = {
  replicas: Replicas,
  selector: Schema.optional(SelectorSchema),
  template: TemplateSchema,
}

const DeploymentSpecSchema = refusing(
  "Deployment spec (`spec`)",
  Schema.Struct({ ...ReplicatedSpecFields, ...DeploymentUpdateFields }),
  { revisionHistoryLimit: NOT_YET, paused: NOT_YET, minReadySeconds: NOT_YET },
)

const StatefulSetSpecSchema = refusing(
  "StatefulSet spec (`spec`)",
  Schema.Struct({ ...ReplicatedSpecFields, ...StatefulSetUpdateFields }),
  {
    serviceName: `${NOT_YET}: no per-pod names; offer services through a v1 Service; remove serviceName`,
    volumeClaimTemplates: CLAIMS,
    persistentVolumeClaimRetentionPolicy: CLAIMS,
    podManagementPolicy: NOT_YET,
    revisionHistoryLimit: NOT_YET,
    minReadySeconds: NOT_YET,
    ordinals: NOT_YET,
  },
)

export const PodManifest = refusing(
  "v1 Pod",
  Schema.Struct({
    apiVersion: Schema.Literal("v1"),
    kind: Schema.Literal("Pod"),
    metadata: ObjectMetaSchema,
    spec: PodSpecSchema,
    status: EmptyStatus,
  }),
  {},
)

export const DeploymentManifest = refusing(
  "apps/v1 Deployment",
  Schema.Struct({
    apiVersion: Schema.Literal("apps/v1"),
    kind: Schema.Literal("Deployment"),
    metadata: ObjectMetaSchema,
    spec: DeploymentSpecSchema,
    status: EmptyStatus,
  }),
  {},
)

export const StatefulSetManifest = refusing(
  "apps/v1 StatefulSet",
  Schema.Struct({
    apiVersion: Schema.Literal("apps/v1"),
    kind: Schema.Literal("StatefulSet"),
    metadata: ObjectMetaSchema,
    spec: StatefulSetSpecSchema,
    status: EmptyStatus,
  }),
  {},
)

/** ConfigMap and Secret maps: keys as Kubernetes allows them, checked on the whole map. */
const ConfigData = (what: string) =>
  Schema.Record(Schema.String, Schema.String).check(
    Schema.makeFilter((map: Readonly<Record<string, string>>) => {
      for (const key of Object.keys(map))
        if (!CONFIG_KEY.test(key) || key === "." || key === "..")
          return `key ${shortQuote(key)} must be 1-253 letters, digits, '-', '_' or '.'`
      return what === "base64" ? base64Problem(map) : undefined
    }),
  )
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const base64Problem = (map: Readonly<Record<string, string>>) => {
  for (const [key, value] of Object.entries(map))
    if (!BASE64.test(value)) return `value of ${shortQuote(key)} must be base64 (standard, padded)`
  return undefined
}

const IMMUTABLE = `${NOT_YET}: objects are replaced by applying them again; remove it`

export const ConfigMapManifest = refusing(
  "v1 ConfigMap",
  Schema.Struct({
    apiVersion: Schema.Literal("v1"),
    kind: Schema.Literal("ConfigMap"),
    metadata: ObjectMetaSchema,
    data: Schema.optional(noted(ConfigData("text"), "UTF-8 values")),
    binaryData: Schema.optional(noted(ConfigData("base64"), "base64 values")),
  }),
  { immutable: IMMUTABLE },
)

export const SecretManifest = refusing(
  "v1 Secret",
  Schema.Struct({
    apiVersion: Schema.Literal("v1"),
    kind: Schema.Literal("Secret"),
    metadata: ObjectMetaSchema,
    type: Schema.optional(
      noted(Schema.String, "`Opaque` only (default); other types are refused by name"),
    ),
    data: Schema.optional(noted(ConfigData("base64"), "base64 values")),
    stringData: Schema.optional(noted(ConfigData("text"), "UTF-8 values; win over `data`")),
  }),
  { immutable: IMMUTABLE },
)

// ---------------------------------------------------------------------------------------------
// v1 Service (ClusterIP semantics): ServiceObjects.ts reads it and refuses by name what the mesh
// cannot do (other types, headless, UDP), and what the API server calls invalid (several ports,
// one without a name; a port name or number used twice).
const NO_ADDRESS =
  "is refused: a beemesh Service has no cluster address; clients reach it by name through their sidecar (beemesh.io/upstreams); remove it"
const ServicePortSchema = refusing(
  "Service port (`spec.ports[]`)",
  Schema.Struct({
    name: Schema.optional(
      noted(
        Dns1123Label,
        "required when there are several ports; the port is registered as `<service>--<name>`",
      ),
    ),
    port: noted(Port, "the port clients use (their upstream's port)"),
    targetPort: Schema.optional(
      noted(
        Schema.Union([Port, Schema.String]),
        "the app's port, or the name of a containerPort; default: `port`",
      ),
    ),
    protocol: Schema.optional(noted(Schema.String, "`TCP` only")),
  }),
  {
    nodePort: "is refused: only the sidecar is ever published; remove nodePort",
    appProtocol: `${NOT_YET}; remove appProtocol`,
  },
)
const ServiceSpecSchema = refusing(
  "Service spec (`spec`)",
  Schema.Struct({
    type: Schema.optional(noted(Schema.String, "`ClusterIP` only (default)")),
    selector: Schema.optional(
      noted(Labels, "pod labels of workloads in the namespace; none: selects nothing"),
    ),
    ports: noted(
      Schema.Array(ServicePortSchema).check(
        Schema.isMinLength(1, { message: "needs at least one port" }),
      ),
      "one or more; with several, each named (clients reach one as the upstream `<service>:<name>=<port>`)",
    ),
  }),
  {
    clusterIP: NO_ADDRESS,
    clusterIPs: NO_ADDRESS,
    externalIPs: NO_ADDRESS,
    externalName: "is refused: only ClusterIP Services are supported; remove externalName",
    loadBalancerIP: NO_ADDRESS,
    loadBalancerSourceRanges: NO_ADDRESS,
    loadBalancerClass: NO_ADDRESS,
    allocateLoadBalancerNodePorts: NO_ADDRESS,
    externalTrafficPolicy: NO_ADDRESS,
    healthCheckNodePort: NO_ADDRESS,
    internalTrafficPolicy: `${NOT_YET}: any ready replica in the mesh serves; remove it`,
    trafficDistribution: `${NOT_YET}: any ready replica in the mesh serves; remove it`,
    sessionAffinity: `${NOT_YET}: each connection goes to any ready replica; remove it`,
    sessionAffinityConfig: `${NOT_YET}: each connection goes to any ready replica; remove it`,
    publishNotReadyAddresses: `${NOT_YET}: only ready replicas are published; remove it`,
    ipFamilies: NO_ADDRESS,
    ipFamilyPolicy: NO_ADDRESS,
  },
)

/** What `kubectl create service … -o yaml` writes: `status: {loadBalancer: {}}`. */
const ServiceStatus = Schema.optional(
  noted(
    refusing(
      "Service status (`status`)",
      Schema.Struct({
        loadBalancer: Schema.optional(
          refusing("Load balancer status (`status.loadBalancer`)", Schema.Struct({}), {}).annotate({
            [REFUSED_OTHER]:
              "is written by a Kubernetes API server, never read from a manifest; remove status",
          }),
        ),
      }),
      {},
    ).annotate({
      [REFUSED_OTHER]:
        "is written by a Kubernetes API server, never read from a manifest; remove status",
    }),
    "empty only (`status: {}` or `{loadBalancer: {}}`, as kubectl writes it)",
  ),
)

export const ServiceManifest = refusing(
  "v1 Service",
  Schema.Struct({
    apiVersion: Schema.Literal("v1"),
    kind: Schema.Literal("Service"),
    metadata: ObjectMetaSchema,
    spec: ServiceSpecSchema,
    status: ServiceStatus,
  }),
  {},
)
// End of v1 Service.
// ---------------------------------------------------------------------------------------------
const PolicySelectorSchema = (title: string) =>
  refusing(
    title,
    Schema.Struct({
      matchLabels: Schema.optional(Labels),
      matchExpressions: Schema.optional(
        Schema.Array(
          refusing(
            "Selector requirement (`matchExpressions[]`)",
            Schema.Struct({
              key: noted(Schema.String, "a label key"),
              operator: noted(
                Schema.Literals(["In", "NotIn", "Exists", "DoesNotExist"]),
                "`In`, `NotIn` (need `values`), `Exists`, `DoesNotExist` (no `values`)",
              ),
              values: Schema.optional(Schema.Array(Schema.String)),
            }),
            {},
          ),
        ),
      ),
    }),
    {},
  )

const PolicyPeerSchema = refusing(
  "Policy peer (`ingress[].from[]`)",
  Schema.Struct({
    podSelector: Schema.optional(
      PolicySelectorSchema("Pod selector of a peer (`from[].podSelector`)"),
    ),
    namespaceSelector: Schema.optional(
      noted(
        PolicySelectorSchema("Namespace selector (`from[].namespaceSelector`)"),
        "namespaces have one label, `kubernetes.io/metadata.name` (their name)",
      ),
    ),
  }),
  {
    ipBlock:
      "is refused: callers are certified workloads, never addresses; select them with podSelector or namespaceSelector",
  },
)

const PolicyPortSchema = refusing(
  "Policy port (`ingress[].ports[]`)",
  Schema.Struct({
    port: Schema.optional(
      noted(
        Schema.Union([Port, Schema.String]),
        "a container port number (a service's app port); names are refused",
      ),
    ),
    protocol: Schema.optional(noted(Schema.Literal("TCP"), "`TCP` only")),
  }),
  { endPort: `${NOT_YET}: list the ports` },
)

const IngressRuleSchema = refusing(
  "Ingress rule (`spec.ingress[]`)",
  Schema.Struct({
    from: Schema.optional(Schema.Array(PolicyPeerSchema)),
    ports: Schema.optional(Schema.Array(PolicyPortSchema)),
  }),
  {},
)

export const NetworkPolicyManifest = refusing(
  "networking.k8s.io/v1 NetworkPolicy",
  Schema.Struct({
    apiVersion: Schema.Literal("networking.k8s.io/v1"),
    kind: Schema.Literal("NetworkPolicy"),
    metadata: ObjectMetaSchema,
    spec: refusing(
      "NetworkPolicy spec (`spec`)",
      Schema.Struct({
        podSelector: noted(
          PolicySelectorSchema("Pod selector (`spec.podSelector`)"),
          "the pods of the namespace it applies to; `{}` selects all",
        ),
        policyTypes: Schema.optional(
          noted(
            Schema.Array(Schema.String),
            "`Ingress` only (the default); `Egress` is refused by name",
          ),
        ),
        ingress: Schema.optional(Schema.Array(IngressRuleSchema)),
      }),
      {
        egress: `${NOT_YET}: sidecars enforce ingress only; remove egress`,
      },
    ),
  }),
  {},
)

/** Every manifest the agent accepts, in the order the README's table lists them. */
export const MANIFESTS = [
  PodManifest,
  DeploymentManifest,
  StatefulSetManifest,
  ConfigMapManifest,
  SecretManifest,
  ServiceManifest,
  NetworkPolicyManifest,
] as const

export const Header = Schema.Struct({ apiVersion: Schema.String, kind: Schema.String })

export type PodSpecInput = typeof PodSpecSchema.Type
/** The update fields of either replicated kind, as UpdateStrategy.ts reads them. */
export type ReplicatedSpecInput = Partial<
  typeof DeploymentSpecSchema.Type & typeof StatefulSetSpecSchema.Type
>
export type ContainerInput = typeof ContainerSchema.Type
export type VolumeInput = typeof VolumeSchema.Type
