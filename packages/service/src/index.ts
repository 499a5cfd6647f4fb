export * from "./HttpServe"
export * as PrometheusText from "./PrometheusText"
export * from "./RunMain"
