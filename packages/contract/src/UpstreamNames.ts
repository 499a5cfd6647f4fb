/**
 * How an app reaches an upstream by name, as in Kubernetes (`http://orders:9001/`): the agent adds
 * host entries to the pod (the holder owns /etc/hosts; apps cannot write it) that point every name
 * of an upstream at a loopback address of its own, and the sidecar listens on that address too.
 * Both sides derive the address from the upstream's position in `BEEMESH_UPSTREAMS`, so they
 * agree without another variable. One address per upstream: two upstreams may then use the same
 * port (each at its own name) without a clash.
 */

/** 127.0.0.1 stays the pod's own address (and the upstreams' shared one): names start at .2. */
const FIRST_HOST = 2

/** 127.0.0.2 … 127.0.0.254: one address per upstream. */
export const MAX_UPSTREAMS = 253

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

/** Every name of every upstream (in the pod's order) with its address. */
export const hostEntries = (
  namespace: string,
  upstreams: ReadonlyArray<{ readonly service: string }>,
): ReadonlyArray<HostEntry> =>
  upstreams.flatMap((upstream, index) =>
    namesOf(upstream.service, namespace).map((name) => ({ name, address: addressOf(index) })),
  )
