import type { ComponentLogger, Logger } from "@libp2p/interface"
import { defaultLogger, disable, enable } from "@libp2p/logger"
import { afterEach, describe, expect, it } from "vitest"
import { quietScopes } from "./quietScopes.js"

/** libp2p's own loggers, with every namespace built recorded. */
const recording = () => {
  const built: Array<string> = []
  const base = defaultLogger()
  const logger: ComponentLogger = {
    forComponent: (name: string): Logger => {
      built.push(name)
      return base.forComponent(name)
    },
  }
  return { built, logger: quietScopes(logger) }
}

describe("quietScopes", () => {
  afterEach(() => disable())

  it("a scope nothing would be written for builds no logger, down to its own scopes", () => {
    const { built, logger } = recording()
    const stream = logger.forComponent("libp2p:yamux").newScope("outbound:1")
    const select = stream.newScope("mss:select")
    expect(built).toEqual(["libp2p:yamux"])
    expect([stream.enabled, select.enabled]).toEqual([false, false])
    // Callable like any logger, writing nothing.
    stream("opened %s", "x")
    select.error("failed")
    select.trace("line")
  })

  it("a scope logging covers when it is opened is libp2p's own, its scopes too", () => {
    enable("libp2p:yamux:*")
    const { built, logger } = recording()
    const stream = logger.forComponent("libp2p:yamux").newScope("outbound:1")
    const select = stream.newScope("mss:select")
    expect(built).toEqual([
      "libp2p:yamux",
      "libp2p:yamux:outbound:1",
      "libp2p:yamux:outbound:1:mss:select",
    ])
    expect([stream.enabled, select.enabled]).toEqual([true, true])
  })

  it("errors alone enabled are enough for a scope to be real", () => {
    enable("*:error")
    const { built, logger } = recording()
    logger.forComponent("libp2p:yamux").newScope("outbound:1")
    expect(built).toEqual(["libp2p:yamux", "libp2p:yamux:outbound:1"])
  })
})
