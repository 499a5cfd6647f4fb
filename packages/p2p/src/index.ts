export { DialFailed, KeyFileError, NodeStartFailed } from "./Errors.js"
export {
  DEFAULT_HOLE_PUNCH_WINDOW_MS,
  type HolePunchCounts,
  type HolePunchOutcome,
  HolePunchWatch,
} from "./HolePunch.js"
export { loadKey, loadOrCreateKey } from "./KeyFile.js"
export {
  createMeshKeyFile,
  formatMeshKey,
  generateMeshKey,
  loadMeshKeyFile,
  loadOrCreateMeshKeyFile,
  MESH_KEY_BYTES,
  MeshKey,
  MeshKeyError,
  parseMeshKey,
  swarmKeyBytes,
} from "./MeshKey.js"
export {
  type BaseServices,
  makeP2pNode,
  type NoServices,
  type P2pIdentity,
  type P2pNode,
  type P2pNodeOptions,
  startP2pNode,
} from "./P2pNode.js"
export {
  circuitAddress,
  DEFAULT_MAX_HOP_STREAMS,
  DEFAULT_MAX_RESERVATIONS,
  isRelayed,
  type RelayServerOptions,
  relayAddressProblem,
  relayServerInit,
} from "./Relay.js"
