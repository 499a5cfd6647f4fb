import { Context, Data, Effect, Layer, Option, Scope } from "effect"
import { Catalog, type CatalogOptions, type CatalogShape } from "../../src/Catalog.js"
import { drain } from "../../src/internal/query.js"
import { Libp2pNode, type Libp2pNodeOptions, type Libp2pNodeShape } from "../../src/Libp2pNode.js"
import * as Names from "../../src/Names.js"
import { Registry, type RegistryOptions, type RegistryShape } from "../../src/Registry.js"

/** One in-process Beemesh node: libp2p host + registry, in its own closeable scope. */
export interface MeshNode {
  readonly index: number
  readonly libp2p: Libp2pNodeShape
  readonly registry: RegistryShape
  /** The replicated catalog, when the mesh runs one. */
  readonly catalog: CatalogShape | undefined
  readonly scope: Scope.Closeable
}

export class WaitTimedOut extends Data.TaggedError("WaitTimedOut")<{
  readonly what: string
  readonly timeoutMs: number
  readonly last: string
}> {
  override get message() {
    return `timed out after ${this.timeoutMs} ms waiting for ${this.what} (last: ${this.last})`
  }
}

/** Polls `effect` until `done` holds; fails with WaitTimedOut naming what was awaited. */
export const eventually = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Effect.Effect<A, E | WaitTimedOut, R> => {
  const timeoutMs = options.timeoutMs ?? 45_000
  const deadline = Date.now() + timeoutMs
  const attempt: Effect.Effect<A, E | WaitTimedOut, R> = effect.pipe(
    Effect.flatMap((a) => {
      if (done(a)) return Effect.succeed(a)
      if (Date.now() > deadline) {
        return Effect.fail(
          new WaitTimedOut({ what, timeoutMs, last: JSON.stringify(a)?.slice(0, 300) ?? "" }),
        )
      }
      return Effect.sleep(options.intervalMs ?? 200).pipe(Effect.andThen(() => attempt))
    }),
  )
  return attempt
}

export const startNode = (
  parent: Scope.Scope,
  index: number,
  nodeOptions: Libp2pNodeOptions,
  registryOptions: RegistryOptions,
  catalogOptions?: CatalogOptions,
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(parent)
    const node = Libp2pNode.layer({ ...nodeOptions, catalog: catalogOptions !== undefined })
    const layer =
      catalogOptions === undefined
        ? Registry.layer(registryOptions).pipe(Layer.provideMerge(node))
        : Registry.layer(registryOptions).pipe(
            Layer.provideMerge(Catalog.layer(catalogOptions)),
            Layer.provideMerge(node),
          )
    const context = yield* Layer.buildWithScope(layer, scope)
    return {
      index,
      libp2p: Context.get(context, Libp2pNode),
      registry: Context.get(context, Registry),
      catalog: Option.getOrUndefined(Context.getOption(context, Catalog)),
      scope,
    } satisfies MeshNode
  })

export interface MeshOptions {
  readonly registry?: RegistryOptions
  /** Run the replicated service catalog on every node, with these options. Default: none. */
  readonly catalog?: CatalogOptions
  /** Extra libp2p node options (bootstrap is set by the mesh). */
  readonly node?: Omit<Libp2pNodeOptions, "bootstrap">
  /** Options of one node (its key, its membership …), over `node`. */
  readonly perNode?: (index: number) => Omit<Libp2pNodeOptions, "bootstrap">
  /** Minimum routing-table size every node must reach before the mesh counts as formed. */
  readonly minRoutingTable?: number
  readonly formTimeoutMs?: number
  /** Run a second join round once all nodes are up (early nodes learn the late ones). Default true. */
  readonly rejoin?: boolean
}

/**
 * Starts `size` nodes on 127.0.0.1 (ephemeral ports), each bootstrapping to the first two, and
 * waits until every routing table holds a few peers. All nodes stop when the scope closes.
 */
export const startMesh = (size: number, options: MeshOptions = {}) =>
  Effect.gen(function* () {
    const parent = yield* Effect.scope
    const registryOptions = options.registry ?? {}
    const nodeOptions = (i: number) => ({ ...options.node, ...options.perNode?.(i) })
    const seeds: MeshNode[] = []
    for (let i = 0; i < Math.min(2, size); i++) {
      const bootstrap = seeds.map((s) => s.libp2p.multiaddrs()[0]!.toString())
      seeds.push(
        yield* startNode(
          parent,
          i,
          { ...nodeOptions(i), bootstrap },
          registryOptions,
          options.catalog,
        ),
      )
    }
    const bootstrap = seeds.map((s) => s.libp2p.multiaddrs()[0]!.toString())
    const rest = yield* Effect.forEach(
      Array.from({ length: size - seeds.length }, (_, i) => i + seeds.length),
      (i) =>
        startNode(parent, i, { ...nodeOptions(i), bootstrap }, registryOptions, options.catalog),
      { concurrency: 8 },
    )
    const nodes = [...seeds, ...rest]
    // A second join round once everybody is up: early nodes learn about the late ones.
    if (options.rejoin !== false) {
      yield* Effect.forEach(nodes, (n) => n.libp2p.join, { concurrency: 4, discard: true })
    }
    const min = Math.min(options.minRoutingTable ?? 3, size - 1)
    // A join that ran before its bootstrap peers had identified the others finds nobody (more
    // likely the more protocols identify has to announce, e.g. with gossipsub): such nodes join
    // again until their tables fill, a few per poll (a join of a large, busy mesh takes seconds).
    const lagging = () =>
      nodes
        .filter((n) => n.libp2p.routingTableSize() < min)
        .sort(() => Math.random() - 0.5)
        .slice(0, 4)
    yield* eventually(
      `every routing table to hold at least ${min} peers`,
      Effect.forEach(
        lagging(),
        (n) =>
          // One whose bootstrap dials timed out on a busy machine knows nobody to ask yet.
          (n.libp2p.routingTableSize() === 0
            ? Effect.forEach(bootstrap, (seed) => n.libp2p.dial(seed).pipe(Effect.ignore), {
                discard: true,
              })
            : Effect.void
          ).pipe(Effect.andThen(n.libp2p.join.pipe(Effect.ignore))),
        { concurrency: 4, discard: true },
      ).pipe(Effect.andThen(Effect.sync(() => nodes.map((n) => n.libp2p.routingTableSize())))),
      (sizes) => sizes.every((s) => s >= min),
      { timeoutMs: options.formTimeoutMs ?? 60_000, intervalMs: 500 },
    )
    return nodes
  })

/** Puts a raw value from `n`; counts the peers that stored it and those that refused it. */
export const rawPut = (n: MeshNode, key: Uint8Array, value: Uint8Array) =>
  drain(
    "put",
    "raw",
    8_000,
    (signal) => n.libp2p.dht.put(key, value, { signal }),
    { accepted: 0, refused: 0 },
    (s, e) =>
      e.name === "PEER_RESPONSE" && e.messageName === "PUT_VALUE"
        ? { ...s, accepted: s.accepted + 1 }
        : e.name === "QUERY_ERROR"
          ? { ...s, refused: s.refused + 1 }
          : s,
  ).pipe(Effect.map(({ state }) => state))

/**
 * Counts the DHT walks `n` starts for the key of `shop/<service>`: its `dht.provide` (provider
 * announcements) or `dht.findProviders` (lookups), wrapped.
 */
export const countWalks = (
  n: MeshNode,
  method: "provide" | "findProviders",
  service: string,
): { readonly walks: number } => {
  const cid = Names.serviceCid({ namespace: "shop", service }).toString()
  const dht = n.libp2p.dht as unknown as Record<
    typeof method,
    (key: { toString(): string }, options?: unknown) => unknown
  >
  const original = dht[method].bind(dht)
  const counter = { walks: 0 }
  dht[method] = (key, options) => {
    if (key.toString() === cid) counter.walks++
    return original(key, options)
  }
  return counter
}
