import { Layer } from "effect"
import { Egress } from "./Egress.js"
import { HostTools, type HostToolsShape } from "./HostTools.js"
import { Netns } from "./Netns.js"
import { Preflight } from "./Preflight.js"
import { Slirp } from "./Slirp.js"

/** Every service of this package, with HostTools (defaults replaced by `overrides`). */
export const netnsLayer = (overrides: Partial<HostToolsShape> = {}) =>
  Layer.mergeAll(Netns.layer, Slirp.layer, Egress.layer, Preflight.layer).pipe(
    Layer.provideMerge(HostTools.layer(overrides)),
  )
