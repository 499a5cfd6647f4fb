export {
  CERTIFICATE_DOMAIN,
  type CertificateClaims,
  CertificateRejected,
  type CertificateRejection,
  type CertificateRequest,
  type CertificateRole,
  issueCertificate,
  issueRevocations,
  MAX_CERTIFICATE_BYTES,
  MAX_CLOCK_SKEW_MS,
  MAX_REVOCATIONS_BYTES,
  MAX_SIDECAR_LIFETIME_MS,
  type Member,
  openCertificate,
  peerIdOfKey,
  REVOCATIONS_DOMAIN,
  type RevocationClaims,
  type Revoked,
  revokedSet,
  type VerifyChainOptions,
  verifyChain,
  verifyRevocations,
  type WorkloadClaims,
} from "./Certificate.js"
export { domainSignedBytes } from "./DomainSignature.js"
export { DialFailed, KeyFileError, NodeStartFailed } from "./Errors.js"
export {
  DEFAULT_HOLE_PUNCH_WINDOW_MS,
  type HolePunchCounts,
  type HolePunchOutcome,
  HolePunchWatch,
} from "./HolePunch.js"
export { loadKey, loadOrCreateKey } from "./KeyFile.js"
export {
  DEFAULT_MEMBERSHIP_RECHECK_MS,
  DEFAULT_MEMBERSHIP_REFUSAL_MS,
  DEFAULT_MEMBERSHIP_TIMEOUT_MS,
  MAX_PRESENTATION_BYTES,
  MEMBER_PROTOCOL,
  type MemberListener,
  type MembershipOptions,
} from "./Membership.js"
export {
  createMeshKeyFile,
  formatMeshKey,
  generateMeshKey,
  loadMeshKeyFile,
  loadOrCreateMeshKeyFile,
  MESH_KEY_BYTES,
  MeshKey,
  MeshKeyError,
  parseMeshKey,
  swarmKeyBytes,
} from "./MeshKey.js"
export {
  type BaseServices,
  makeP2pNode,
  type NoServices,
  type P2pIdentity,
  type P2pNode,
  type P2pNodeOptions,
  startP2pNode,
} from "./P2pNode.js"
export {
  circuitAddress,
  DEFAULT_MAX_HOP_STREAMS,
  DEFAULT_MAX_RESERVATIONS,
  isRelayed,
  type RelayServerOptions,
  relayAddressProblem,
  relayServerInit,
} from "./Relay.js"
export { REVOCATIONS_PROTOCOL, RevocationList, spreadRevocations } from "./Revocations.js"
