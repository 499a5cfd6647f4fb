/**
 * Connection setup with and without the mesh key (libp2p private network), side by side in one
 * run: a fresh dial (TCP + [pnet] + Noise + Yamux + identify) and the first ping over it, between
 * two nodes in this process on 127.0.0.1. Rounds are interleaved (open, keyed, open, keyed …).
 *
 *   pnpm --filter @beemesh/p2p bench [-- --samples 50]
 *
 * Prints a table; writes bench-results/connect.json.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { generateMeshKey, makeP2pNode, type P2pNodeOptions } from "../src/index.js"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { samples: { type: "string", default: "50" } },
})
const samples = Number(values.samples)

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}

/** One fresh connection and its first ping, in ms; both nodes stop afterwards. */
const setup = (options: Pick<P2pNodeOptions, "meshKey">) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* makeP2pNode(options)
      const client = yield* makeP2pNode(options)
      const start = performance.now()
      const peer = yield* client.dial(server.multiaddrs()[0]!)
      yield* Effect.promise(() => client.node.services.ping.ping(peer))
      return performance.now() - start
    }),
  )

const program = Effect.gen(function* () {
  const meshKey = generateMeshKey()
  const open: Array<number> = []
  const keyed: Array<number> = []
  // Warm-up: the first connections of a process pay for module and JIT start.
  yield* setup({})
  yield* setup({ meshKey })
  for (let i = 0; i < samples; i++) {
    open.push(yield* setup({}))
    keyed.push(yield* setup({ meshKey }))
  }
  const rows = [
    { variant: "open node (no mesh key)", ms: open },
    { variant: "private network (mesh key)", ms: keyed },
  ].map(({ variant, ms }) => ({
    variant,
    samples: ms.length,
    p50Ms: Number(quantile(ms, 0.5).toFixed(2)),
    p99Ms: Number(quantile(ms, 0.99).toFixed(2)),
  }))
  console.table(rows)
  yield* Effect.promise(async () => {
    await mkdir("bench-results", { recursive: true })
    await writeFile("bench-results/connect.json", `${JSON.stringify({ samples, rows }, null, 2)}\n`)
  })
})

await Effect.runPromise(program)
