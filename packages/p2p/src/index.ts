export * from "./Errors.js"
export * from "./KeyFile.js"
export * from "./P2pNode.js"
