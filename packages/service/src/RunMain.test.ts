import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { Data, Deferred, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { ExitCode } from "./ExitCode.js"
import { outcomeOf } from "./internal/outcome.js"
import { type ProcessPort, runMain } from "./RunMain.js"

class Refused extends Data.TaggedError("Refused")<{ readonly who: string }> {
  override get message() {
    return `refused by ${this.who}`
  }
}

/** A process stand-in: records stderr and the exit code, and sends signals on demand. */
const fakeProcess = () => {
  const handlers = new Map<string, () => void>()
  let stderr = ""
  let resolveExit: (code: number) => void = () => {}
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve
  })
  const port: ProcessPort = {
    onSignal: (signal, handler) => handlers.set(signal, handler),
    stderr: (text) => {
      stderr += text
    },
    exit: (code) => resolveExit(code),
  }
  return { port, exited, stderr: () => stderr, signal: (s: string) => handlers.get(s)?.() }
}

describe("outcomeOf", () => {
  it("is the program's number on success, 0 when it returns nothing", () => {
    expect(outcomeOf(Exit.succeed(3))).toEqual({ code: 3 })
    expect(outcomeOf(Exit.succeed(undefined))).toEqual({ code: ExitCode.ok })
  })

  it("is 1 with the error's message for a typed failure, or the code the app chooses", () => {
    const exit = Exit.fail(new Refused({ who: "the agent" }))
    expect(outcomeOf(exit)).toEqual({ code: 1, message: "refused by the agent" })
    expect(outcomeOf(exit, () => ExitCode.usage)).toEqual({
      code: 2,
      message: "refused by the agent",
    })
  })

  it("is 1 with the cause for a defect", () => {
    const outcome = outcomeOf(Exit.die(new Error("invariant broken")))
    expect(outcome.code).toBe(1)
    expect(outcome.message).toContain("invariant broken")
  })

  it("is 0 for a program stopped by interruption", async () => {
    const exit = await Effect.runPromiseExit(Effect.interrupt)
    expect(outcomeOf(exit)).toEqual({ code: 0 })
  })
})

describe("runMain", () => {
  it("SIGTERM closes the program's scope, then the process exits 0", async () => {
    const fake = fakeProcess()
    const released = Effect.runSync(Deferred.make<void>())
    const started = Effect.runSync(Deferred.make<void>())
    runMain(
      Effect.gen(function* () {
        yield* Effect.addFinalizer(() => Deferred.succeed(released, undefined))
        yield* Deferred.succeed(started, undefined)
        return yield* Effect.never
      }),
      { name: "test" },
      fake.port,
    )
    await Effect.runPromise(Deferred.await(started))
    fake.signal("SIGTERM")
    fake.signal("SIGINT") // a second signal is ignored
    expect(await fake.exited).toBe(0)
    expect(Effect.runSync(Deferred.isDone(released))).toBe(true)
    expect(fake.stderr()).toBe("test: SIGTERM, shutting down\n")
  })

  it("exits with the failure's code and names the failure on stderr", async () => {
    const fake = fakeProcess()
    runMain(
      Effect.fail(new Refused({ who: "the agent" })),
      { name: "test", exitCode: (e) => (e instanceof Refused ? ExitCode.usage : 1) },
      fake.port,
    )
    expect(await fake.exited).toBe(2)
    expect(fake.stderr()).toBe("test: refused by the agent\n")
  })

  it("exits 1 by the deadline when a release step hangs after a signal", async () => {
    const fake = fakeProcess()
    const started = Effect.runSync(Deferred.make<void>())
    runMain(
      Effect.gen(function* () {
        yield* Effect.addFinalizer(() => Effect.never)
        yield* Deferred.succeed(started, undefined)
        return yield* Effect.never
      }),
      { name: "test", hardExitMs: 50 },
      fake.port,
    )
    await Effect.runPromise(Deferred.await(started))
    fake.signal("SIGINT")
    expect(await fake.exited).toBe(1)
    expect(fake.stderr()).toContain("shutdown did not finish within 50 ms")
  })
})

const tsx = createRequire(import.meta.url).resolve("tsx")
const fixture = fileURLToPath(new URL("../test/fixtures/signalled.ts", import.meta.url))

/** Runs the fixture as a real process; resolves with its exit code and output. */
const runFixture = (args: ReadonlyArray<string>, onReady?: (kill: () => void) => void) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, fixture, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the fixture did not exit within 15 s:\n${output}`))
    }, 15_000)
    const collect = (chunk: Buffer) => {
      output += String(chunk)
      if (output.includes("ready\n")) onReady?.(() => child.kill("SIGTERM"))
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

describe("runMain in a real process", () => {
  it("a real SIGTERM releases the resource and exits 0", async () => {
    let sent = false
    const { code, output } = await runFixture([], (kill) => {
      if (!sent) kill()
      sent = true
    })
    expect(code).toBe(0)
    expect(output).toContain("fixture: SIGTERM, shutting down")
    expect(output).toContain("released")
  })

  it("a usage error exits 2 with its message", async () => {
    const { code, output } = await runFixture(["fail"])
    expect(code).toBe(2)
    expect(output).toContain("fixture: bad usage: an unknown flag")
  })
})
