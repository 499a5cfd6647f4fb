/**
 * Connection setup with and without the mesh key (libp2p private network) and certified
 * membership, side by side in one run: a fresh dial (TCP + [pnet] + Noise + Yamux + identify) and
 * the first ping over it, between two nodes in this process on 127.0.0.1; with membership, until
 * both sides also verified the other's certificate (what a door waits for before it serves a
 * stream). Rounds are interleaved (open, keyed, certified, open, …).
 *
 *   pnpm --filter @beemesh/p2p bench [-- --samples 50]
 *
 * Prints a table; writes bench-results/connect.json.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { parseArgs } from "node:util"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { Effect } from "effect"
import {
  generateMeshKey,
  issueCertificate,
  makeP2pNode,
  type P2pNodeOptions,
  peerIdOfKey,
  revokedSet,
} from "../src/index.js"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    samples: { type: "string", default: "50" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (values.help) {
  console.log(
    [
      "pnpm --filter @beemesh/p2p bench [-- --samples 50]",
      "  --samples N   fresh connections per variant (open, mesh key, certified), interleaved (default 50)",
      "Prints a table; writes bench-results/connect.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const samples = Number(values.samples)

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}

/** Two agents certified by one authority: each node's key and its membership options. */
const certifiedPair = Effect.gen(function* () {
  const authority = yield* Effect.promise(() => generateKeyPair("Ed25519"))
  const agent = () =>
    Effect.gen(function* () {
      const key = yield* Effect.promise(() => generateKeyPair("Ed25519"))
      const certificate = yield* issueCertificate(authority, {
        role: "agent",
        subject: peerIdOfKey(key),
        serial: `bench-${peerIdOfKey(key).slice(-12)}`,
        notBefore: Date.now() - 60_000,
        notAfter: Date.now() + 24 * 60 * 60 * 1000,
      })
      return {
        privateKey: key,
        membership: {
          authority: peerIdOfKey(authority),
          chain: () => [certificate],
          revoked: () => revokedSet(undefined),
        },
      }
    })
  return [yield* agent(), yield* agent()] as const
})

type Side = Pick<P2pNodeOptions, "meshKey" | "membership"> & { privateKey?: PrivateKey }

/**
 * One fresh connection and its first ping, in ms (with membership: and both sides' verdicts on
 * the other's certificate); both nodes stop afterwards.
 */
const setup = (serverSide: Side, clientSide: Side = serverSide) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* makeP2pNode(serverSide)
      const client = yield* makeP2pNode(clientSide)
      const start = performance.now()
      const peer = yield* client.dial(server.multiaddrs()[0]!)
      yield* Effect.promise(() => client.node.services.ping.ping(peer))
      if (serverSide.membership !== undefined) {
        const verdicts = yield* Effect.all([
          client.awaitMember(peer),
          server.awaitMember(client.peerId),
        ])
        if (verdicts.some((m) => m === undefined)) throw new Error("membership was not verified")
      }
      return performance.now() - start
    }),
  )

const program = Effect.gen(function* () {
  const meshKey = generateMeshKey()
  const open: Array<number> = []
  const keyed: Array<number> = []
  const certified: Array<number> = []
  const [serverAgent, clientAgent] = yield* certifiedPair
  const member = () => setup({ meshKey, ...serverAgent }, { meshKey, ...clientAgent })
  // Warm-up: the first connections of a process pay for module and JIT start.
  yield* setup({})
  yield* setup({ meshKey })
  yield* member()
  for (let i = 0; i < samples; i++) {
    open.push(yield* setup({}))
    keyed.push(yield* setup({ meshKey }))
    certified.push(yield* member())
  }
  const rows = [
    { variant: "open node (no mesh key)", ms: open },
    { variant: "private network (mesh key)", ms: keyed },
    { variant: "mesh key + certified membership", ms: certified },
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
