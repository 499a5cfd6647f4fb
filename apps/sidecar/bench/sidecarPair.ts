/**
 * Two sidecar processes on 127.0.0.1 as a benchmark runs them: a provider exposing one service
 * (a local port) and a caller with that service as its upstream, both registered with a stand-in
 * agent and started as the image starts them (`flags`, the bundle's compile cache, the glibc
 * tunables). Resolves once both answer `/readyz`.
 */
import type { ChildProcess } from "node:child_process"
import { BUNDLE_PATH } from "../image/bundle"
import { compileCacheEnvironment } from "../image/compileCache"
import { SIDECAR_GLIBC_TUNABLES } from "../image/malloc"
import { freePort, waitFor } from "../test/support/net"

export interface SidecarPairOptions {
  /** Starts a Node process of the bench (the bench stops it): its name, argv and environment. */
  readonly start: (
    name: string,
    argv: ReadonlyArray<string>,
    env: Record<string, string>,
  ) => ChildProcess
  /** Node's flags before the bundle. */
  readonly flags: ReadonlyArray<string>
  readonly agentUrl: string
  /** The pods' names and the tokens the stand-in agent knows them by. */
  readonly caller: { readonly pod: string; readonly token: string }
  readonly provider: { readonly pod: string; readonly token: string }
  /** The service's name and the provider's local port behind it. */
  readonly service: string
  readonly target: number
  /** Namespace and workload of both pods. */
  readonly workload: string
  /** More environment for both (e.g. BEEMESH_SAMEHOST_DIR). */
  readonly env?: Record<string, string>
  /** glibc's tunables; default the image's. */
  readonly glibcTunables?: string
}

export interface SidecarPair {
  readonly caller: ChildProcess
  readonly provider: ChildProcess
  /** The caller's upstream port for the service, on 127.0.0.1. */
  readonly upstream: number
}

export const startSidecarPair = async (options: SidecarPairOptions): Promise<SidecarPair> => {
  const [libCaller, libProvider, healthCaller, healthProvider, upstream] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const common = {
    GLIBC_TUNABLES: options.glibcTunables ?? SIDECAR_GLIBC_TUNABLES,
    BEEMESH_NAMESPACE: options.workload,
    BEEMESH_WORKLOAD: options.workload,
    BEEMESH_AGENT_URL: options.agentUrl,
    ...compileCacheEnvironment(BUNDLE_PATH),
    ...options.env,
  }
  const sidecar = (
    who: { readonly pod: string; readonly token: string },
    lib: number,
    health: number,
    role: Record<string, string>,
  ) =>
    options.start(`sidecar ${who.pod}`, [...options.flags, BUNDLE_PATH], {
      ...common,
      BEEMESH_POD: who.pod,
      BEEMESH_POD_TOKEN: who.token,
      BEEMESH_LISTEN_PORT: String(lib),
      BEEMESH_HEALTH_PORT: String(health),
      BEEMESH_ADVERTISE: `/ip4/127.0.0.1/tcp/${lib}`,
      ...role,
    })
  const provider = sidecar(options.provider, libProvider, healthProvider, {
    BEEMESH_SERVICES: `${options.service}=${options.target}`,
  })
  const caller = sidecar(options.caller, libCaller, healthCaller, {
    BEEMESH_UPSTREAMS: `${options.service}=${upstream}`,
  })
  const ready = (port: number) => () =>
    fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => (r.ok ? true : undefined),
      () => undefined,
    )
  await waitFor(`sidecar ${options.provider.pod} ready`, ready(healthProvider), 30_000)
  await waitFor(`sidecar ${options.caller.pod} ready`, ready(healthCaller), 30_000)
  return { caller, provider, upstream }
}
