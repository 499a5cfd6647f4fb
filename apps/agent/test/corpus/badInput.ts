/**
 * The bad-input corpus: manifests a user or an attacker may send (malformed, wrongly typed,
 * hostile, oversized, unsupported), each with the status and the words its refusal must carry.
 * Posted to the API with the fake host (test/unit/corpus.test.ts) and to a real agent
 * (test/e2e/corpus.test.ts): every one is a 4xx JSON answer, nothing is deployed, the agent lives.
 */

export interface BadInput {
  readonly name: string
  readonly body: string | Uint8Array
  readonly status: 400 | 413 | 422
  /** What the message must say (the field, the limit, what is wrong). */
  readonly message: RegExp
}

/** The agent's default body limit (1 MiB). */
export const MAX_BODY = 1024 * 1024
export const NAMESPACE = "corpus"
export const IMAGE = "localhost/web:1"

type Json = Record<string, unknown>

const container = (extra: Json = {}): Json => ({
  name: "app",
  image: IMAGE,
  ports: [{ containerPort: 80 }],
  ...extra,
})

/** A valid Pod (the unit test checks it is accepted), with `spec` and `metadata` extended. */
export const pod = (spec: Json = {}, metadata: Json = {}, top: Json = {}): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: NAMESPACE, ...metadata },
    spec: { containers: [container()], ...spec },
    ...top,
  })

const withContainer = (extra: Json) => pod({ containers: [container(extra)] })

/** A valid Deployment, with its `spec` extended. */
export const deployment = (spec: Json = {}, kind = "Deployment"): string =>
  JSON.stringify({
    apiVersion: "apps/v1",
    kind,
    metadata: { name: "api", namespace: NAMESPACE },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "api" } },
      template: { metadata: { labels: { app: "api" } }, spec: { containers: [container()] } },
      ...spec,
    },
  })

const security = (context: Json) => withContainer({ securityContext: context })

/** A v1 Service of the corpus namespace with this `spec`. */
const service = (spec: Json): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "api", namespace: NAMESPACE },
    spec,
  })

const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
  "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
].join("\n")

const nested = (depth: number): Json => {
  let value: Json = { leaf: true }
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

const NOT_YET = /not supported by beemesh yet/

export const BAD_INPUT: ReadonlyArray<BadInput> = [
  // Malformed YAML or JSON.
  { name: "an unclosed flow sequence", body: "kind: [", status: 400, message: /not valid YAML/ },
  { name: "an unterminated string", body: 'kind: "Pod', status: 400, message: /not valid YAML/ },
  {
    name: "JSON missing a comma",
    body: '{"apiVersion": "v1" "kind": "Pod"}',
    status: 400,
    message: /not valid YAML/,
  },
  {
    name: "bad indentation",
    body: "apiVersion: v1\n  kind: Pod\n kind2: x",
    status: 400,
    message: /not valid YAML.*line/,
  },
  {
    name: "a duplicate key",
    body: "apiVersion: v1\napiVersion: v1",
    status: 400,
    message: /the key "apiVersion" appears twice in one map \(line 2, column 1\)/,
  },
  { name: "an empty body", body: "", status: 400, message: /no manifest in the body/ },
  {
    name: "only a comment",
    body: "# nothing here\n",
    status: 400,
    message: /no manifest in the body/,
  },
  {
    name: "only document markers",
    body: "---\n---\n---\n",
    status: 400,
    message: /no manifest in the body/,
  },
  { name: "a bare scalar", body: "hello", status: 400, message: /needs apiVersion and kind/ },
  {
    name: "a list instead of an object",
    body: "[1, 2, 3]",
    status: 400,
    message: /needs apiVersion and kind/,
  },
  {
    name: "bytes that are not UTF-8",
    body: new Uint8Array([0xff, 0xfe, 0x00, 0x9f, 0x92]),
    status: 400,
    message: /./,
  },
  {
    name: "a YAML 1.1 merge key",
    body: "apiVersion: v1\nkind: Pod\nbase: &b {name: web}\nmetadata:\n  <<: *b\n",
    status: 400,
    message: /base: unknown field/,
  },
  {
    name: "a custom YAML tag",
    body: 'apiVersion: v1\nkind: !!js/function "function () {}"',
    status: 400,
    message: /./,
  },
  // Wrong types.
  {
    name: "a numeric apiVersion",
    body: "{apiVersion: 1, kind: Pod}",
    status: 400,
    message: /needs apiVersion and kind/,
  },
  {
    name: "a missing kind",
    body: "{apiVersion: v1, metadata: {name: x}}",
    status: 400,
    message: /needs apiVersion and kind/,
  },
  {
    name: "metadata that is a string",
    body: pod({}, {}, { metadata: "web" }),
    status: 400,
    message: /metadata: must be an object/,
  },
  {
    name: "a numeric name",
    body: pod({}, { name: 42 }),
    status: 400,
    message: /metadata\.name: must be a string/,
  },
  {
    name: "containers that are an object",
    body: pod({ containers: { name: "app" } }),
    status: 400,
    message: /spec\.containers: must be a list/,
  },
  {
    name: "no containers",
    body: pod({ containers: [] }),
    status: 400,
    message: /spec\.containers: needs at least one container/,
  },
  {
    name: "a numeric image",
    body: withContainer({ image: 5 }),
    status: 400,
    message: /containers\[0\]\.image: must be a string/,
  },
  {
    name: "replicas as a string",
    body: deployment({ replicas: "3" }),
    status: 400,
    message: /spec\.replicas: must be a number/,
  },
  {
    name: "negative replicas",
    body: deployment({ replicas: -1 }),
    status: 400,
    message: /spec\.replicas: must not be negative/,
  },
  {
    name: "fractional replicas",
    body: deployment({ replicas: 1.5 }),
    status: 400,
    message: /spec\.replicas: must be an integer/,
  },
  {
    name: "a billion replicas",
    body: deployment({ replicas: 1e9 }),
    status: 400,
    message: /at most \d+ replicas are allowed per workload/,
  },
  {
    name: "a port as a string",
    body: withContainer({ ports: [{ containerPort: "80" }] }),
    status: 400,
    message: /ports\[0\]\.containerPort: must be a number/,
  },
  {
    name: "a port out of range",
    body: withContainer({ ports: [{ containerPort: 70000 }] }),
    status: 400,
    message: /between 1 and 65535/,
  },
  {
    name: "env as an object",
    body: withContainer({ env: { A: "1" } }),
    status: 400,
    message: /\.env: must be a list/,
  },
  {
    name: "a numeric env value",
    body: withContainer({ env: [{ name: "A", value: 1 }] }),
    status: 400,
    message: /env\[0\]\.value: must be a string/,
  },
  {
    name: "command as a string",
    body: withContainer({ command: "sh -c 'rm -rf /'" }),
    status: 400,
    message: /\.command: must be a list/,
  },
  {
    name: "a numeric label value",
    body: pod({}, { labels: { app: 1 } }),
    status: 400,
    message: /metadata\.labels/,
  },
  {
    name: "a memory limit that is no quantity",
    body: withContainer({ resources: { limits: { memory: "lots" } } }),
    status: 400,
    message: /not a quantity/,
  },
  {
    name: "a cpu limit that is a list",
    body: withContainer({ resources: { limits: { cpu: [1] } } }),
    status: 400,
    message: /limits\.cpu: must be a string or a number/,
  },
  // Names and strings.
  {
    name: "an upper-case name",
    body: pod({}, { name: "Web" }),
    status: 400,
    message: /metadata\.name: must be a DNS-1123 label/,
  },
  {
    name: "a unicode name",
    body: pod({}, { name: "wéb" }),
    status: 400,
    message: /metadata\.name: must be a DNS-1123 label/,
  },
  {
    name: "a name with a NUL",
    body: pod({}, { name: "web\u0000x" }),
    status: 400,
    message: /metadata\.name: contains a NUL/,
  },
  {
    name: "a name with a right-to-left override",
    body: pod({}, { name: "web\u202egpj" }),
    status: 400,
    message: /DNS-1123 label/,
  },
  {
    name: "a name too long",
    body: pod({}, { name: "a".repeat(41) }),
    status: 400,
    message: /at most 40 characters/,
  },
  {
    name: "a namespace with a slash",
    body: pod({}, { namespace: "a/b" }),
    status: 400,
    message: /metadata\.namespace: must be a DNS-1123 label/,
  },
  {
    name: "an empty container name",
    body: withContainer({ name: "" }),
    status: 400,
    message: /containers\[0\]\.name/,
  },
  {
    name: "an argument with a NUL",
    body: withContainer({ args: ["a\u0000b"] }),
    status: 400,
    message: /args\[0\]: contains a NUL/,
  },
  {
    name: "a field name with a NUL",
    body: pod({}, { "name\u0000": "x" }),
    status: 400,
    message: /field name contains a NUL/,
  },
  {
    name: "an env name starting with a digit",
    body: withContainer({ env: [{ name: "1A", value: "x" }] }),
    status: 400,
    message: /env\[0\]\.name: must be an environment variable name/,
  },
  {
    name: "a label key with a space",
    body: pod({}, { labels: { "my app": "x" } }),
    status: 400,
    message: /metadata\.labels: key "my app" must be/,
  },
  {
    name: "a label key __proto__",
    body: pod({}, { labels: JSON.parse('{"__proto__": "x"}') }),
    status: 400,
    message: /key "__proto__" must be/,
  },
  // Hostile.
  {
    name: "an alias bomb (billion laughs)",
    body: BILLION_LAUGHS,
    status: 400,
    message: /aliases expand to too many nodes.*at most 50/,
  },
  {
    name: "flow nesting ten thousand deep",
    body: `${"[".repeat(10_000)}${"]".repeat(10_000)}`,
    status: 400,
    message: /nested too deeply/,
  },
  {
    name: "JSON nested 40 deep in a securityContext",
    body: security(nested(40)),
    status: 400,
    message: /nested too deeply to be a manifest: more than 32/,
  },
  {
    name: "a megabyte of [",
    body: "[".repeat(MAX_BODY - 16),
    status: 400,
    message: /nested too deeply to be a manifest: more than 32 \[, \{ or - open at once \(line 1\)/,
  },
  {
    name: "flow nesting 40 deep in the second document",
    body: `${pod()}\n---\n${"{a: ".repeat(40)}1${"}".repeat(40)}`,
    status: 400,
    message: /^manifest document 2: nested too deeply.*\(line 3\)/,
  },
  {
    name: "a line of 500 thousand dashes",
    body: "- ".repeat(500_000),
    status: 400,
    message: /nested too deeply to be a manifest: more than 32/,
  },
  {
    name: "a flat list of 300 thousand items",
    body: `{apiVersion: v1, kind: Pod, metadata: {name: web}, spec: {containers: [${"1,".repeat(300_000)}1]}}`,
    status: 400,
    message: /spec\.containers\[0\]: must be an object/,
  },
  {
    name: "block nesting 1400 deep",
    body: `apiVersion: v1\nkind: Pod\nspec:\n${Array.from({ length: 1400 }, (_, i) => `${" ".repeat(i + 1)}a:`).join("\n")}`,
    status: 400,
    message: /nested too deeply to be a manifest: more than 32/,
  },
  {
    name: "a block mapping nested 40 deep in a securityContext",
    body: [
      "apiVersion: v1",
      "kind: Pod",
      `metadata: {name: web, namespace: ${NAMESPACE}}`,
      "spec:",
      "  containers:",
      `  - {name: app, image: ${IMAGE}}`,
      "  securityContext:",
      ...Array.from({ length: 40 }, (_, i) => `${"  ".repeat(i + 2)}a:`),
      `${"  ".repeat(42)}leaf: true`,
    ].join("\n"),
    status: 400,
    message: /nested too deeply to be a manifest: more than 32 levels \(line \d+, column \d+\)/,
  },
  {
    name: "a __proto__ key at the top",
    body: pod().replace("{", '{"__proto__": {"polluted": true},'),
    status: 400,
    message: /\["__proto__"\]: unknown field/,
  },
  {
    name: "a constructor.prototype key in a container",
    body: withContainer({ constructor: { prototype: { polluted: true } } }),
    status: 400,
    message: /containers\[0\]\.constructor: unknown field/,
  },
  {
    name: "a __proto__ key in a securityContext",
    body: security(JSON.parse('{"__proto__": {"privileged": true}}')),
    status: 400,
    message: /securityContext\.__proto__ is not supported/,
  },
  {
    name: "an image of 900 KB",
    body: withContainer({ image: "a".repeat(900_000) }),
    status: 400,
    message: /longer than 255 characters/,
  },
  {
    name: "an unknown kind of 500 KB",
    body: JSON.stringify({ apiVersion: "v1", kind: "K".repeat(500_000) }),
    status: 400,
    message: /unsupported kind v1 K+…/,
  },
  {
    name: "a strategy type of 500 KB",
    body: deployment({ strategy: { type: "R".repeat(500_000) } }),
    status: 400,
    message: /spec\.strategy\.type: must be one of RollingUpdate, Recreate/,
  },
  {
    name: "a label value of 500 KB",
    body: pod({}, { labels: { app: "v".repeat(500_000) } }),
    status: 400,
    message: /metadata\.labels: value "v+…" of app must be a label value/,
  },
  {
    name: "an env name of 500 KB with a space",
    body: withContainer({ env: [{ name: `${"A".repeat(500_000)} B`, value: "x" }] }),
    status: 400,
    message: /env\[0\]\.name: must be an environment variable name/,
  },
  {
    name: "five thousand containers",
    body: pod({
      containers: Array.from({ length: 5000 }, (_, i) => container({ name: `c${i}`, ports: [] })),
    }),
    status: 400,
    message: /more than 16 containers/,
  },
  {
    name: "fifty thousand unknown fields",
    body: pod({}, Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`f${i}`, i]))),
    status: 400,
    message: /metadata\.f0: unknown field/,
  },
  {
    name: "a key repeated after eighty thousand others",
    body: `{${Array.from({ length: 80_000 }, (_, i) => `k${i}: 1`).join(", ")}, k0: 2}`,
    status: 400,
    message: /the key "k0" appears twice/,
  },
  {
    name: "a body over 1 MiB",
    body: `# ${"x".repeat(MAX_BODY)}`,
    status: 413,
    message: /exceeds 1048576 bytes/,
  },
  {
    name: "more documents than allowed",
    body: Array.from({ length: 40 }, (_, i) => pod({}, { name: `w${i}` })).join("\n---\n"),
    status: 400,
    message: /more than 32 documents/,
  },
  {
    name: "the same workload twice",
    body: `${deployment()}\n---\n${deployment()}`,
    status: 400,
    message: /corpus\/api appears more than once/,
  },
  {
    name: "a valid document before an invalid one",
    body: `${deployment()}\n---\n${pod({}, { name: "Bad" })}`,
    status: 400,
    message: /^manifest document 2: metadata\.name/,
  },
  // The pod's isolation.
  {
    name: "the sidecar's UID",
    body: security({ runAsUser: 1337 }),
    status: 400,
    message: /runAsUser 1337 is the sidecar's identity/,
  },
  {
    name: "the sidecar's GID",
    body: security({ runAsUser: 1000, runAsGroup: 1337 }),
    status: 400,
    message: /runAsGroup 1337 is the sidecar's identity/,
  },
  {
    name: "a privileged container",
    body: security({ privileged: true }),
    status: 400,
    message: /privileged containers are refused/,
  },
  {
    name: "capability SYS_ADMIN",
    body: security({ capabilities: { add: ["SYS_ADMIN"] } }),
    status: 400,
    message: /SYS_ADMIN is refused/,
  },
  {
    name: "a seccomp profile",
    body: security({ seccompProfile: { type: "Unconfined" } }),
    status: 400,
    message: /securityContext\.seccompProfile is not supported/,
  },
  {
    name: "host networking",
    body: pod({ hostNetwork: true }),
    status: 400,
    message: /hostNetwork is refused/,
  },
  {
    name: "the host's PID namespace",
    body: pod({ hostPID: true }),
    status: 400,
    message: /hostPID\/hostIPC are refused/,
  },
  {
    name: "hostUsers false",
    body: pod({ hostUsers: false }),
    status: 400,
    message: /spec\.hostUsers: is refused/,
  },
  {
    name: "a hostPort",
    body: withContainer({ ports: [{ containerPort: 80, hostPort: 80 }] }),
    status: 400,
    message: /hostPort is refused/,
  },
  {
    name: "a hostIP",
    body: withContainer({ ports: [{ containerPort: 80, hostIP: "0.0.0.0" }] }),
    status: 400,
    message: /ports\[0\]\.hostIP: is refused/,
  },
  {
    name: "the sidecar's port",
    body: withContainer({ ports: [{ containerPort: 8080 }] }),
    status: 400,
    message: /8080 is reserved for the sidecar/,
  },
  {
    name: "a UDP port",
    body: withContainer({ ports: [{ containerPort: 53, protocol: "UDP" }] }),
    status: 400,
    message: /only TCP is carried/,
  },
  {
    name: "an upstream on the sidecar's health port",
    body: pod({}, { annotations: { "beemesh.io/upstreams": "db=8081" } }),
    status: 400,
    message: /port 8081 for db is already taken/,
  },
  // Image references.
  {
    name: "an image with a space",
    body: withContainer({ image: "localhost/web: 1" }),
    status: 400,
    message:
      /image: is not an image reference: it contains whitespace; a valid reference looks like/,
  },
  {
    name: "an upper-case image",
    body: withContainer({ image: "localhost/Web:1" }),
    status: 400,
    message: /upper-case letters in "Web"/,
  },
  {
    name: "an empty image",
    body: withContainer({ image: "" }),
    status: 400,
    message: /image: is not an image reference: it is empty/,
  },
  {
    name: "an image with an empty path part",
    body: withContainer({ image: "localhost//web:1" }),
    status: 400,
    message: /empty name component/,
  },
  {
    name: "an image with a bad digest",
    body: withContainer({ image: "web@sha256:nothex" }),
    status: 400,
    message: /malformed digest/,
  },
  {
    name: "an image with a bad tag",
    body: withContainer({ image: "web:1!" }),
    status: 400,
    message: /malformed tag "1!"/,
  },
  // Fields Kubernetes has and beemesh does not (yet).
  {
    name: "a livenessProbe with successThreshold 2",
    body: withContainer({ livenessProbe: { httpGet: { port: 80 }, successThreshold: 2 } }),
    status: 400,
    message: /livenessProbe\.successThreshold must be 1/,
  },
  {
    name: "a grpc startupProbe",
    body: withContainer({ startupProbe: { grpc: { port: 80 } } }),
    status: 400,
    message: /spec\.containers\[0\]\.startupProbe\.grpc: not supported by beemesh yet/,
  },
  {
    name: "an exec readinessProbe without a command in a template",
    body: deployment({
      template: {
        metadata: { labels: { app: "api" } },
        spec: { containers: [container({ readinessProbe: { exec: { command: [] } } })] },
      },
    }),
    status: 400,
    message:
      /spec\.template\.spec\.containers\[0\]\.readinessProbe\.exec\.command: needs the program to run/,
  },
  {
    name: "a readinessProbe that reaches another host",
    body: withContainer({ readinessProbe: { httpGet: { port: 80, host: "10.0.2.2" } } }),
    status: 400,
    message: /readinessProbe\.httpGet\.host: is refused/,
  },
  {
    name: "a hostPath volume",
    body: pod({ volumes: [{ name: "root", hostPath: { path: "/" } }] }),
    status: 400,
    message: /spec\.volumes\[0\]\.hostPath: is refused: apps never see the host's files/,
  },
  {
    name: "a persistentVolumeClaim volume",
    body: pod({ volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }] }),
    status: 400,
    message: /spec\.volumes\[0\]\.persistentVolumeClaim: not supported by beemesh yet/,
  },
  {
    name: "an emptyDir on disk with a sizeLimit",
    body: pod({ volumes: [{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }] }),
    status: 400,
    message: /sizeLimit is enforced only with medium: Memory/,
  },
  {
    name: "an emptyDir of an unknown medium",
    body: pod({ volumes: [{ name: "tmp", emptyDir: { medium: "HugePages" } }] }),
    status: 400,
    message: /spec\.volumes\[0\]\.emptyDir\.medium: must be one of , Memory/,
  },
  {
    name: "a volume with two sources",
    body: pod({ volumes: [{ name: "both", emptyDir: {}, configMap: { name: "settings" } }] }),
    status: 400,
    message: /needs exactly one of configMap, secret and emptyDir/,
  },
  {
    name: "a configMap item path that leaves the volume",
    body: pod({
      volumes: [
        {
          name: "cfg",
          configMap: { name: "settings", items: [{ key: "a", path: "../etc/passwd" }] },
        },
      ],
    }),
    status: 400,
    message: /items\[0\]\.path "\.\.\/etc\/passwd" must not contain '\.\.'/,
  },
  {
    name: "a secret volume's defaultMode beyond 0777",
    body: pod({ volumes: [{ name: "s", secret: { secretName: "creds", defaultMode: 4095 } }] }),
    status: 400,
    message: /defaultMode: must be a file mode between 0 and 0777/,
  },
  {
    name: "a volumeMount of an undeclared volume",
    body: withContainer({ volumeMounts: [{ name: "tmp", mountPath: "/tmp" }] }),
    status: 400,
    message: /volumeMounts\[0\] names volume "tmp", which spec\.volumes does not declare/,
  },
  {
    name: "a relative mountPath",
    body: pod({
      volumes: [{ name: "tmp", emptyDir: {} }],
      containers: [container({ volumeMounts: [{ name: "tmp", mountPath: "tmp" }] })],
    }),
    status: 400,
    message: /mountPath "tmp" must be an absolute path/,
  },
  {
    name: "initContainers",
    body: pod({ initContainers: [container()] }),
    status: 400,
    message: /spec\.initContainers: not supported/,
  },
  {
    name: "a nodeSelector",
    body: pod({ nodeSelector: { disk: "ssd" } }),
    status: 400,
    message: /spec\.nodeSelector: not supported/,
  },
  {
    name: "envFrom with both a ConfigMap and a Secret in one entry",
    body: withContainer({ envFrom: [{ configMapRef: { name: "c" }, secretRef: { name: "s" } }] }),
    status: 400,
    message: /each envFrom entry needs exactly one of configMapRef and secretRef/,
  },
  {
    name: "env valueFrom fieldRef",
    body: withContainer({
      env: [{ name: "A", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    }),
    status: 400,
    message: /valueFrom\.fieldRef: not supported/,
  },
  {
    name: "env with both a value and valueFrom",
    body: withContainer({
      env: [{ name: "A", value: "x", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
    }),
    status: 400,
    message: /env A needs exactly one of value/,
  },
  {
    name: "a Secret of a type other than Opaque",
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "tls" },
      type: "kubernetes.io/tls",
      data: {},
    }),
    status: 400,
    message: /Secret type "kubernetes\.io\/tls" is not supported; only Opaque/,
  },
  {
    name: "a Secret whose data is not base64",
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s" },
      data: { password: "not base64!" },
    }),
    status: 400,
    message: /data: value of "password" must be base64/,
  },
  {
    name: "a ConfigMap key that is not a key",
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { "../etc/passwd": "x" },
    }),
    status: 400,
    message: /key "\.\.\/etc\/passwd" must be 1-253 letters/,
  },

  {
    name: "resource requests",
    body: withContainer({ resources: { requests: { cpu: "1" } } }),
    status: 400,
    message: /resources\.requests: not supported/,
  },
  {
    name: "metadata.generateName",
    body: pod({}, { generateName: "web-" }),
    status: 400,
    message: /metadata\.generateName: not supported/,
  },
  {
    name: "a server-set uid",
    body: pod({}, { uid: "1234" }),
    status: 400,
    message: /metadata\.uid: is set by a Kubernetes API server/,
  },
  {
    name: "a non-empty status",
    body: pod({}, {}, { status: { phase: "Running" } }),
    status: 400,
    message: /^manifest document 1: status: is written by the agent/,
  },
  {
    name: "selector.matchExpressions",
    body: deployment({ selector: { matchExpressions: [] } }),
    status: 400,
    message: /spec\.selector\.matchExpressions: not supported/,
  },
  {
    name: "restartPolicy Never in a Deployment",
    body: deployment({
      template: {
        metadata: { labels: { app: "api" } },
        spec: { containers: [{ name: "app", image: IMAGE }], restartPolicy: "Never" },
      },
    }),
    status: 400,
    message: /spec\.template\.spec\.restartPolicy: a Deployment's pods restart Always/,
  },
  {
    name: "an unknown restartPolicy",
    body: pod({ restartPolicy: "Sometimes" }),
    status: 400,
    message: /spec\.restartPolicy: must be one of Always, OnFailure, Never/,
  },
  {
    name: "a StatefulSet serviceName",
    body: deployment({ serviceName: "api" }, "StatefulSet"),
    status: 400,
    message: NOT_YET,
  },
  {
    name: "a Deployment strategy on a StatefulSet",
    body: deployment({ strategy: { type: "Recreate" } }, "StatefulSet"),
    status: 400,
    message: /spec\.strategy: unknown field/,
  },
  {
    name: "an unknown strategy type",
    body: deployment({ strategy: { type: "BlueGreen" } }),
    status: 400,
    message: /spec\.strategy\.type: must be one of RollingUpdate, Recreate/,
  },
  {
    name: "a typo: imagePullPolcy",
    body: withContainer({ imagePullPolcy: "Never" }),
    status: 400,
    message: /imagePullPolcy: unknown field; did you mean imagePullPolicy\?/,
  },
  {
    name: "a typo: containerport",
    body: withContainer({ ports: [{ containerport: 80 }] }),
    status: 400,
    message: /ports\[0\]\.containerport: unknown field; did you mean containerPort\?/,
  },
  {
    name: "a typo: replica",
    body: deployment({ replica: 2 }),
    status: 400,
    message: /spec\.replica: unknown field; did you mean replicas\?/,
  },
  {
    name: "a selector that does not match the template",
    body: deployment({ selector: { matchLabels: { app: "other" } } }),
    status: 400,
    message: /does not match spec\.template\.metadata\.labels/,
  },
  // Kinds.
  {
    name: "a Job",
    body: '{"apiVersion": "batch/v1", "kind": "Job"}',
    status: 400,
    message: /unsupported kind batch\/v1 Job; supported: v1 Pod/,
  },
  {
    name: "a DaemonSet",
    body: '{"apiVersion": "apps/v1", "kind": "DaemonSet"}',
    status: 400,
    message: /unsupported kind apps\/v1 DaemonSet/,
  },
  {
    name: "a List",
    body: '{"apiVersion": "v1", "kind": "List", "items": []}',
    status: 400,
    message: /unsupported kind v1 List/,
  },
  {
    name: "a Pod under apps/v1",
    body: pod().replace('"v1"', '"apps/v1"'),
    status: 400,
    message: /unsupported kind apps\/v1 Pod/,
  },
  {
    name: "a Deployment under apps/v2",
    body: deployment().replace('"apps/v1"', '"apps/v2"'),
    status: 400,
    message: /unsupported kind apps\/v2 Deployment/,
  },
  {
    name: "a NodePort Service",
    body: service({ type: "NodePort", selector: { app: "api" }, ports: [{ port: 80 }] }),
    status: 400,
    message: /spec\.type "NodePort" is refused: only ClusterIP Services are supported/,
  },
  {
    name: "a headless Service",
    body: service({ clusterIP: "None", selector: { app: "api" }, ports: [{ port: 80 }] }),
    status: 400,
    message: /spec\.clusterIP: is refused: a beemesh Service has no cluster address/,
  },
  {
    name: "a UDP Service",
    body: service({ selector: { app: "api" }, ports: [{ port: 53, protocol: "UDP" }] }),
    status: 400,
    message: /spec\.ports\[0\]\.protocol "UDP" is refused: only TCP is carried/,
  },
  {
    name: "a Service with session affinity",
    body: service({ sessionAffinity: "ClientIP", ports: [{ port: 80 }] }),
    status: 400,
    message: /spec\.sessionAffinity: not supported by beemesh yet/,
  },
  {
    name: "a Service with two ports, one without a name",
    body: service({ ports: [{ name: "a", port: 80 }, { port: 81 }] }),
    status: 422,
    message: /spec\.ports\[1\]\.name is required/,
  },
  {
    name: "a Service with a port name twice",
    body: service({
      ports: [
        { name: "a", port: 80 },
        { name: "a", port: 81 },
      ],
    }),
    status: 422,
    message: /spec\.ports\[1\]\.name "a" is a duplicate of spec\.ports\[0\]\.name/,
  },
  {
    name: "a Service with a port number twice",
    body: service({
      ports: [
        { name: "a", port: 80 },
        { name: "b", port: 80 },
      ],
    }),
    status: 422,
    message: /spec\.ports\[1\]\.port 80 is a duplicate of spec\.ports\[0\]\.port/,
  },
]
