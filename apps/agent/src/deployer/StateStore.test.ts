import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseManifests, type Workload } from "../Manifest"
import { specHash } from "./PodTemplate"
import { StateStore } from "./StateStore"
import { podOptions } from "./testing"

const workload: Workload = {
  kind: "Deployment",
  namespace: "shop",
  name: "web",
  replicas: 2,
  labels: { app: "web" },
  containers: [
    {
      name: "app",
      image: "localhost/web:1",
      command: undefined,
      args: ["httpd"],
      workingDir: undefined,
      env: [{ name: "A", value: "1" }],
      ports: [80],
      memoryLimitBytes: undefined,
      cpuLimitMillis: 500,
    },
  ],
  services: [{ name: "web", port: 80 }],
  upstreams: [],
}

let dir: string
let file: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "beemesh-state-"))
  file = join(dir, "workloads.json")
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const store = () => Effect.service(StateStore).pipe(Effect.provide(StateStore.layer(file)))

describe("StateStore", () => {
  it.effect("a missing file is a first start: nothing found, nothing wanted", () =>
    Effect.gen(function* () {
      const loaded = yield* (yield* store()).load()
      expect(loaded).toEqual({ found: false, workloads: [], orphans: [] })
    }),
  )

  it.effect("a restarted agent hashes what it loaded as it hashed what it applied", () =>
    Effect.gen(function* () {
      const [parsed] = yield* parseManifests(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      volumes: [{name: cfg, configMap: {name: settings, items: [{key: a, path: a}]}}]
      containers:
        - name: app
          image: localhost/web:1
          ports: [{containerPort: 80}]
          envFrom: [{configMapRef: {name: settings}}]
          securityContext: {runAsUser: 5}
          readinessProbe: {tcpSocket: {port: 80}}
          volumeMounts: [{name: cfg, mountPath: /cfg}]
`)
      // As the manager applies it: with the hash of what it refers to.
      const applied: Workload = { ...parsed!, configHash: "0123456789abcdef" }
      const s = yield* store()
      yield* s.save({ workloads: [applied], orphans: [] })
      const [loaded] = (yield* s.load()).workloads
      expect(specHash(loaded!, podOptions)).toBe(specHash(applied, podOptions))
    }),
  )

  it.effect(
    "keeps upstreams to ports of a multi-port Service and their spec hash across a restart",
    () =>
      Effect.gen(function* () {
        const [parsed] = yield* parseManifests(`
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: shop
  annotations: {beemesh.io/upstreams: "web:http=80,web:metrics=9090,orders=9001"}
spec:
  containers: [{name: app, image: localhost/client:1}]
`)
        const s = yield* store()
        yield* s.save({ workloads: [parsed!], orphans: [] })
        const [loaded] = (yield* s.load()).workloads
        expect(loaded?.upstreams).toEqual(parsed?.upstreams)
        expect(specHash(loaded!, podOptions)).toBe(specHash(parsed!, podOptions))
      }),
  )

  it.effect("keeps a workload's volumes and mounts across a restart", () =>
    Effect.gen(function* () {
      const [app] = workload.containers
      const withVolumes: Workload = {
        ...workload,
        volumes: [
          {
            name: "cfg",
            kind: "ConfigMap",
            object: "settings",
            items: [{ key: "a", path: "conf/a", mode: 0o400 }],
            defaultMode: 0o644,
            optional: false,
          },
          { name: "creds", kind: "Secret", object: "creds", defaultMode: 0o440, optional: true },
          { name: "mem", kind: "EmptyDir", medium: "Memory", sizeLimitBytes: 1024 },
        ],
        containers: [
          {
            ...app!,
            volumeMounts: [
              { name: "cfg", mountPath: "/etc/app", readOnly: true },
              { name: "mem", mountPath: "/mem", readOnly: false, subPath: "x" },
            ],
          },
        ],
      }
      const s = yield* store()
      yield* s.save({ workloads: [withVolumes], orphans: [] })
      expect((yield* s.load()).workloads).toEqual([withVolumes])
    }),
  )

  it.effect("saves a versioned state and loads the same workloads and orphans back", () =>
    Effect.gen(function* () {
      const s = yield* store()
      yield* s.save({ workloads: [workload], orphans: ["bm-shop-old-0"] })
      const text = yield* Effect.promise(() => readFile(file, "utf8"))
      expect(JSON.parse(text)).toMatchObject({ version: 1, orphans: ["bm-shop-old-0"] })
      expect(yield* s.load()).toEqual({
        found: true,
        workloads: [workload],
        orphans: ["bm-shop-old-0"],
      })
      // The temporary file is renamed, not left beside it.
      expect(yield* Effect.promise(() => readdir(dir))).toEqual(["workloads.json"])
    }),
  )

  it.effect(
    "keeps a container's readiness probe, so a restarted agent computes the same spec",
    () =>
      Effect.gen(function* () {
        const s = yield* store()
        const probed: Workload = {
          ...workload,
          containers: workload.containers.map((c) => ({
            ...c,
            readinessProbe: {
              container: c.name,
              action: "httpGet" as const,
              port: 80,
              path: "/ready",
              initialDelaySeconds: 0,
              periodSeconds: 10,
              timeoutSeconds: 1,
              successThreshold: 1,
              failureThreshold: 3,
            },
          })),
        }
        yield* s.save({ workloads: [probed], orphans: [] })
        expect((yield* s.load()).workloads).toEqual([probed])
      }),
  )

  it.effect(
    "keeps a container's securityContext, so a restarted agent recreates the app as it was",
    () =>
      Effect.gen(function* () {
        const s = yield* store()
        const secured: Workload = {
          ...workload,
          containers: workload.containers.map((c) => ({
            ...c,
            security: {
              runAsUser: 1000,
              runAsGroup: undefined,
              runAsNonRoot: true,
              readOnlyRootFilesystem: true,
              noNewPrivileges: true,
              capDrop: ["ALL"],
              capAdd: ["NET_BIND_SERVICE"],
            },
          })),
        }
        yield* s.save({ workloads: [secured], orphans: [] })
        expect((yield* s.load()).workloads).toEqual([secured])
      }),
  )

  const unusable: ReadonlyArray<readonly [string, string, RegExp]> = [
    ["empty", "", /is empty/],
    ["whitespace only", "  \n", /is empty/],
    ["{}", "{}", /not a version 1 state/],
    ["cut short", '{"version": 1, "workloads": [', /not JSON/],
    ["another version", '{"version": 2, "workloads": []}', /not a version 1 state/],
    [
      "a workload without containers",
      '{"version": 1, "workloads": [{"kind": "Pod", "namespace": "a", "name": "b", "replicas": 1, "labels": {}, "containers": [], "services": [], "upstreams": []}]}',
      /not a version 1 state/,
    ],
    ["the old unversioned form", '{"workloads": []}', /not a version 1 state/],
  ]
  it.effect.each(unusable)(
    "refuses a file that is %s, naming the file and the fix",
    ([, content, reason]) =>
      Effect.gen(function* () {
        yield* Effect.promise(() => writeFile(file, content))
        const error = yield* Effect.flip((yield* store()).load())
        expect(error._tag).toBe("StateFileInvalid")
        expect(error.message).toContain(file)
        expect(error.message).toMatch(reason)
        expect(error.message).toMatch(/fix: restore it from a backup, or move it away/)
      }),
  )

  it.effect("a file that cannot be read (a directory in its place) is refused too", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => mkdir(file))
      const error = yield* Effect.flip((yield* store()).load())
      expect(error._tag).toBe("StateFileInvalid")
      expect(error.message).toMatch(/EISDIR/)
    }),
  )

  it.effect("a write that cannot happen is StateWriteFailed and leaves the old state", () =>
    Effect.gen(function* () {
      const s = yield* store()
      yield* s.save({ workloads: [workload], orphans: [] })
      yield* Effect.promise(() => rm(dir, { recursive: true }))
      const error = yield* Effect.flip(s.save({ workloads: [], orphans: [] }))
      expect(error._tag).toBe("StateWriteFailed")
      expect(error.message).toContain(file)
    }),
  )
})
