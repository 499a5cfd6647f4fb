/**
 * @beemesh/contract — what the Beemesh agent and the sidecars in its pods agree on, in one place
 * both import, so that the two sides cannot drift apart unnoticed:
 *
 * - {@link Registration}, {@link Resolution}: the pod API's bodies and paths (Schemas).
 * - {@link SidecarEnvironment}: the sidecar's `BEEMESH_*` variables; the agent encodes, the
 *   sidecar decodes.
 * - {@link SidecarPorts}, {@link SidecarIdentity}: the ports and the UID the sidecar runs with.
 * - {@link DnsLabel}, {@link PortList}: the name rule and the `name=port` list form.
 * - {@link HostLoopback}: how host-loopback addresses are handed to pods.
 */
export * as DnsLabel from "./DnsLabel"
export * as HostLoopback from "./HostLoopback"
export * as PortList from "./PortList"
export * as Registration from "./Registration"
export * as Resolution from "./Resolution"
export * as SidecarEnvironment from "./SidecarEnvironment"
export * as SidecarIdentity from "./SidecarIdentity"
export * as SidecarPorts from "./SidecarPorts"
