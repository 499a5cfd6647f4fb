export { type AppliedEgress, decodeEgressPolicy, Egress, type EgressShape } from "./Egress.js"
export {
  DEFAULT_TABLE,
  EgressApplyFailed,
  type EgressError,
  EgressPolicy,
  EgressPolicyInvalid,
  EgressVerifyFailed,
  podEgressPolicy,
  renderEgressRuleset,
  SIDECAR_UID,
  sidecarOnly,
  UNPRIVILEGED_PORT_SYSCTL,
  verifyRuleset,
} from "./EgressPolicy.js"
export {
  type CommandError,
  CommandFailed,
  CommandNotFound,
  CommandTimedOut,
  SlirpUnavailable,
} from "./Errors.js"
export { defaultHostTools, HostTools, type HostToolsShape } from "./HostTools.js"
export { netnsLayer } from "./Layers.js"
export type { NamespaceTarget, RunAs } from "./NamespaceTarget.js"
export {
  parsePodmanNetworkOptions,
  renderPodmanNetworkFlag,
  renderPodmanNetworkOptions,
} from "./PodmanNetworkOptions.js"
export {
  Preflight,
  type PreflightCheck,
  type PreflightCheckName,
  type PreflightOptions,
  type PreflightReport,
  type PreflightShape,
  preflightReportJson,
  type RootlessCheck,
} from "./Preflight.js"
export {
  NetnsUnsupported,
  NftUnavailable,
  type PreflightError,
  SubordinateIdsMissing,
  TunUnusable,
  UserNamespacesUnavailable,
} from "./PreflightErrors.js"
export {
  dnsAddress,
  gatewayAddress,
  guestAddress,
  type SlirpAddresses,
  slirpAddresses,
} from "./SlirpAddresses.js"
export { parseSlirpArgs, renderSlirpArgs } from "./SlirpArgs.js"
export {
  defaultSlirpOptions,
  SlirpOptions,
  type SlirpOptionsInput,
  SlirpOptionsInvalid,
} from "./SlirpOptions.js"
export { decodeSlirpOptions, validateSlirpOptions } from "./SlirpValidation.js"
