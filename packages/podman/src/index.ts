export { type AppProcesses, appExecArgv } from "./AppExec.js"
export {
  type EmbeddedService,
  type EmbeddedServiceOptions,
  startEmbeddedService,
} from "./EmbeddedService.js"
export {
  HolderImageUnavailable,
  ImageMissing,
  NameInUse,
  NotFound,
  PodEgressFailed,
  type PodmanError,
  type PodmanObjectKind,
  PodmanUnavailable,
  PodSpecInvalid,
  RuntimeFailure,
  WaitTimedOut,
} from "./Errors.js"
export { ensureHolderImage } from "./HolderImage.js"
export {
  adoptEnforcedPod,
  type ClaimedPod,
  claimStandbyPod,
  createEnforcedPod,
  createIsolatedPod,
  createStandbyPod,
  destroyEnforcedPod,
  type EnforcedPod,
  type EnforcedPodOptions,
  type IsolatedPod,
  type IsolatedPodOptions,
  makeEnforcedPod,
  makeIsolatedPod,
  removePod,
  terminatePod,
} from "./IsolatedPod.js"
export {
  LABEL_OWNER,
  LABEL_OWNER_PID,
  LABEL_OWNER_START,
  LABEL_POD,
  LABEL_ROLE,
  LABEL_STOP_TIMEOUT,
  LABEL_TEST,
} from "./Ownership.js"
export {
  makePodmanClient,
  PodmanClient,
  type PodmanClientOptions,
  type PodmanClientShape,
} from "./PodmanClient.js"
export {
  allocateHostPort,
  appIdMap,
  appIdMappings,
  containerCreateRequest,
  containerName,
  holderCreateRequest,
  holderName,
  podCreateRequest,
} from "./PodRequests.js"
export {
  ADDABLE_CAPABILITY,
  APP_ID_COUNT,
  ContainerRole,
  ContainerSecurity,
  ContainerSpec,
  capabilityName,
  DEFAULT_APP_ID_BASE,
  decodePodSpec,
  HealthcheckSpec,
  HOLDER_NAME,
  MountSpec,
  PodSpec,
  type PodSpecInput,
  SIDECAR_PORT,
} from "./PodSpec.js"
export {
  awaitStopped,
  type PodStop,
  reapSlirps,
  removeStoppedPod,
  stopPod,
  stopPods,
} from "./PodStop.js"
export type {
  ContainerCreateRequest,
  EventFilter,
  ExecResult,
  HealthConfig,
  IdMap,
  IdMappings,
  ImageBuildRequest,
  ImageBuildResult,
  LabelFilter,
  LogChunk,
  LogOptions,
  Mount,
  Namespace,
  PodCreateRequest,
  PodmanEvent,
  PortMapping,
  Rlimit,
} from "./Requests.js"
export type {
  ContainerInspect,
  ContainerListEntry,
  ImageInspect,
  InfoResponse,
  PodInspect,
  PodListEntry,
  VersionResponse,
} from "./Responses.js"
export {
  findSlirpProcesses,
  type SlirpProcess,
  slirpProcessesFor,
} from "./SlirpProcesses.js"
export { type SweepOptions, type SweepReport, sweepOrphanedPods } from "./Sweeper.js"
export { handlesSigterm, processHandlesSigterm } from "./Termination.js"
export {
  type WaitOptions,
  waitForHealthy,
  waitForLogLine,
  waitForPort,
  waitForRunning,
} from "./Waits.js"
