/**
 * Which mesh key the agent runs with: the one it is given, else its own. The key makes the mesh a
 * closed membership: the host node and every sidecar run libp2p's private network with it.
 */
import { loadMeshKeyFile, loadOrCreateMeshKeyFile } from "@beemesh/p2p"
import { Effect } from "effect"
import { type AgentConfig, ConfigInvalid, defaultMeshKeyFile } from "./Config"

/**
 * The mesh key: the given file (it must exist: a typo must not start a mesh of one), else the
 * agent's own, created at first start. Joining other agents without a given key is refused: a key
 * of its own would never match theirs.
 */
export const agentMeshKey = (
  config: Pick<AgentConfig, "meshKeyFile" | "bootstrap" | "relays" | "dataDir">,
) =>
  Effect.gen(function* () {
    if (config.meshKeyFile !== undefined) {
      const key = yield* loadMeshKeyFile(config.meshKeyFile)
      yield* Effect.logInfo(`mesh key ${key.fingerprint} from ${config.meshKeyFile}`)
      return key
    }
    if (config.bootstrap.length > 0 || (config.relays ?? []).length > 0)
      return yield* new ConfigInvalid({
        source: "meshKey",
        reason:
          "joining other agents (bootstrap or relays) needs the mesh key they share: create it once with `beemesh-agent mesh init`, copy the file to every host (mode 0600) and give it with --mesh-key FILE",
      })
    const path = defaultMeshKeyFile(config.dataDir)
    const key = yield* loadOrCreateMeshKeyFile(path)
    yield* Effect.logInfo(
      `mesh key ${key.fingerprint} from ${path} (this host's own; agents joining it need a copy, given with --mesh-key)`,
    )
    return key
  })
