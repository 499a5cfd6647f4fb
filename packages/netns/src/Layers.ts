import { Layer } from "effect"
import { Egress } from "./Egress.js"
import { HostTools, type HostToolsShape } from "./HostTools.js"
import { Preflight } from "./Preflight.js"

/**
 * The services the agent uses (Egress, Preflight), with HostTools (defaults replaced by
 * `overrides`). Standalone namespaces and slirp4netns are in `@beemesh/netns/standalone`.
 */
export const netnsLayer = (overrides: Partial<HostToolsShape> = {}) =>
  Layer.mergeAll(Egress.layer, Preflight.layer).pipe(Layer.provideMerge(HostTools.layer(overrides)))
