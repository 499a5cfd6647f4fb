/**
 * A standby sidecar's warm-up: while it waits for its claim (StandbyClaim.ts), it runs once, in
 * throwaway form, the code its start and its first connections will run, so that V8 has compiled
 * it before the claim instead of on the deploy's path.
 *
 * Why: V8 compiles a function at its first call, from the bundle's source (the compile cache holds
 * only what evaluating the modules compiled). A claimed sidecar's start (its node, the proxy) and
 * the first connection a client sidecar makes to it (the private network, Noise, Yamux,
 * multistream-select, identify, the membership proof, the proxy's stream and the door) call
 * hundreds of functions for the first time: most of the CPU such a connection costs a fresh
 * process. A standby sidecar idles until its claim; that is where the compiling can go.
 *
 * What: two throwaway sidecars in this process, made of the sidecar's own parts (settings decoded
 * as a claim's are; the node with a fresh identity on 127.0.0.1, port 0, under a random mesh key;
 * a throwaway mesh authority and agent whose certificates arrive as a lease brings them; the
 * proxy's Inbound behind the door and its Outbound with ready streams). One calls the other's
 * service, an echo server on 127.0.0.1 port 0, through an upstream listener on 127.0.0.1 port 0,
 * twice; then all of it is closed. Nothing leaves 127.0.0.1, nothing is written to disk, and no
 * listener, socket or timer outlives it (libp2p's inbound rate limiter keeps a timer of its own
 * for 1 s). It is bounded in time, and a failure is logged and ignored: the sidecar stands by all
 * the same. It starts shortly after the first request for the claim (a claim already made is
 * answered before it starts), and a claim interrupts it, closing what it opened.
 *
 * Measured (README, "Standby mode"): claim to registration 75 → 25 ms, the provider's CPU for its
 * first inbound connection 63 → 29 ms, claim to the first answer through it 174 → 75 ms; 0.25 s
 * of CPU once per standby pod, and no more private memory 10 s after it (see standingBy).
 */
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import type { Resolution } from "@beemesh/contract"
import { generateMeshKey, issueCertificate, type MeshKey, peerIdOfKey } from "@beemesh/p2p"
import { Outbound, Resolver } from "@beemesh/proxy"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import {
  Cause,
  Context,
  Data,
  Duration,
  Effect,
  Exit,
  Layer,
  Option,
  References,
  type Scope,
} from "effect"
import { makeAgentResolver } from "./AgentResolver"
import { releaseCompileCache } from "./CompileCacheRelease"
import { DoorPolicies } from "./DoorPolicies"
import { compactHeap, keepBytecode } from "./HeapCompaction"
import { decodeSettings, type SidecarSettings } from "./SidecarConfig"
import { acceptLease, proxyLayer, proxyNodeOptions, stateLayer } from "./SidecarLayers"
import { MemberChain, SidecarNode } from "./SidecarNode"

/** The bound on a warm-up (it takes 150–300 ms on an idle 2-core machine). */
export const WARM_UP_TIMEOUT_MS = 5_000

/**
 * How long after its first request a standby sidecar starts its warm-up. A claim made before the
 * sidecar asked is answered at once; the warm-up then never starts. A claim answered while a
 * warm-up runs pays for it: what the warm-up has in hand (a node starting, compiling libp2p as it
 * goes) is finished before it closes, 60–70 ms more to that claim's start (measured).
 */
export const WARM_UP_DELAY_MS = 250

/** The throwaway sidecars' namespace, workload, pod and service. */
const NAME = "warm-up"
const LOOPBACK = "127.0.0.1"
/** Lifetime of the throwaway certificates: far past the warm-up's bound. */
const CERTIFICATE_MS = 10 * 60_000
const MESSAGE = Buffer.from("warm-up\n")

/** A call through the throwaway upstream did not come back. */
export class WarmUpCallFailed extends Data.TaggedError("WarmUpCallFailed")<{
  readonly port: number
  readonly reason: string
}> {
  override get message(): string {
    return `the call through the throwaway upstream 127.0.0.1:${this.port} failed: ${this.reason}`
  }
}

/** The throwaway provider's app: an echo server on 127.0.0.1, closed with its connections. */
const echoApp = Effect.acquireRelease(
  Effect.callback<{ readonly server: net.Server; readonly sockets: Set<net.Socket> }, Error>(
    (resume) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => socket.destroy())
        socket.pipe(socket)
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(0, LOOPBACK, () => resume(Effect.succeed({ server, sockets })))
    },
  ),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    }),
).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))

interface ThrowawayMesh {
  readonly meshKey: MeshKey
  /** The authority's peer id, as BEEMESH_MESH_AUTHORITY names it. */
  readonly authority: string
  readonly agent: PrivateKey
  readonly agentCertificate: string
}

const newKey = Effect.promise(() => generateKeyPair("Ed25519"))
const serial = () => randomBytes(8).toString("hex")

/** A mesh of its own: nobody else holds its key or trusts its authority. */
const throwawayMesh = Effect.gen(function* () {
  const authority = yield* newKey
  const agent = yield* newKey
  const now = Date.now()
  const agentCertificate = yield* issueCertificate(authority, {
    role: "agent",
    subject: peerIdOfKey(agent),
    serial: serial(),
    notBefore: now,
    notAfter: now + CERTIFICATE_MS,
  })
  return {
    meshKey: generateMeshKey(),
    authority: peerIdOfKey(authority),
    agent,
    agentCertificate,
  } satisfies ThrowawayMesh
})

/** A claim's settings for the throwaway sidecars, decoded as a real claim's are. */
const throwawaySettings = (mesh: ThrowawayMesh, appPort: number) =>
  decodeSettings({
    BEEMESH_NAMESPACE: NAME,
    BEEMESH_WORKLOAD: NAME,
    BEEMESH_POD: NAME,
    // Never sent, and the agent's URL (the default) never asked: nothing here talks to an agent.
    BEEMESH_POD_TOKEN: randomBytes(16).toString("hex"),
    BEEMESH_SERVICES: `${NAME}=${appPort}`,
    // Decoded, not announced: the throwaway nodes announce where they listen.
    BEEMESH_ADVERTISE: `/ip4/${LOOPBACK}/tcp/${appPort}`,
    BEEMESH_MESH_KEY: mesh.meshKey.hex,
    BEEMESH_MESH_AUTHORITY: mesh.authority,
  })

/**
 * One throwaway sidecar in the current scope: its node and proxy as sidecarLayer builds them
 * (but on 127.0.0.1, port 0), holding the chain a lease would bring.
 */
const throwawaySidecar = (
  settings: SidecarSettings,
  mesh: ThrowawayMesh,
  resolver: Layer.Layer<Resolver>,
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      proxyLayer(settings).pipe(
        Layer.provideMerge(resolver),
        Layer.provideMerge(
          SidecarNode.layer({
            ...proxyNodeOptions,
            listenHost: LOOPBACK,
            listenPort: 0,
            announce: [],
          }),
        ),
        Layer.provideMerge(stateLayer(settings)),
      ),
    )
    const node = Context.get(context, SidecarNode)
    const now = Date.now()
    const certificate = yield* issueCertificate(mesh.agent, {
      role: "sidecar",
      subject: node.peerId,
      serial: serial(),
      notBefore: now,
      notAfter: now + CERTIFICATE_MS,
      workload: { namespace: NAME, workload: NAME, pod: NAME, generation: "1", labels: {} },
    })
    yield* Effect.promise(() =>
      acceptLease(Context.get(context, MemberChain), Context.get(context, DoorPolicies), {
        ttlSeconds: 30,
        renewAfterSeconds: 10,
        certificates: [mesh.agentCertificate, certificate],
      }),
    )
    return { node, outbound: Context.get(context, Outbound) }
  })

/** One connection through the upstream: a line out, its echo back, closed from both ends. */
const callThrough = (port: number) =>
  Effect.callback<void, WarmUpCallFailed>((resume) => {
    const socket = net.connect(port, LOOPBACK)
    let echoed = 0
    let failure: string | undefined
    socket.on("connect", () => socket.write(MESSAGE))
    socket.on("data", (chunk) => {
      echoed += chunk.length
      if (echoed >= MESSAGE.length) socket.end()
    })
    socket.on("error", (error) => {
      failure = error.message
    })
    socket.on("close", () =>
      resume(
        echoed >= MESSAGE.length
          ? Effect.void
          : Effect.fail(
              new WarmUpCallFailed({
                port,
                reason: failure ?? `closed after ${echoed} of ${MESSAGE.length} bytes`,
              }),
            ),
      ),
    )
    return Effect.sync(() => socket.destroy())
  })

/** The warm-up's work: two throwaway sidecars, one calling the other's service; scoped. */
export const rehearseFirstConnection = Effect.gen(function* () {
  const appPort = yield* echoApp
  const mesh = yield* throwawayMesh
  const settings = yield* throwawaySettings(mesh, appPort)
  const provider = yield* throwawaySidecar(settings, mesh, Resolver.static({}))
  // The agent's answer to a resolve, converted by the sidecar's own resolver.
  const providers: ReadonlyArray<Resolution.Provider> = [
    {
      peerId: provider.node.peerId,
      multiaddrs: provider.node.node.getMultiaddrs().map((address) => address.toString()),
      pod: NAME,
      workload: NAME,
    },
  ]
  const caller = yield* throwawaySidecar(
    settings,
    mesh,
    // Answered with a version, as the agent answers: the watched path is the one warmed. The
    // watch is never answered; it ends with the throwaway sidecar.
    Layer.effect(
      Resolver,
      makeAgentResolver({
        resolve: () => Effect.succeed({ providers, version: "warm-up" }),
        watch: () => Effect.never,
      }),
    ),
  )
  const upstream = yield* caller.outbound.listen({ service: NAME, host: LOOPBACK, port: 0 })
  // The second connection rides a stream the first one left negotiated (ready or idle).
  yield* callThrough(upstream.port)
  yield* callThrough(upstream.port)
})

/**
 * Runs `work` in a scope of its own within `timeoutMs`, then logs how it went; never fails. The
 * throwaway parts' own log lines are dropped (a peer of the throwaway mesh leaving is no news).
 * Interrupted (the claim came first, or SIGTERM), its scope is closed and nothing is logged.
 */
export const bounded = (
  work: Effect.Effect<void, unknown, Scope.Scope>,
  timeoutMs: number = WARM_UP_TIMEOUT_MS,
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const started = performance.now()
    const outcome = yield* work.pipe(
      Effect.scoped,
      Effect.provideService(References.MinimumLogLevel, "None"),
      Effect.timeoutOption(Duration.millis(timeoutMs)),
      Effect.exit,
    )
    const ms = Math.round(performance.now() - started)
    if (Exit.isSuccess(outcome))
      return yield* Option.isSome(outcome.value)
        ? Effect.logInfo(`standby warm-up done in ${ms} ms`)
        : Effect.logInfo(`standby warm-up cut short after ${timeoutMs} ms (ignored)`)
    const error = Cause.squash(outcome.cause)
    yield* Effect.logInfo(
      `standby warm-up failed after ${ms} ms (ignored): ${error instanceof Error ? error.message : String(error)}`,
    )
  })

/** The warm-up (see the module's comment), bounded and logged; it never fails. */
export const warmUp = (timeoutMs: number = WARM_UP_TIMEOUT_MS): Effect.Effect<void> =>
  bounded(rehearseFirstConnection, timeoutMs).pipe(Effect.withSpan("StandbyWarmUp.warmUp"))

/**
 * What a standby sidecar does until its claim interrupts it (StandbyClaim.ts runs it beside the
 * request): V8 keeps the bytecode it compiles until the claim (keepBytecode, HeapCompaction.ts);
 * it warms up; then it gives back what the warm-up left: the compile cache's bytes (the bundle is
 * compiled; CompileCacheRelease.ts) and, by one memory-reducing collection (which flushes no
 * bytecode now), the throwaway sidecars' garbage and the young generation's pages. V8's memory
 * reducer follows with two collections of its own within 10 s; from then on a standby sidecar's
 * private memory is what it was without the warm-up.
 */
export const standingBy = (
  timing: { readonly delayMs?: number; readonly timeoutMs?: number } = {},
): Effect.Effect<void> =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* Effect.sleep(Duration.millis(timing.delayMs ?? WARM_UP_DELAY_MS))
      yield* keepBytecode
      yield* warmUp(timing.timeoutMs)
      yield* Effect.sync(() => {
        releaseCompileCache()
        compactHeap()
      })
      return yield* Effect.never
    }),
  )
