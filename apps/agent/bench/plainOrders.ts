/**
 * The plain-Podman baseline of the benches: the demo orders image as one `podman run -d` with a
 * published port, on the agent's own slirp4netns options — what a user would run instead of a pod
 * behind a sidecar. One home, so that every bench compares against the same container.
 */
import { ORDERS_IMAGE } from "../demo/images"
import { plainNetworkFlag, podNetwork } from "./podNetwork"

/** The agent's default pod network, as Podman's `--network` flag: the baseline runs on the same. */
export const PLAIN_NETWORK = plainNetworkFlag(podNetwork(undefined))

export interface PlainOrdersOptions {
  /** The container's name. */
  readonly name: string
  /** The host port published on 127.0.0.1 for the container's port 80. */
  readonly port: number
  /** `key=value` labels: how the bench finds (and the sweeper removes) its containers. */
  readonly labels: ReadonlyArray<string>
  /** Seconds `podman stop` waits before SIGKILL (Podman's default, 10, when absent). */
  readonly stopTimeoutSeconds?: number
  /** Podman's `--network` value (default `PLAIN_NETWORK`): the agent's pods' options of the run. */
  readonly network?: string
}

/** The arguments of `podman` that start one plain orders container. */
export const plainOrdersArgs = (options: PlainOrdersOptions): ReadonlyArray<string> => [
  "run",
  "-d",
  "--name",
  options.name,
  ...options.labels.flatMap((label) => ["--label", label]),
  ...(options.stopTimeoutSeconds === undefined
    ? []
    : ["--stop-timeout", String(options.stopTimeoutSeconds)]),
  "--network",
  options.network ?? PLAIN_NETWORK,
  "-p",
  `127.0.0.1:${options.port}:80`,
  // The image's httpd binds 127.0.0.1 (behind a sidecar); a published port needs all addresses.
  "--entrypoint",
  "/bin/busybox",
  ORDERS_IMAGE,
  "httpd",
  "-f",
  "-p",
  "80",
  "-h",
  "/www",
]
