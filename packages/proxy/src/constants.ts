import type { YamuxMuxerInit } from "@chainsafe/libp2p-yamux"

/** Default limits and timeouts; each has an option to override it. */
export const defaults = {
  /** Dial + stream + handshake per provider (outbound), TCP connect to the target (inbound). */
  connectTimeoutMs: 10_000,
  /**
   * Outbound: reaching a provider, that is dialling it, and opening a stream on a connection
   * (new or existing), each within this. A provider on a lost host answers nothing, not even a
   * reset, so without a short bound every call to it waits out `connectTimeoutMs` before the next
   * provider is tried. A healthy provider answers in milliseconds (a new connection from a pod
   * on another simulated host: p99 ~50 ms under the multi-host benchmark's load).
   */
  dialTimeoutMs: 750,
  /**
   * Outbound, same-host path: a dial over a provider's unix socket. It crosses no network (Noise
   * and Yamux setup over a local socket take a few ms), so past this the socket is taken for
   * stale and the provider's network addresses are dialled.
   */
  sameHostDialTimeoutMs: 250,
  /** How long a new inbound stream may take to send its request frame. */
  handshakeTimeoutMs: 10_000,
  /** No byte in either direction for this long resets the connection. */
  idleTimeoutMs: 5 * 60_000,
  /** Concurrent bridged connections per Inbound / per Outbound. */
  maxStreams: 4096,
  /**
   * Concurrent inbound streams from one peer: half of `maxStreams`, so that no single peer (a
   * flood of idle streams from one connection) can fill a sidecar and shut out every other
   * caller, while one busy pod pair still gets thousands of streams.
   */
  maxStreamsPerPeer: 2048,
  /** Providers tried per connection before giving up. */
  maxAttempts: 3,
  /**
   * A provider that failed goes to the back of the line for this long; each further failure in a
   * row doubles it, up to `maxFailureCooldownMs`. A dead provider stays in the registry until its
   * record expires (60 s), and every retry of it costs one caller up to `dialTimeoutMs`.
   */
  failureCooldownMs: 10_000,
  maxFailureCooldownMs: 60_000,
  /**
   * Per-stream read buffer. Yamux keeps granting window until the reader pauses, so a paused
   * stream can still receive one full window (up to `maxStreamWindowSize`, 16 MiB by default);
   * libp2p's default buffer of 4 MiB would reset slow streams. Must exceed the window.
   */
  streamReadBufferBytes: 16 * 1024 * 1024 + 256 * 1024,
  /**
   * Outbound: the caller's bytes sent ahead of a provider's status and kept for a retry on the
   * next provider; past this the caller waits for the status. A first request fits (an HTTP
   * request's headers, a TLS ClientHello); a bulk upload does not need to run ahead.
   */
  earlyDataBytes: 64 * 1024,
  /** Outbound: streams negotiated ahead of need per provider (0: none, each connection opens its own). */
  readyStreams: 0,
  /** Outbound: an unused ready stream is closed after this; below Inbound's `handshakeTimeoutMs`. */
  readyStreamMaxAgeMs: 5_000,
  /** Outbound: streams kept per provider after their connection ended, for the next ones. */
  maxIdleStreams: 32,
  /**
   * Outbound: after a connection to a service is open, its other providers (this many at most)
   * are dialled in the background, so that the next connections, spread over them in turn, find
   * a libp2p connection open instead of each paying a dial and its handshakes.
   */
  predialProviders: 8,
} as const

/**
 * Yamux settings for a node that carries proxy traffic: yamux's default of 1000 streams per
 * connection is below what one busy pod pair can open at once. Use as `yamux(proxyYamuxOptions)`.
 *
 * `maxEarlyStreams`: streams that arrive before the accepting side has finished setting up the
 * connection (its connection gater still runs, e.g. a membership check) are held, and by default
 * the 11th of them aborts the whole connection. A caller whose app opens a burst of connections
 * (plus the outbound ready streams) opens that many streams the moment its side of a new
 * connection is up: with the default, 10 concurrent first calls to a provider all failed. Held
 * streams count against `maxInboundStreams` like any other, so that bound still applies.
 */
export const proxyYamuxOptions: YamuxMuxerInit = {
  maxInboundStreams: 8192,
  maxOutboundStreams: 8192,
  maxEarlyStreams: 8192,
}

/**
 * Connection-manager settings for many nodes on one IP (loopback, NAT): the default of 5 inbound
 * connections per second per IP throttles a mesh on one host.
 */
export const proxyConnectionManagerOptions = {
  inboundConnectionThreshold: 1000,
  maxIncomingPendingConnections: 1000,
} as const

/**
 * V8 flags for a Node process that carries proxy traffic. The sidecar passes the second on its
 * command line and sets the first itself once started: on the command line it also makes Node
 * refuse the code cache of its own modules (their flag check fails), 30–60 ms more CPU at start.
 *
 * Every bridged byte passes through several short-lived `Buffer`s (socket reads, Noise
 * ciphertext and plaintext), all memory outside V8's heap. By default V8 starts a full
 * mark-compact each time such external memory grows by about 64 MiB, whatever the heap size:
 * 24–27 full collections per 256 MiB bridged, and about a third of the process's CPU. With
 * `--external-memory-accounted-in-global-limit` external memory counts toward the heap's own
 * growing limit instead, and the short-lived buffers die in cheap young-generation collections
 * (2 full collections per 256 MiB). Measured on the full path (`pnpm bench`, two runs): CPU per
 * MiB 19.0–20.5 → 11.8–13.4 ms (30–45 % less), peak RSS 0–40 MiB higher.
 *
 * `--max-semi-space-size=1` (MiB) caps the young generation's two halves: V8 otherwise lets them
 * grow to 8–16 MiB each, and pages once used stay resident after the objects in them died, in
 * every pod's sidecar. Measured with the sidecar (`pnpm --filter @beemesh/sidecar bench`): about
 * 2.5–5 MiB less private memory idle and less under 100 connections, CPU per bridged MiB within
 * the run-to-run noise. Command-line only: Node refuses V8 flags in NODE_OPTIONS unless they are
 * allow-listed.
 */
export const proxyNodeFlags: ReadonlyArray<string> = [
  "--external-memory-accounted-in-global-limit",
  "--max-semi-space-size=1",
]
