/**
 * Standalone network namespaces and slirp4netns, for tools, benchmarks and tests. The agent does
 * not use them: Podman creates each pod's namespace and runs its slirp4netns.
 */
import { Layer } from "effect"
import { HostTools, type HostToolsShape } from "../HostTools.js"
import { Netns } from "./Netns.js"
import { Slirp } from "./Slirp.js"

export {
  type CommandResult,
  type CreateOptions,
  type ExecOptions,
  Netns,
  NetnsFailed,
  type NetnsHandle,
  type NetnsShape,
  type ScopedProcess,
} from "./Netns.js"
export {
  type HostForward,
  type HostForwardSpec,
  Slirp,
  SlirpApiFailed,
  type SlirpHandle,
  type SlirpInfo,
  SlirpReadyTimeout,
  type SlirpShape,
  type SlirpStartError,
  SlirpStartFailed,
  type SlirpStartOptions,
  SlirpUnavailable,
} from "./Slirp.js"

/** Netns and Slirp with HostTools (defaults replaced by `overrides`). */
export const standaloneLayer = (overrides: Partial<HostToolsShape> = {}) =>
  Layer.mergeAll(Netns.layer, Slirp.layer).pipe(Layer.provideMerge(HostTools.layer(overrides)))
