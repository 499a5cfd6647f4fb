import { describe, expect, it } from "vitest"
import { type HolePunchOutcome, HolePunchWatch } from "./HolePunch.js"

const relayed = "/ip4/10.77.0.12/tcp/4001/p2p/12D3KooWrelay/p2p-circuit/p2p/12D3KooWpeer"
const direct = "/ip4/10.77.0.11/tcp/40123/p2p/12D3KooWpeer"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const watching = (windowMs: number) => {
  const outcomes: Array<HolePunchOutcome> = []
  const watch = new HolePunchWatch(windowMs, (o) => outcomes.push(o))
  return { watch, outcomes }
}

describe("HolePunchWatch", () => {
  it("a direct connection after a relayed one to the same peer is a punched hole", () => {
    const { watch, outcomes } = watching(10_000)
    watch.opened("12D3KooWpeer", relayed)
    watch.opened("12D3KooWpeer", direct)
    expect(watch.snapshot()).toEqual({ attempted: 1, succeeded: 1, failed: 0 })
    expect(outcomes).toEqual([
      { peer: "12D3KooWpeer", outcome: "succeeded", detail: `direct connection via ${direct}` },
    ])
    watch.close()
  })

  it("no direct connection within the window is a failure, with DCUtR's last word on the peer", async () => {
    const { watch, outcomes } = watching(50)
    watch.opened("12D3KooWpeer", relayed)
    // A second relayed connection to a peer already being watched is the same attempt.
    watch.opened("12D3KooWpeer", relayed)
    watch.heard("B had no dialable multiaddrs in /ip4/10.78.0.13/tcp/1/p2p/12D3KooWpeer")
    watch.heard("some line about 12D3KooWother")
    await sleep(150)
    expect(watch.snapshot()).toEqual({ attempted: 1, succeeded: 0, failed: 1 })
    expect(outcomes).toEqual([
      {
        peer: "12D3KooWpeer",
        outcome: "failed",
        detail: "B had no dialable multiaddrs in /ip4/10.78.0.13/tcp/1/p2p/12D3KooWpeer",
      },
    ])
  })

  it("an error beats an ordinary line, a line naming the peer one naming none; direct connections alone count nothing", async () => {
    const { watch, outcomes } = watching(50)
    watch.opened("12D3KooWother", direct)
    watch.opened("12D3KooWa", relayed.replace("peer", "a"))
    watch.opened("12D3KooWb", relayed.replace("peer", "b"))
    watch.heard("error while attempting DCUtR with 12D3KooWa - reset", true)
    watch.heard("B sending connect to 12D3KooWa")
    watch.heard("A receiving connect")
    watch.heard("error while attempting DCUtR on attempt 3 of 3 - reset", true)
    await sleep(150)
    expect(watch.snapshot()).toEqual({ attempted: 2, succeeded: 0, failed: 2 })
    expect(outcomes.find((o) => o.peer === "12D3KooWa")?.detail).toBe(
      "error while attempting DCUtR with 12D3KooWa - reset",
    )
    expect(outcomes.find((o) => o.peer === "12D3KooWb")?.detail).toBe(
      "error while attempting DCUtR on attempt 3 of 3 - reset",
    )
    const { watch: quiet, outcomes: silent } = watching(50)
    quiet.opened("12D3KooWc", relayed.replace("peer", "c"))
    await sleep(150)
    expect(silent[0]?.detail).toBe("no direct connection followed the relayed one")
  })
})
