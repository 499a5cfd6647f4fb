/**
 * Where the host programs are and where runtime files go. Libraries take this as typed
 * configuration instead of reading the environment; the default uses the caller's PATH.
 */
import { Context, Layer } from "effect"

export interface HostToolsShape {
  /** PATH used to find the programs; `undefined` inherits the current process' PATH. */
  readonly searchPath: string | undefined
  /** Directory for slirp4netns API sockets (created on demand, mode 0700). */
  readonly runtimeDir: string
  readonly slirp4netns: string
  readonly ip: string
  readonly nsenter: string
  readonly unshare: string
  readonly nft: string
  readonly setpriv: string
  readonly sysctl: string
}

export const defaultHostTools = (uid: number = process.getuid?.() ?? 0): HostToolsShape => ({
  searchPath: undefined,
  runtimeDir: `/tmp/beemesh-netns-${uid}`,
  slirp4netns: "slirp4netns",
  ip: "ip",
  nsenter: "nsenter",
  unshare: "unshare",
  nft: "nft",
  setpriv: "setpriv",
  sysctl: "sysctl",
})

export class HostTools extends Context.Service<HostTools, HostToolsShape>()(
  "@beemesh/netns/HostTools",
) {
  /** The defaults with some settings replaced. */
  static readonly layer = (overrides: Partial<HostToolsShape> = {}) =>
    Layer.succeed(HostTools, { ...defaultHostTools(), ...overrides })
}
