/**
 * @beemesh/contract — what the Beemesh agent and the sidecars in its pods agree on, in one place
 * both import, so that the two sides cannot drift apart unnoticed:
 *
 * - {@link Registration}, {@link Resolution}: the pod API's bodies and paths (Schemas).
 * - {@link Traffic}: the proxy traffic report a sidecar sends with each renewal.
 * - {@link SidecarEnvironment}: the sidecar's `BEEMESH_*` variables; the agent encodes, the
 *   sidecar decodes.
 * - {@link ReadinessProbe}: a probe as the sidecar runs it (`httpGet`, `tcpSocket`, `exec`).
 * - {@link ProbeReport}: exec probes the agent runs for the sidecar, and probe failures that
 *   restart a replica.
 * - {@link SidecarPorts}, {@link SidecarIdentity}: the ports and the UID the sidecar runs with.
 * - {@link DnsLabel}, {@link PortList}: the name rule and the `name=port` list form.
 * - {@link HostLoopback}: how host-loopback addresses are handed to pods.
 * - {@link NetworkPolicy}: ingress policies as the agent hands them to sidecars, and `decide`.
 * - {@link UpstreamNames}: the names and loopback addresses apps reach their upstreams at, and
 *   the registration names of a multi-port Service's ports.
 * - {@link UpstreamList}: the `service[:portName]=localPort` list of a pod's upstreams.
 * - {@link SameHostSockets}: where sidecars share their unix sockets, and how they are named.
 * - {@link Standby}: how a sidecar started ahead of need (a standby pod) learns its identity.
 * - {@link SidecarShutdown}: how soon a sidecar exits once signalled, and the stop timeout the
 *   agent gives its container.
 */
export * as DnsLabel from "./DnsLabel.js"
export * as HostLoopback from "./HostLoopback.js"
export * as NetworkPolicy from "./NetworkPolicy.js"
export * as PortList from "./PortList.js"
export * as ProbeReport from "./ProbeReport.js"
export * as ReadinessProbe from "./ReadinessProbe.js"
export * as Registration from "./Registration.js"
export * as Resolution from "./Resolution.js"
export * as SameHostSockets from "./SameHostSockets.js"
export * as SidecarEnvironment from "./SidecarEnvironment.js"
export * as SidecarIdentity from "./SidecarIdentity.js"
export * as SidecarPorts from "./SidecarPorts.js"
export * as SidecarShutdown from "./SidecarShutdown.js"
export * as Standby from "./Standby.js"
export * as Traffic from "./Traffic.js"
export * as UpstreamList from "./UpstreamList.js"
export * as UpstreamNames from "./UpstreamNames.js"
