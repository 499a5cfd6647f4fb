import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { parseManifests } from "./Manifest"
import { fieldProblem, fieldTables, readmeWithFieldTables } from "./ManifestFields"
import { MANIFESTS, PodManifest } from "./ManifestSchema"

const parse = (text: string) => Effect.runSync(parseManifests(text))
const refusal = (text: string) => {
  const exit = Effect.runSyncExit(parseManifests(text))
  if (Exit.isSuccess(exit)) throw new Error("expected a refusal")
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure?._tag !== "Fail") throw new Error("expected a typed failure")
  return failure.error.message
}

/** What `kubectl create deployment web --image=localhost/web:1 --dry-run=client -o yaml` writes. */
const KUBECTL_DRY_RUN = `apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  labels:
    app: web
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: web
    spec:
      containers:
      - image: localhost/web:1
        name: web
        resources: {}
status: {}
`

const ROLLING = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  progressDeadlineSeconds: 120
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: localhost/web:1, imagePullPolicy: IfNotPresent}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  updateStrategy: {type: RollingUpdate}
  template: {spec: {containers: [{name: db, image: localhost/db:1}]}}
`

/** Markdown with table rows reduced to their cells: the formatter aligns columns. */
const tableCells = (markdown: string) =>
  markdown
    .split("\n")
    .map((line) =>
      line.startsWith("|")
        ? line
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim().replace(/^-{3,}$/, "---"))
            .join("|")
        : line,
    )
    .join("\n")

describe("manifest fields", () => {
  it("accepts what kubectl's dry run writes", () => {
    expect(parse(KUBECTL_DRY_RUN).map((w) => `${w.kind}/${w.name}`)).toEqual(["Deployment/web"])
  })

  it("accepts the update strategies with their Kubernetes shapes", () => {
    expect(parse(ROLLING).map((w) => `${w.kind}/${w.name}`)).toEqual([
      "Deployment/web",
      "StatefulSet/db",
    ])
  })

  it.each([
    ["maxSurge: 1", "maxSurge: -1", /maxSurge: must not be negative/],
    ["maxUnavailable: 25%", "maxUnavailable: 25 %", /maxUnavailable: must be a non-negative/],
    ["progressDeadlineSeconds: 120", "progressDeadlineSeconds: 0", /greater than 0/],
    // Not applied by the deployer (yet), so refused rather than dropped.
    [
      "progressDeadlineSeconds: 120",
      "progressDeadlineSeconds: 120\n  minReadySeconds: 5",
      /minReadySeconds: not supported/,
    ],
    [
      "type: RollingUpdate, rollingUpdate: {maxSurge",
      "type: Canary, rollingUpdate: {maxSurge",
      /one of RollingUpdate, Recreate/,
    ],
    [
      "updateStrategy: {type: RollingUpdate}",
      "updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 0}}",
      /partition: is not supported/,
    ],
    ["type: RollingUpdate}", "type: Ordered}", /one of RollingUpdate, OnDelete/],
  ])("refuses %s changed to %s", (from, to, reason) => {
    expect(refusal(ROLLING.replace(from, to))).toMatch(reason)
  })

  it("names the path of an unknown or unsupported field, and a close known name", () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" } }
    const container = (extra: object) => ({
      ...pod,
      spec: { containers: [{ name: "a", image: "i", ...extra }] },
    })
    expect(fieldProblem(PodManifest.ast, container({ lifecycle: {} }))).toBe(
      "spec.containers[0].lifecycle: not supported by beemesh yet",
    )
    expect(fieldProblem(PodManifest.ast, container({ Image: "x" }))).toMatch(
      /^spec\.containers\[0\]\.Image: unknown field; did you mean image\?$/,
    )
    expect(fieldProblem(PodManifest.ast, container({ zzz: 1 }))).toMatch(
      /^spec\.containers\[0\]\.zzz: unknown field; the fields here are name, image,/,
    )
    expect(
      fieldProblem(PodManifest.ast, {
        ...pod,
        metadata: { name: "p", labels: { "a.b/c": "x\0" } },
      }),
    ).toBe('metadata.labels["a.b/c"]: contains a NUL character')
    expect(fieldProblem(PodManifest.ast, container({}))).toBeUndefined()
  })

  it("lists every declared and every refused field in the README", () => {
    const tables = fieldTables(MANIFESTS)
    for (const row of [
      "`lifecycle` | refused",
      "`livenessProbe` | optional",
      "`image` | required",
      "`strategy` | optional",
      "`updateStrategy` | optional",
    ]) {
      expect(tables).toContain(row)
    }
    const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8")
    expect(
      tableCells(readme) === tableCells(readmeWithFieldTables(readme, MANIFESTS)),
      "the README's field tables differ from the Schemas: run pnpm --filter @beemesh/agent readme:fields",
    ).toBe(true)
  })
})
