export * from "./Errors"
export * from "./KeyFile"
export * from "./P2pNode"
