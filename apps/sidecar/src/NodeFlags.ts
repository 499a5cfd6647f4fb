/**
 * How node is started for a sidecar: the image's entrypoint, the compile cache's writer, the
 * benchmarks and the tests all pass these flags, and no others. They are `proxyNodeFlags` of
 * @beemesh/proxy without the ones the sidecar sets itself once started (`RUNTIME_V8_FLAGS`,
 * HeapGrowth.ts says why); what is left does not cost Node's own code cache.
 */
import { proxyNodeFlags } from "@beemesh/proxy"
import { RUNTIME_V8_FLAGS } from "./HeapGrowth"

export const SIDECAR_NODE_FLAGS: ReadonlyArray<string> = proxyNodeFlags.filter(
  (flag) => !RUNTIME_V8_FLAGS.includes(flag),
)
