export * from "./contract.js"
export * from "./FakeEgress.js"
