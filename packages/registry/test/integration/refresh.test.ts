import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { Registration } from "../../src/Registry.js"
import * as ServiceRecord from "../../src/ServiceRecord.js"
import { fileScope } from "../support/fileScope.js"
import { delayRelay, freePort } from "../support/latency.js"
import { eventually, type MeshNode, startNode } from "../support/mesh.js"

/**
 * Refresh at scale: one node of a real in-process mesh (TCP + Noise + Yamux + Kad-DHT on
 * 127.0.0.1, every other node behind a relay adding RELAY_DELAY_MS each way, so DHT walks wait on
 * round trips as between hosts) holds 100 registrations with a short record lifetime. One after
 * another, a round of 100 put+provide walks takes longer than that lifetime; the registry must
 * renew every record before it expires, and another node must find all of them live.
 */
const SERVICES = 100
const PEERS = 5
const RELAY_DELAY_MS = 20
const TTL_MS = 15_000
const WATCH_MS = 2 * TTL_MS

let mesh: ReadonlyArray<MeshNode>
const { run } = fileScope()

beforeAll(async () => {
  const registry = { recordTtlMs: TTL_MS, cacheTtlMs: 0, queryTimeoutMs: 8_000 }
  mesh = await run(
    Effect.gen(function* () {
      const parent = yield* Effect.scope
      // Every node behind its own relay: whoever dials whom, each connection carries the delay.
      const behindRelay = (index: number, bootstrap: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          const relay = yield* delayRelay(RELAY_DELAY_MS)
          const port = yield* Effect.promise(freePort)
          relay.target(port)
          return yield* startNode(
            parent,
            index,
            {
              bootstrap,
              listen: [`/ip4/127.0.0.1/tcp/${port}`],
              announce: [`/ip4/127.0.0.1/tcp/${relay.port}`],
            },
            registry,
          )
        })
      const provider = yield* behindRelay(0, [])
      const bootstrap = [provider.libp2p.multiaddrs()[0]!.toString()]
      const peers = yield* Effect.forEach(
        Array.from({ length: PEERS }, (_, i) => i + 1),
        (index) => behindRelay(index, bootstrap),
      )
      const nodes = [provider, ...peers]
      yield* Effect.forEach(nodes, (n) => n.libp2p.join, { discard: true })
      yield* eventually(
        `every routing table to hold ${PEERS} peers`,
        Effect.sync(() => nodes.map((n) => n.libp2p.routingTableSize())),
        (sizes) => sizes.every((size) => size >= PEERS),
        { timeoutMs: 60_000 },
      )
      return nodes
    }),
  )
}, 110_000)

describe(`a node with ${SERVICES} registered services`, () => {
  it(`keeps every record fresh over ${WATCH_MS / 1000} s with a ${TTL_MS / 1000} s lifetime, and peers resolve them all`, async () => {
    const provider = mesh[0]!
    const started = Date.now()
    const registrations: ReadonlyArray<Registration> = await run(
      Effect.forEach(
        Array.from({ length: SERVICES }, (_, i) => `svc-${i}`),
        (service) =>
          provider.registry.register("scale", service, {
            workload: service,
            pod: `${service}-0`,
            ports: [{ port: 8080 }],
          }),
        { concurrency: 8 },
      ),
    )
    const registeredMs = Date.now() - started

    // Watch the records as published: none may reach its expiry before being renewed.
    const watchUntil = Date.now() + WATCH_MS
    let oldestAgeMs = 0
    const expired: Array<string> = []
    while (Date.now() < watchUntil && expired.length === 0) {
      const now = Date.now()
      for (const registration of registrations) {
        const record = registration.current()
        if (record === undefined || ServiceRecord.expiresAt(record) <= now) {
          expired.push(registration.service)
        } else {
          oldestAgeMs = Math.max(oldestAgeMs, now - record.issuedAt)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    console.log(
      `${SERVICES} registrations in ${registeredMs} ms; oldest record seen ${oldestAgeMs} ms old (lifetime ${TTL_MS} ms)`,
    )
    expect(expired).toEqual([])

    // And what the DHT holds is live: another node resolves every service.
    const observer = mesh[5]!
    const resolved = await run(
      Effect.forEach(
        registrations,
        (r) => observer.registry.resolve("scale", r.service, { fresh: true }),
        { concurrency: 8 },
      ),
    )
    const missing = registrations.filter((_, i) => resolved[i]!.length !== 1).map((r) => r.service)
    expect(missing).toEqual([])
    expect(resolved.every((rs) => rs[0]!.provider === provider.libp2p.peerId.toString())).toBe(true)
  }, 180_000)
})
