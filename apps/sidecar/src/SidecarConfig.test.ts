import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { decodeSettings } from "./SidecarConfig"

// The variables' rules are the contract's and tested there (@beemesh/contract
// SidecarEnvironment.test.ts); this is the sidecar's use of them.
describe("decodeSettings", () => {
  it("decodes the environment the agent writes", () => {
    const settings = Effect.runSync(
      decodeSettings({
        BEEMESH_NAMESPACE: "shop",
        BEEMESH_WORKLOAD: "web",
        BEEMESH_POD: "web-0",
        BEEMESH_POD_TOKEN: "tok-0123456789abcdef",
        BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/40123",
        BEEMESH_UPSTREAMS: "orders=9001",
      }),
    )
    expect(settings).toMatchObject({
      namespace: "shop",
      upstreams: [{ service: "orders", port: 9001 }],
      listenPort: 8080,
      healthPort: 8081,
    })
  })

  it("fails with the tag main.ts turns into exit code 2", () => {
    const exit = Effect.runSyncExit(Effect.flip(decodeSettings({})))
    if (!Exit.isSuccess(exit)) throw new Error("expected a configuration error")
    expect(exit.value._tag).toBe("SidecarEnvironmentInvalid")
    expect(exit.value.message).toContain("BEEMESH_NAMESPACE is not set")
  })
})
