export * from "./contract.js"
export * from "./FakePodman.js"
