/**
 * How an app reaches an upstream by name, as in Kubernetes (`http://orders:9001/`): the agent adds
 * host entries to the pod (the holder owns /etc/hosts; apps cannot write it) that point every name
 * of an upstream service at a loopback address of its own, and the sidecar listens on that address
 * too. Both sides derive the address from the position of the service's first upstream in
 * `BEEMESH_UPSTREAMS`, so they agree without another variable. One address per service: two
 * services may then use the same port (each at its own name) without a clash, and the ports of
 * one multi-port Service (`web:http=80,web:metrics=9090`) all answer at its one name.
 *
 * A port of a multi-port Service is registered under a name of its own, `<service>--<port name>`
 * (`registrationName`, a DNS label like every registered name): the mesh names a service by its
 * name alone. The agent refuses Service names with `--`, so that such a name is not a Service's.
 */

/** 127.0.0.1 stays the pod's own address (and the upstreams' shared one): names start at .2. */
const FIRST_HOST = 2

/** 127.0.0.2 … 127.0.0.254: one address per upstream. */
export const MAX_UPSTREAMS = 253

/** Between a Service's name and a port's name in the registration of one port of the Service. */
export const PORT_SEPARATOR = "--"

/** The name the registry knows a service's port by: the service's own name without a port name. */
export const registrationName = (service: string, portName?: string | undefined): string =>
  portName === undefined ? service : `${service}${PORT_SEPARATOR}${portName}`

/** A name an app resolves, and the loopback address it resolves to. */
export interface HostEntry {
  readonly name: string
  readonly address: string
}

/** The loopback address of the upstream at `index` in the pod's upstream list. */
export const addressOf = (index: number): string => {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_UPSTREAMS) {
    throw new RangeError(`upstream index ${index} is outside 0-${MAX_UPSTREAMS - 1}`)
  }
  return `127.0.0.${FIRST_HOST + index}`
}

/** The names a service of `namespace` answers to inside a pod, shortest first (as Kubernetes). */
export const namesOf = (service: string, namespace: string): ReadonlyArray<string> => [
  service,
  `${service}.${namespace}`,
  `${service}.${namespace}.svc`,
  `${service}.${namespace}.svc.cluster.local`,
]

/** The services of the upstreams, each once, in the order of their first upstream. */
export const servicesOf = (
  upstreams: ReadonlyArray<{ readonly service: string }>,
): ReadonlyArray<string> => [...new Set(upstreams.map((upstream) => upstream.service))]

/** The loopback address of each upstream (in the pod's order): its service's. */
export const upstreamAddresses = (
  upstreams: ReadonlyArray<{ readonly service: string }>,
): ReadonlyArray<string> => {
  const services = servicesOf(upstreams)
  return upstreams.map((upstream) => addressOf(services.indexOf(upstream.service)))
}

/** Every name of every upstream service (in the pod's order) with its address. */
export const hostEntries = (
  namespace: string,
  upstreams: ReadonlyArray<{ readonly service: string }>,
): ReadonlyArray<HostEntry> =>
  servicesOf(upstreams).flatMap((service, index) =>
    namesOf(service, namespace).map((name) => ({ name, address: addressOf(index) })),
  )
