import type { QueryEvent } from "@libp2p/kad-dht"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { drain } from "./internal/query.js"

const events = (count: number, failure: Error) =>
  async function* (): AsyncIterable<QueryEvent> {
    for (let i = 0; i < count; i++) yield { name: "PATH_ENDED" } as unknown as QueryEvent
    throw failure
  }

describe("drain", () => {
  it("keeps what arrived when the query then fails with an error the caller accepts", async () => {
    const drained = await Effect.runPromise(
      drain(
        "get",
        "k",
        5_000,
        events(3, new Error("Could not send correction")),
        0,
        (n) => n + 1,
        (error) => error instanceof Error && error.message === "Could not send correction",
      ),
    )
    expect(drained).toEqual({ state: 3, timedOut: false })
  })

  it("fails with DhtOperationFailed on any other error", async () => {
    const exit = await Effect.runPromiseExit(
      drain("get", "k", 5_000, events(3, new Error("stream reset")), 0, (n) => n + 1),
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("DHT get of k failed")
  })
})
