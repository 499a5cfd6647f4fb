export { DialFailed, KeyFileError, NodeStartFailed } from "./Errors.js"
export { loadKey, loadOrCreateKey } from "./KeyFile.js"
export {
  type BaseServices,
  makeP2pNode,
  type NoServices,
  type P2pIdentity,
  type P2pNode,
  type P2pNodeOptions,
  startP2pNode,
} from "./P2pNode.js"
