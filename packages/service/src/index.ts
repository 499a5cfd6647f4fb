export * from "./HttpServe.js"
export * as PrometheusText from "./PrometheusText.js"
export * from "./RunMain.js"
