/**
 * A sidecar registers its pod's services with the agent, renews the registration before the
 * lease runs out, and withdraws it when it stops:
 *
 *   PUT    {agent}/v1/pods/{pod}/services   body Registration → 200 Lease
 *   DELETE {agent}/v1/pods/{pod}/services   no body           → 204
 *
 * Both carry `Authorization: Bearer <pod token>`. The limits keep one registration small: the
 * agent turns each service into a DHT record. With a traffic report a body stays below
 * MAX_REGISTRATION_BYTES.
 */
import { Schema } from "effect"
import { PolicySet } from "./NetworkPolicy.js"
import { TrafficReport } from "./Traffic.js"

export const MAX_MULTIADDRS = 16
export const MAX_SERVICES = 32
/** Largest registration body the agent accepts (services, addresses and a full traffic report). */
export const MAX_REGISTRATION_BYTES = 64 * 1024

const Port = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 65535 }))

/** One service of the pod: its name and the app's port on the pod's 127.0.0.1. */
export const RegisteredService = Schema.Struct({ name: Schema.String, port: Port })
export type RegisteredService = typeof RegisteredService.Type

/** The body of the PUT. */
export const Registration = Schema.Struct({
  namespace: Schema.String,
  workload: Schema.String,
  pod: Schema.String,
  /** The sidecar's libp2p peer id. */
  peerId: Schema.String.check(Schema.isMinLength(1)),
  /** Where other sidecars dial it (the host address and the pod's published port). */
  multiaddrs: Schema.Array(Schema.String).check(Schema.isMaxLength(MAX_MULTIADDRS)),
  services: Schema.Array(RegisteredService).check(Schema.isMaxLength(MAX_SERVICES)),
  /** The proxy's traffic since the sidecar started (see Traffic); sent with every renewal. */
  traffic: Schema.optionalKey(TrafficReport),
})
export type Registration = typeof Registration.Type

const PositiveSeconds = Schema.Number.check(Schema.isGreaterThan(0))

/** Largest certificate in a Lease (the same bound as @beemesh/p2p's MAX_CERTIFICATE_BYTES). */
const Certificate = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096))

/** The answer to the PUT: the registration lives `ttlSeconds` unless renewed. */
export const Lease = Schema.Struct({
  ttlSeconds: PositiveSeconds,
  renewAfterSeconds: PositiveSeconds,
  /**
   * The sidecar's membership chain, `[agent certificate, sidecar certificate]`: the agent's, and
   * one it signs for the registering sidecar's peer id and workload, short-lived, handed over with
   * every renewal and signed anew once half its lifetime is used (or when what it names changes).
   * Absent from agents without certified membership.
   */
  certificates: Schema.optionalKey(Schema.Array(Certificate).check(Schema.isMaxLength(2))),
  /**
   * The NetworkPolicies of the pod's namespace as the agent holds them now: the sidecar's door
   * enforces the newest set (by version) it was handed. Absent from agents that hold none.
   */
  networkPolicies: Schema.optionalKey(PolicySet),
  /**
   * The newest revocation list the agent holds (signed by the mesh authority), so the sidecar
   * drops revoked peers too. Absent: none yet.
   */
  revocations: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(256 * 1024))),
})
export type Lease = typeof Lease.Type

/** Path of the PUT (register or renew) and the DELETE (unregister). */
export const path = (pod: string): string => `/v1/pods/${encodeURIComponent(pod)}/services`

/** Status of a successful register or renew; its body is a Lease. */
export const REGISTERED = 200
/** Status of a successful unregister; it has no body. */
export const UNREGISTERED = 204
