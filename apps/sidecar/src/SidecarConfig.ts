/**
 * The sidecar's configuration: the `BEEMESH_*` environment the agent wrote, decoded once at start
 * by the contract's codec (@beemesh/contract SidecarEnvironment), which reports every bad variable
 * at once as "which variable, what value, what was expected".
 */
import { SidecarEnvironment } from "@beemesh/contract"
import { Context, Effect, Layer } from "effect"

export type SidecarSettings = SidecarEnvironment.SidecarEnvironment

export class SidecarConfig extends Context.Service<SidecarConfig, SidecarSettings>()(
  "@beemesh/sidecar/SidecarConfig",
) {
  static readonly layer = (settings: SidecarSettings) => Layer.succeed(SidecarConfig, settings)
}

/** Decodes the sidecar's settings from an environment record. */
export const decodeSettings = (
  env: Readonly<Record<string, string | undefined>>,
): Effect.Effect<SidecarSettings, SidecarEnvironment.SidecarEnvironmentInvalid> =>
  Effect.suspend(() => Effect.fromResult(SidecarEnvironment.decode(env)))
