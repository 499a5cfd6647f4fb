import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { MAX_CONFIG_BYTES, resolveEnv, toConfigObject } from "./ConfigObjects"
import { parseApply } from "./Manifest"

const parse = (text: string) => Effect.runSync(parseApply(text))
const refusal = (text: string) => {
  const exit = Effect.runSyncExit(parseApply(text))
  if (Exit.isSuccess(exit)) throw new Error("expected a refusal")
  return String(exit.cause)
}

const request = `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings, namespace: shop }
data: { greeting: héllo }
binaryData: { blob: AAEC }
---
apiVersion: v1
kind: Secret
metadata: { name: credentials, namespace: shop }
type: Opaque
data: { password: aHVudGVyMg==, user: YQ== }
stringData: { user: admin }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop }
spec:
  containers:
    - name: app
      image: localhost/web:1
      env:
        - { name: GREETING, valueFrom: { configMapKeyRef: { name: settings, key: greeting } } }
        - { name: PASSWORD, valueFrom: { secretKeyRef: { name: credentials, key: password, optional: true } } }
      envFrom:
        - { prefix: S_, secretRef: { name: credentials } }
`

describe("ConfigMap and Secret manifests", () => {
  it("are read with workloads in one request, values as base64 bytes", () => {
    const { workloads, configs } = parse(request)
    expect(configs).toEqual([
      {
        kind: "ConfigMap",
        namespace: "shop",
        name: "settings",
        data: { blob: "AAEC", greeting: Buffer.from("héllo").toString("base64") },
      },
      {
        kind: "Secret",
        namespace: "shop",
        name: "credentials",
        // stringData wins over data, as in Kubernetes.
        data: { password: "aHVudGVyMg==", user: Buffer.from("admin").toString("base64") },
      },
    ])
    expect(workloads[0]?.containers[0]).toMatchObject({
      env: [
        {
          name: "GREETING",
          value: "",
          from: { kind: "ConfigMap", name: "settings", key: "greeting", optional: false },
        },
        {
          name: "PASSWORD",
          value: "",
          from: { kind: "Secret", name: "credentials", key: "password", optional: true },
        },
      ],
      envFrom: [{ kind: "Secret", name: "credentials", prefix: "S_", optional: false }],
    })
  })

  it("refuses other Secret types by name, duplicated keys and duplicated objects", () => {
    expect(
      refusal("{apiVersion: v1, kind: Secret, metadata: {name: s}, type: kubernetes.io/tls}"),
    ).toContain('Secret type "kubernetes.io/tls" is not supported; only Opaque')
    expect(
      refusal(
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {a: x}, binaryData: {a: AA==}}",
      ),
    ).toContain("key a is in both data and binaryData")
    expect(
      refusal(
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n---\n{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}",
      ),
    ).toContain("ConfigMap default/c appears more than once")
    expect(
      refusal("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, immutable: true}"),
    ).toContain("immutable: not supported by beemesh yet")
  })

  it("refuses an object over 1 MiB, as Kubernetes does", () => {
    const big = Buffer.alloc(MAX_CONFIG_BYTES + 1).toString("base64")
    expect(toConfigObject("ConfigMap", { name: "big" }, { base64: { big } })).toBe(
      `ConfigMap big holds ${MAX_CONFIG_BYTES + 1} bytes; at most ${MAX_CONFIG_BYTES} (1 MiB) are allowed, as in Kubernetes`,
    )
    const fits = Buffer.alloc(MAX_CONFIG_BYTES).toString("base64")
    expect(toConfigObject("Secret", { name: "ok" }, { base64: { fits } })).toMatchObject({
      name: "ok",
    })
  })
})

describe("resolveEnv", () => {
  const object = {
    kind: "ConfigMap" as const,
    namespace: "shop",
    name: "c",
    data: { A: "MQ==", "not a name": "Mg==", "1st": "Mw==" },
  }
  it("puts envFrom first, skips keys that are not variable names, lets env win", () => {
    const resolved = resolveEnv(
      {
        env: [{ name: "A", value: "explicit" }],
        envFrom: [{ kind: "ConfigMap", name: "c", prefix: "", optional: false }],
      },
      (kind, name) => (kind === "ConfigMap" && name === "c" ? object : undefined),
    )
    expect(resolved).toEqual({ env: { A: "explicit" } })
  })
  it("says which reference is missing", () => {
    expect(
      resolveEnv(
        {
          env: [
            {
              name: "X",
              value: "",
              from: { kind: "Secret", name: "s", key: "k", optional: false },
            },
          ],
        },
        () => undefined,
      ),
    ).toEqual({ problem: "env X: key k of Secret s is missing" })
  })
})
