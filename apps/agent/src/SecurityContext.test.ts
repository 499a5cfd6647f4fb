import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { parseManifests } from "./Manifest"
import { appSecuritySpec, translateSecurityContext } from "./SecurityContext"

const where = "container app"

const pod = (podLevel: unknown, containerLevel: unknown) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p" },
    spec: {
      ...(podLevel === undefined ? {} : { securityContext: podLevel }),
      containers: [
        {
          name: "app",
          image: "localhost/app:1",
          ...(containerLevel === undefined ? {} : { securityContext: containerLevel }),
        },
      ],
    },
  })
const parse = (text: string) => Effect.runSync(Effect.result(parseManifests(text)))

describe("securityContext", () => {
  it("honours every supported field, the container's over the pod's", () => {
    const security = translateSecurityContext(
      { runAsUser: 1000, runAsGroup: 2000, runAsNonRoot: true },
      {
        runAsUser: 1001,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      },
      where,
    )
    expect(security).toEqual({
      runAsUser: 1001,
      runAsGroup: 2000,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      noNewPrivileges: true,
      capDrop: ["ALL"],
      capAdd: ["NET_BIND_SERVICE"],
    })
    expect(appSecuritySpec(typeof security === "object" ? security : undefined)).toEqual({
      user: "1001:2000",
      security: {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        noNewPrivileges: true,
        capDrop: ["ALL"],
        capAdd: ["NET_BIND_SERVICE"],
      },
    })
  })

  it("leaves an app without securityContext as it was; allowPrivilegeEscalation true changes nothing", () => {
    expect(translateSecurityContext(undefined, undefined, where)).toBeUndefined()
    expect(appSecuritySpec(undefined)).toEqual({})
    const allowed = translateSecurityContext(undefined, { allowPrivilegeEscalation: true }, where)
    expect(allowed).toMatchObject({ noNewPrivileges: false, runAsNonRoot: false })
    expect(appSecuritySpec(typeof allowed === "object" ? allowed : undefined)).toEqual({
      security: {},
    })
  })

  it.each([
    [
      "container",
      undefined,
      { seccompProfile: { type: "RuntimeDefault" } },
      /securityContext.seccompProfile is not supported/,
    ],
    [
      "container",
      undefined,
      { seLinuxOptions: {} },
      /securityContext.seLinuxOptions is not supported/,
    ],
    ["container", undefined, { procMount: "Unmasked" }, /securityContext.procMount/],
    ["container", undefined, { windowsOptions: {} }, /securityContext.windowsOptions/],
    ["pod", { fsGroup: 2000 }, undefined, /spec.securityContext.fsGroup is not supported/],
    ["pod", { supplementalGroups: [1] }, undefined, /spec.securityContext.supplementalGroups/],
    ["pod", { sysctls: [] }, undefined, /spec.securityContext.sysctls/],
    ["pod", { seccompProfile: {} }, undefined, /spec.securityContext.seccompProfile/],
  ])(
    "refuses a %s-level field it does not honour, by name",
    (_, podLevel, containerLevel, reason) => {
      expect(translateSecurityContext(podLevel, containerLevel, where)).toMatch(reason)
      expect(translateSecurityContext(podLevel, containerLevel, where)).toMatch(
        /refused rather than ignored/,
      )
    },
  )

  it.each([
    [{ privileged: true }, /privileged containers are refused/],
    [
      { capabilities: { add: ["NET_ADMIN"] } },
      /capabilities.add NET_ADMIN is refused; an app may be given NET_BIND_SERVICE only/,
    ],
    [{ capabilities: { add: ["CAP_NET_RAW", "NET_BIND_SERVICE"] } }, /NET_RAW is refused/],
    [{ capabilities: { keep: [] } }, /capabilities.keep is not supported/],
    [{ runAsUser: 1337 }, /1337 is the sidecar's identity/],
    [{ runAsUser: 1000, runAsGroup: 1337 }, /runAsGroup 1337 is the sidecar's identity/],
    [{ runAsUser: -1 }, /runAsUser must be a non-negative integer/],
    [{ runAsUser: "1000" }, /runAsUser must be a non-negative integer/],
    [{ runAsGroup: 1000 }, /runAsGroup needs runAsUser/],
    [{ runAsNonRoot: true, runAsUser: 0 }, /runAsNonRoot is true but runAsUser is 0/],
    [{ readOnlyRootFilesystem: "yes" }, /readOnlyRootFilesystem must be true or false/],
  ])("refuses %j saying why", (containerLevel, reason) => {
    expect(translateSecurityContext(undefined, containerLevel, where)).toMatch(reason)
  })

  it("the sidecar's UID is refused at pod level too", () => {
    expect(translateSecurityContext({ runAsUser: 1337 }, undefined, where)).toMatch(
      /sidecar's identity/,
    )
  })

  it("manifests carry the translation or fail with it, naming document and container", () => {
    const ok = parse(pod({ runAsUser: 1000 }, { readOnlyRootFilesystem: true }))
    expect(ok._tag === "Success" && ok.success[0]?.containers[0]?.security).toMatchObject({
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
    })
    const refused = parse(pod(undefined, { runAsUser: 1337 }))
    expect(refused._tag === "Failure" && refused.failure.message).toMatch(
      /manifest document 1: container app: securityContext.runAsUser 1337 is the sidecar's identity/,
    )
    const podRefused = parse(pod({ fsGroup: 1 }, undefined))
    expect(podRefused._tag === "Failure" && podRefused.failure.message).toMatch(/fsGroup/)
  })
})
