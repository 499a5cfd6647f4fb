/**
 * The membership gate's re-check timer: armed while there is something to re-check, none at all
 * on an idle node (a sidecar nobody calls wakes for nothing), armed again by a new connection.
 * Over a stand-in for the libp2p node: only its connection events and list matter here.
 */
import type { Connection, Libp2p } from "@libp2p/interface"
import { afterEach, describe, expect, it } from "vitest"
import { MembershipGate } from "./internal/MembershipGate.js"

const RECHECK_MS = 20
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const standIn = () => {
  const listeners = new Map<string, (event: unknown) => void>()
  const connections: Array<Connection> = []
  const node = {
    addEventListener: (name: string, listener: (event: unknown) => void) =>
      listeners.set(name, listener),
    removeEventListener: (name: string) => listeners.delete(name),
    handle: async () => {},
    getConnections: () => connections,
  } as unknown as Libp2p
  const open = (peer: string) => {
    const connection = {
      remotePeer: { toString: () => peer },
      status: "open",
      abort: () => {},
    } as unknown as Connection
    connections.push(connection)
    listeners.get("connection:open")?.({ detail: connection })
  }
  const close = (peer: string) => {
    connections.splice(
      connections.findIndex((c) => c.remotePeer.toString() === peer),
      1,
    )
    listeners.get("peer:disconnect")?.({ detail: { toString: () => peer } })
  }
  return { node, open, close }
}

const gates: Array<MembershipGate> = []
afterEach(() => {
  for (const gate of gates.splice(0)) gate.detach()
})

const gateCountingRechecks = () => {
  const counter = { rechecks: 0 }
  const gate = new MembershipGate(
    {
      authority: "12D3KooWauthority",
      // Read by every re-check (and by every presentation): counts how often the gate woke.
      chain: () => {
        counter.rechecks++
        return []
      },
      revoked: () => ({ serials: new Set(), subjects: new Set() }),
      recheckMs: RECHECK_MS,
      timeoutMs: 60_000,
    },
    () => {},
  )
  gates.push(gate)
  return { gate, counter }
}

describe("membership re-checks on an idle node", () => {
  it("a node without connections stops re-checking; a connection re-arms it, and closing the last one stops it again", async () => {
    const { node, open, close } = standIn()
    const { gate, counter } = gateCountingRechecks()
    await gate.attach(node)
    await sleep(RECHECK_MS * 3)
    const idle = counter.rechecks
    await sleep(RECHECK_MS * 10)
    expect(counter.rechecks).toBe(idle)

    open("12D3KooWpeer")
    await sleep(RECHECK_MS * 10)
    const whileConnected = counter.rechecks - idle
    // About ten re-checks; at least a few on a loaded machine.
    expect(whileConnected).toBeGreaterThanOrEqual(3)

    close("12D3KooWpeer")
    await sleep(RECHECK_MS * 3)
    const after = counter.rechecks
    await sleep(RECHECK_MS * 10)
    expect(counter.rechecks).toBe(after)
  })

  it("re-checks on request (recheckMembers) even while idle", async () => {
    const { node } = standIn()
    const { gate, counter } = gateCountingRechecks()
    await gate.attach(node)
    await sleep(RECHECK_MS * 3)
    const idle = counter.rechecks
    gate.recheck()
    expect(counter.rechecks).toBe(idle + 1)
  })
})
