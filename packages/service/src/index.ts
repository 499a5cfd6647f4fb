export { ExitCode } from "./ExitCode.js"
export { type FetchHandler, ListenFailed, type ServeOptions, serveHttp } from "./HttpServe.js"
export * as PrometheusText from "./PrometheusText.js"
export { type ProcessPort, type RunMainOptions, runMain } from "./RunMain.js"
