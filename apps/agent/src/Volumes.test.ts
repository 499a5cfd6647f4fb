import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { ConfigObject, Lookup } from "./ConfigObjects"
import { configHash, referenceProblem, referencesOf } from "./ConfigObjects"
import { parseManifests } from "./Manifest"
import { type ProjectedVolume, projectedFiles } from "./Volumes"

const parse = (text: string) => Effect.runSync(parseManifests(text))
const refusal = (text: string): string => {
  const exit = Effect.runSyncExit(parseManifests(text))
  if (Exit.isSuccess(exit)) throw new Error(`expected a refusal, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason?._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error.message
}

const pod = (volumes: string, mounts: string, second = "") => `
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop }
spec:
  volumes: ${volumes}
  containers:
    - name: app
      image: localhost/web:1
      volumeMounts: ${mounts}
${second}`

const b64 = (text: string) => Buffer.from(text).toString("base64")
const objects: ReadonlyArray<ConfigObject> = [
  {
    kind: "ConfigMap",
    namespace: "shop",
    name: "settings",
    data: { "app.conf": b64("level=debug\n"), greeting: b64("hello") },
  },
  { kind: "Secret", namespace: "shop", name: "creds", data: { password: b64("hunter2") } },
]
const lookup: Lookup = (kind, name) => objects.find((o) => o.kind === kind && o.name === name)

describe("volumes in manifests", () => {
  it("reads configMap, secret and emptyDir volumes and the containers' mounts", () => {
    const [workload] = parse(
      pod(
        `[{name: cfg, configMap: {name: settings, items: [{key: app.conf, path: conf/app.conf, mode: 0400}]}},
          {name: creds, secret: {secretName: creds, defaultMode: 0440, optional: true}},
          {name: scratch, emptyDir: {}},
          {name: fast, emptyDir: {medium: Memory, sizeLimit: 16Mi}}]`,
        `[{name: cfg, mountPath: /etc/app/}, {name: creds, mountPath: /run/creds, readOnly: false},
          {name: scratch, mountPath: /scratch, subPath: logs}, {name: fast, mountPath: /fast, readOnly: true}]`,
      ),
    )
    expect(workload?.volumes).toEqual([
      {
        name: "cfg",
        kind: "ConfigMap",
        object: "settings",
        items: [{ key: "app.conf", path: "conf/app.conf", mode: 0o400 }],
        defaultMode: 0o644,
        optional: false,
      },
      { name: "creds", kind: "Secret", object: "creds", defaultMode: 0o440, optional: true },
      { name: "scratch", kind: "EmptyDir", medium: "" },
      { name: "fast", kind: "EmptyDir", medium: "Memory", sizeLimitBytes: 16 * 2 ** 20 },
    ])
    expect(workload?.containers[0]?.volumeMounts).toEqual([
      // ConfigMap and Secret volumes are read-only whatever the mount says, as in Kubernetes.
      { name: "cfg", mountPath: "/etc/app", readOnly: true },
      { name: "creds", mountPath: "/run/creds", readOnly: true },
      { name: "scratch", mountPath: "/scratch", readOnly: false, subPath: "logs" },
      { name: "fast", mountPath: "/fast", readOnly: true },
    ])
  })

  it("a workload without volumes has neither field (its spec hash is unchanged)", () => {
    const [workload] = parse(
      "{apiVersion: v1, kind: Pod, metadata: {name: web}, spec: {containers: [{name: app, image: localhost/web:1}]}}",
    )
    expect(workload).not.toHaveProperty("volumes")
    expect(workload?.containers[0]).not.toHaveProperty("volumeMounts")
  })

  it("a mount naming an undeclared volume is refused, naming both", () => {
    expect(
      refusal(pod("[{name: cfg, emptyDir: {}}]", "[{name: data, mountPath: /data}]")),
    ).toContain(
      'container app: volumeMounts[0] names volume "data", which spec.volumes does not declare (declared: cfg)',
    )
  })

  it("refuses hostPath and the other volume types by name", () => {
    expect(refusal(pod("[{name: root, hostPath: {path: /}}]", "[]"))).toContain(
      "spec.volumes[0].hostPath: is refused: apps never see the host's files",
    )
    expect(refusal(pod("[{name: p, projected: {sources: []}}]", "[]"))).toContain(
      "spec.volumes[0].projected: not supported by beemesh yet",
    )
    expect(
      refusal(
        pod(
          "[{name: x, emptyDir: {}}]",
          "[{name: x, mountPath: /x, mountPropagation: Bidirectional}]",
        ),
      ),
    ).toContain("volumeMounts[0].mountPropagation: not supported by beemesh yet")
  })

  it("refuses paths that would leave a volume or the container's tree", () => {
    expect(
      refusal(pod("[{name: c, configMap: {name: s, items: [{key: k, path: /etc/passwd}]}}]", "[]")),
    ).toContain('items[0].path "/etc/passwd" must be relative')
    expect(
      refusal(pod("[{name: c, configMap: {name: s, items: [{key: k, path: a/../../b}]}}]", "[]")),
    ).toContain("must not contain '..'")
    expect(
      refusal(
        pod(
          "[{name: c, configMap: {name: s, items: [{key: k, path: a}, {key: l, path: a/b}]}}]",
          "[]",
        ),
      ),
    ).toContain("items path a is a file, so a/b cannot be inside it")
    expect(
      refusal(pod("[{name: x, emptyDir: {}}]", "[{name: x, mountPath: /x, subPath: ../up}]")),
    ).toContain("volumeMounts[0].subPath \"../up\" must not contain '..'")
    expect(refusal(pod("[{name: x, emptyDir: {}}]", "[{name: x, mountPath: /}]"))).toContain(
      "must not be / (the container's root)",
    )
    expect(
      refusal(
        pod("[{name: x, emptyDir: {}}]", "[{name: x, mountPath: /a}, {name: x, mountPath: /a/}]"),
      ),
    ).toContain("volumeMounts[1].mountPath /a is mounted twice")
  })

  it("refuses a volume name used twice and a volume of two sources", () => {
    expect(refusal(pod("[{name: x, emptyDir: {}}, {name: x, emptyDir: {}}]", "[]"))).toContain(
      "volume name x is used twice",
    )
    expect(refusal(pod("[{name: x, emptyDir: {}, secret: {secretName: s}}]", "[]"))).toContain(
      "needs exactly one of configMap, secret and emptyDir (found 2)",
    )
  })
})

describe("projected files", () => {
  const volume = (extra: Partial<ProjectedVolume>): ProjectedVolume => ({
    name: "cfg",
    kind: "ConfigMap",
    object: "settings",
    defaultMode: 0o644,
    optional: false,
    ...extra,
  })

  it("every key as a file named after it, with the default mode", () => {
    const files = projectedFiles(volume({}), lookup)
    expect(files).toEqual([
      { path: "app.conf", mode: 0o644, bytes: Buffer.from("level=debug\n") },
      { path: "greeting", mode: 0o644, bytes: Buffer.from("hello") },
    ])
  })

  it("only the items, at their paths and modes", () => {
    const files = projectedFiles(
      volume({
        kind: "Secret",
        object: "creds",
        items: [{ key: "password", path: "db/pw", mode: 0o400 }],
      }),
      lookup,
    )
    expect(files).toEqual([{ path: "db/pw", mode: 0o400, bytes: Buffer.from("hunter2") }])
  })

  it("a missing object or key is a problem unless the volume is optional", () => {
    expect(projectedFiles(volume({ object: "nowhere" }), lookup)).toEqual({
      problem: "volume cfg: ConfigMap nowhere does not exist",
    })
    expect(projectedFiles(volume({ object: "nowhere", optional: true }), lookup)).toEqual([])
    expect(projectedFiles(volume({ items: [{ key: "nope", path: "n" }] }), lookup)).toEqual({
      problem: "volume cfg: key nope of ConfigMap settings is missing",
    })
    expect(
      projectedFiles(volume({ items: [{ key: "nope", path: "n" }], optional: true }), lookup),
    ).toEqual([])
  })
})

describe("volume references", () => {
  const [workload] = parse(
    pod(
      "[{name: cfg, configMap: {name: settings}}, {name: creds, secret: {secretName: creds, items: [{key: password, path: pw}]}}]",
      "[{name: cfg, mountPath: /cfg}]",
    ),
  )
  if (workload === undefined) throw new Error("parsed")

  it("are references of the workload (so deleting the object is refused while it is used)", () => {
    expect(referencesOf(workload)).toEqual([
      { kind: "ConfigMap", name: "settings", optional: false },
      { kind: "Secret", name: "creds", optional: false },
    ])
  })

  it("a missing object or item key refuses the workload, naming it", () => {
    expect(referenceProblem(workload, lookup)).toBeUndefined()
    expect(
      referenceProblem(workload, (kind, name) =>
        kind === "Secret" ? undefined : lookup(kind, name),
      ),
    ).toBe(
      "volume creds refers to Secret shop/creds, which does not exist; apply it (in the same request or before) or mark the volume optional",
    )
    const noPassword: Lookup = (kind, name) =>
      kind === "Secret" ? { ...objects[1]!, data: {} } : lookup(kind, name)
    expect(referenceProblem(workload, noPassword)).toContain(
      "volume creds refers to key password of Secret shop/creds, which it does not have",
    )
  })

  it("the content of a mounted ConfigMap is part of the config hash", () => {
    const key = new Uint8Array(32)
    const changed: Lookup = (kind, name) =>
      kind === "ConfigMap" ? { ...objects[0]!, data: { greeting: b64("bye") } } : lookup(kind, name)
    expect(configHash(workload, lookup, key)).toMatch(/^[0-9a-f]{16}$/)
    expect(configHash(workload, changed, key)).not.toBe(configHash(workload, lookup, key))
  })
})
