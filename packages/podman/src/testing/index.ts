export * from "./AppExec.js"
export * from "./contract.js"
export * from "./FakeIsolation.js"
export * from "./FakePodman.js"
