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
 * What a Service adds to a workload is written into it as `selectedBy` when it is applied (as
 * `configHash` is for ConfigMaps): a Service applied or deleted changes the spec hash of the
 * workloads it selects, which then roll as for any other change, old replicas serving meanwhile.
 */
import type { ServicePort, Workload } from "./Manifest"

export interface ServiceObject {
  readonly namespace: string
  readonly name: string
  /** Labels a workload's pods must carry; empty: the Service selects nothing (as in Kubernetes). */
  readonly selector: Readonly<Record<string, string>>
  /** The port clients use. */
  readonly port: number
  /** The app's port, or the name of a containerPort of the selected workloads. */
  readonly targetPort: number | string
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

/** A decoded Service as an object, or why it is refused. */
export const toServiceObject = ({ metadata, spec }: ServiceInput): ServiceObject | string => {
  if (spec.type !== undefined && spec.type !== "ClusterIP")
    return `spec.type ${short(spec.type)} is refused: only ClusterIP Services are supported (only sidecars are ever published, and clients reach a Service by name through their sidecar)`
  if (spec.ports.length > 1)
    return `spec.ports has ${spec.ports.length} ports; beemesh supports one port per Service (the mesh names a service by its name alone): give each port a Service of its own`
  const [first] = spec.ports
  if (first === undefined) return "spec.ports needs one port"
  if (first.protocol !== undefined && first.protocol !== "TCP")
    return `spec.ports[0].protocol ${short(first.protocol)} is refused: only TCP is carried`
  const target = first.targetPort ?? first.port
  if (typeof target === "string" && !/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(target))
    return `spec.ports[0].targetPort ${short(target)} must be a port number or the name of a containerPort (a DNS label of at most 15 characters)`
  return {
    namespace: metadata.namespace ?? "default",
    name: metadata.name,
    selector: spec.selector ?? {},
    port: first.port,
    targetPort: target,
  }
}

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
    const port =
      typeof service.targetPort === "number"
        ? service.targetPort
        : workload.portNames?.[service.targetPort]
    if (port === undefined)
      return `${where} no container of it has a port named ${service.targetPort}; name a containerPort so or give targetPort as a number`
    if (rules.reservedPorts.includes(port))
      return `${where} targetPort ${port} is the sidecar's own port inside the pod; the app must listen on another port`
    if (workload.upstreams.some((upstream) => upstream.port === port))
      return `${where} targetPort ${port} is the local port of its upstream on the pod's loopback; use another port`
    out.push({ name: service.name, port })
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
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
