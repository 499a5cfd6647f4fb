import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { handlesSigterm, processHandlesSigterm } from "./Termination.js"

const status = (masks: { caught?: string; blocked?: string; ignored?: string }) =>
  [
    "Name:\tbusybox",
    "Pid:\t42",
    `SigBlk:\t${masks.blocked ?? "0000000000000000"}`,
    `SigIgn:\t${masks.ignored ?? "0000000000000000"}`,
    `SigCgt:\t${masks.caught ?? "0000000000000000"}`,
    "",
  ].join("\n")

describe("handlesSigterm", () => {
  it("a process with a SIGTERM handler (SigCgt bit 14) handles it", () => {
    expect(handlesSigterm(status({ caught: "0000000000004000" }))).toBe(true)
    expect(handlesSigterm(status({ caught: "00000001c0014a02" }))).toBe(true)
  })

  it("a process that blocks SIGTERM (to read it from a signalfd, as catatonit does) handles it", () => {
    expect(handlesSigterm(status({ blocked: "0000000000004000" }))).toBe(true)
  })

  it("a process that catches other signals only, or ignores SIGTERM, does not handle it", () => {
    // SIGPIPE (bit 12) and SIGCHLD (bit 16) caught, SIGTERM not
    expect(handlesSigterm(status({ caught: "0000000000011000" }))).toBe(false)
    expect(handlesSigterm(status({ ignored: "0000000000004000" }))).toBe(false)
    expect(handlesSigterm(status({}))).toBe(false)
  })

  it("text without the masks cannot be told", () => {
    expect(handlesSigterm("Name:\tx\nPid:\t1\n")).toBeUndefined()
    expect(handlesSigterm("SigCgt:\t0000000000000000\n")).toBeUndefined()
  })
})

describe("processHandlesSigterm", () => {
  it("tells a process with a SIGTERM handler from one without, and a gone one from both", async () => {
    const handler = spawn(
      process.execPath,
      [
        "-e",
        "process.on('SIGTERM', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000)",
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    )
    // coreutils sleep installs no handler
    const none = spawn("sleep", ["30"], { stdio: "ignore" })
    try {
      await new Promise((resolve) => handler.stdout.once("data", resolve))
      const deadline = Date.now() + 5000
      while (readFileSync(`/proc/${none.pid}/comm`, "utf8").trim() !== "sleep") {
        if (Date.now() > deadline) throw new Error("sleep did not start within 5 s")
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect(processHandlesSigterm(handler.pid ?? 0)).toBe(true)
      expect(processHandlesSigterm(none.pid ?? 0)).toBe(false)
    } finally {
      handler.kill("SIGKILL")
      none.kill("SIGKILL")
    }
    expect(processHandlesSigterm(0)).toBeUndefined()
    expect(processHandlesSigterm(5_000_001)).toBeUndefined()
  })
})
