/**
 * `v1 Service` objects as the agent keeps them (pure): a decoded manifest turned into an object
 * (or refused by name), which workloads it selects, and the services a workload then offers.
 *
 * The mesh names a service by its name alone: the pods a Service selects register
 * `<metadata.name>` with the registry, and their sidecars pipe its streams to the app's
 * `targetPort`. A client reaches it through an upstream of that name (`beemesh.io/upstreams:
 * orders=80`): its sidecar listens on the port the upstream gives, at the address the name
 * resolves to, so `http://orders:80/` works when the upstream's port is the Service's `port`.
 * The client needs no knowledge of the Service (it may be applied on another agent of the mesh).
 *
 * A Service of several ports names each (as Kubernetes requires), and each port is registered
 * under a name of its own, `<metadata.name>--<port name>` (UpstreamNames.registrationName); the
 * first port is also registered as `<metadata.name>`, so that clients of a Service that had one
 * port keep working when it gets more. A client reaches a port through the upstream
 * `web:metrics=9090`: its sidecar serves every port of `web` at the one address `web` resolves to.
 *
 * What a Service adds to a workload is written into it as `selectedBy` when it is applied (as
 * `configHash` is for ConfigMaps): a Service applied or deleted changes the spec hash of the
 * workloads it selects, which then roll as for any other change, old replicas serving meanwhile.
 */
import { DnsLabel, Registration, UpstreamNames } from "@beemesh/contract"
import { Order } from "effect"
import type { ServicePort, Workload } from "./Manifest"

/** One port of a Service of several ports. */
export interface ServiceObjectPort {
  readonly name: string
  /** The port clients use. */
  readonly port: number
  /** The app's port, or the name of a containerPort of the selected workloads. */
  readonly targetPort: number | string
}

export interface ServiceObject {
  readonly namespace: string
  readonly name: string
  /** Labels a workload's pods must carry; empty: the Service selects nothing (as in Kubernetes). */
  readonly selector: Readonly<Record<string, string>>
  /** The port clients use (the first port's, of a Service of several). */
  readonly port: number
  /** The app's port, or the name of a containerPort of the selected workloads. */
  readonly targetPort: number | string
  /**
   * Every port, when there are several (absent with one, which `port` and `targetPort` are, so
   * that one-port Services keep the form they were stored and listed in).
   */
  readonly ports?: ReadonlyArray<ServiceObjectPort> | undefined
}

/**
 * A Service the API server would call invalid as a whole (a port without a name among several,
 * a name or port used twice): answered 422, as Kubernetes does.
 */
export interface ServiceUnprocessable {
  readonly unprocessable: string
}

export const serviceKey = (namespace: string, name: string) => `${namespace}/${name}`

export const describeService = (service: Pick<ServiceObject, "namespace" | "name">) =>
  `Service ${service.namespace}/${service.name}`

interface ServiceInput {
  readonly metadata: { readonly name: string; readonly namespace?: string | undefined }
  readonly spec: {
    readonly type?: string | undefined
    readonly selector?: Readonly<Record<string, string>> | undefined
    readonly ports: ReadonlyArray<{
      readonly name?: string | undefined
      readonly port: number
      readonly targetPort?: number | string | undefined
      readonly protocol?: string | undefined
    }>
  }
}

const short = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)

const NAMED_PORT = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/

/** A decoded Service as an object, or why it is refused. */
export const toServiceObject = ({
  metadata,
  spec,
}: ServiceInput): ServiceObject | ServiceUnprocessable | string => {
  if (spec.type !== undefined && spec.type !== "ClusterIP")
    return `spec.type ${short(spec.type)} is refused: only ClusterIP Services are supported (only sidecars are ever published, and clients reach a Service by name through their sidecar)`
  if (metadata.name.includes(UpstreamNames.PORT_SEPARATOR))
    return `metadata.name ${short(metadata.name)} must not contain "${UpstreamNames.PORT_SEPARATOR}": the mesh registers a port of a Service as <service>${UpstreamNames.PORT_SEPARATOR}<port name>`
  if (spec.ports.length === 0) return "spec.ports needs one port"
  const several = spec.ports.length > 1
  const ports: Array<ServiceObjectPort> = []
  for (const [index, given] of spec.ports.entries()) {
    const where = `spec.ports[${index}]`
    if (given.protocol !== undefined && given.protocol !== "TCP")
      return `${where}.protocol ${short(given.protocol)} is refused: only TCP is carried`
    const target = given.targetPort ?? given.port
    if (typeof target === "string" && !NAMED_PORT.test(target))
      return `${where}.targetPort ${short(target)} must be a port number or the name of a containerPort (a DNS label of at most 15 characters)`
    if (!several) break
    if (given.name === undefined)
      return {
        unprocessable: `${where}.name is required: a Service of several ports names each, so that clients can tell them apart`,
      }
    const name = given.name
    const registered = UpstreamNames.registrationName(metadata.name, name)
    if (registered.length > DnsLabel.MAX_LENGTH)
      return `${where}.name ${short(name)}: the mesh registers this port as ${short(registered)}, longer than ${DnsLabel.MAX_LENGTH} characters; use a shorter name`
    const sameName = ports.findIndex((other) => other.name === name)
    if (sameName >= 0)
      return {
        unprocessable: `${where}.name ${short(name)} is a duplicate of spec.ports[${sameName}].name: each port needs its own name`,
      }
    const samePort = ports.findIndex((other) => other.port === given.port)
    if (samePort >= 0)
      return {
        unprocessable: `${where}.port ${given.port} is a duplicate of spec.ports[${samePort}].port: each port needs its own number`,
      }
    ports.push({ name, port: given.port, targetPort: target })
  }
  if (several && ports.length + 1 > Registration.MAX_SERVICES)
    return `spec.ports has ${ports.length} ports; a pod registers at most ${Registration.MAX_SERVICES} services, one per port and one for the Service's name`
  const [first] = spec.ports
  if (first === undefined) return "spec.ports needs one port"
  return {
    namespace: metadata.namespace ?? "default",
    name: metadata.name,
    selector: spec.selector ?? {},
    port: first.port,
    targetPort: first.targetPort ?? first.port,
    ...(several ? { ports } : {}),
  }
}

/**
 * What the Service registers for the pods it selects: its name for its first port and, with
 * several ports, `<name>--<port name>` for each.
 */
export const registeredPorts = (
  service: ServiceObject,
): ReadonlyArray<{ readonly name: string; readonly targetPort: number | string }> => [
  { name: service.name, targetPort: service.targetPort },
  ...(service.ports ?? []).map((port) => ({
    name: UpstreamNames.registrationName(service.name, port.name),
    targetPort: port.targetPort,
  })),
]

/** The Service selects the workload: same namespace, and every selector label on its pods. */
export const selects = (
  service: ServiceObject,
  workload: Pick<Workload, "namespace" | "labels">,
): boolean => {
  const wanted = Object.entries(service.selector)
  return (
    service.namespace === workload.namespace &&
    wanted.length > 0 &&
    wanted.every(([key, value]) => workload.labels[key] === value)
  )
}

/** What the agent checks a workload's service ports against. */
export interface PortRules {
  /** Ports inside the pod that the sidecar itself uses. */
  readonly reservedPorts: ReadonlyArray<number>
}

/**
 * The services the Services of `services` add to the workload (name → the app's port), sorted by
 * name; or why one of them cannot serve it (a named targetPort it does not declare, a port that
 * is the sidecar's or an upstream's).
 */
export const selectedServices = (
  workload: Workload,
  services: Iterable<ServiceObject>,
  rules: PortRules,
): ReadonlyArray<ServicePort> | string => {
  const out: Array<ServicePort> = []
  for (const service of services) {
    if (!selects(service, workload)) continue
    const where = `${describeService(service)} selects ${workload.kind} ${workload.namespace}/${workload.name}, but`
    for (const registered of registeredPorts(service)) {
      const target = registered.targetPort
      const port = typeof target === "number" ? target : workload.portNames?.[target]
      if (port === undefined)
        return `${where} no container of it has a port named ${target}; name a containerPort so or give targetPort as a number`
      if (rules.reservedPorts.includes(port))
        return `${where} targetPort ${port} is the sidecar's own port inside the pod; the app must listen on another port`
      if (workload.upstreams.some((upstream) => upstream.port === port))
        return `${where} targetPort ${port} is the local port of its upstream on the pod's loopback; use another port`
      out.push({ name: registered.name, port })
    }
  }
  return out.sort(Order.mapInput(Order.String, (s: ServicePort) => s.name))
}

/** The workload with what the Services select it for (none: the field is left out). */
export const withSelectedServices = (
  workload: Workload,
  services: Iterable<ServiceObject>,
  rules: PortRules,
): Workload | string => {
  const selected = selectedServices(workload, services, rules)
  if (typeof selected === "string") return selected
  const { selectedBy: _, ...rest } = workload
  const offered = offeredServices({ services: workload.services, selectedBy: selected })
  if (offered.length > Registration.MAX_SERVICES)
    return `${workload.kind} ${workload.namespace}/${workload.name} would offer ${offered.length} services with the Services that select it; a pod registers at most ${Registration.MAX_SERVICES} (one per port of each Service, and one for each Service's name)`
  return selected.length === 0 ? rest : { ...rest, selectedBy: selected }
}

/**
 * The services a workload's pods offer: its own (the `beemesh.io/services` annotation, or its name
 * on its first containerPort) and those Services add; a Service replaces an own service of its name.
 */
export const offeredServices = (
  workload: Pick<Workload, "services" | "selectedBy">,
): ReadonlyArray<ServicePort> => {
  const selected = workload.selectedBy ?? []
  if (selected.length === 0) return workload.services
  const names = new Set(selected.map((service) => service.name))
  return [...workload.services.filter((service) => !names.has(service.name)), ...selected]
}
