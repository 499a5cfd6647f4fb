import { execFile, spawnSync } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { defaultHostTools } from "../HostTools.js"
import { notExecutable, run } from "./command.js"

const tools = defaultHostTools()
const SRC = join(dirname(fileURLToPath(import.meta.url)), "..")
const PACKAGE = join(SRC, "..")
const TSX = join(PACKAGE, "node_modules/.bin/tsx")
// The script below lives outside the package: it names the package's effect by its path.
const EFFECT = join(PACKAGE, "node_modules/effect/dist/index.js")

/** Whether a process whose command line contains `marker` runs. */
const running = (marker: string) => spawnSync("pgrep", ["-f", marker]).status === 0

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 100; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe("notExecutable", () => {
  it("reads the program a wrapper could not start from its message", () => {
    expect(
      notExecutable("unshare: failed to execute nft: No such file or directory\n", "nft"),
    ).toBe("nft")
    expect(notExecutable("nsenter: nft: No such file or directory", "nft")).toBe("nft")
  })

  it("is undefined for other failures", () => {
    expect(notExecutable("Error: Could not process rule: Operation not supported", "nft")).toBe(
      undefined,
    )
  })
})

describe("run (from a worker thread)", () => {
  it.effect("returns what the program printed, without the final newline", () =>
    Effect.gen(function* () {
      const result = yield* run(tools, ["sh", "-c", "echo out; echo err >&2"])
      expect(result).toEqual({ stdout: "out", stderr: "err" })
    }),
  )

  it.effect("writes the input to the program's stdin, and closes it", () =>
    Effect.gen(function* () {
      const result = yield* run(tools, ["sh", "-c", "wc -c; cat"], { input: "0123456789" })
      expect(result.stdout.trim()).toBe("10")
      // Without input stdin is /dev/null: the program reads an end at once.
      expect((yield* run(tools, ["wc", "-c"])).stdout.trim()).toBe("0")
    }),
  )

  it.effect("a failing program is CommandFailed with its exit code and stderr", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(run(tools, ["sh", "-c", "echo bad input >&2; exit 3"]))
      expect(error._tag).toBe("CommandFailed")
      expect(error).toMatchObject({ exitCode: 3, stderr: "bad input\n" })
      expect(error.message).toBe("`sh -c echo bad input >&2; exit 3` failed (exit 3): bad input")
    }),
  )

  it.effect("a missing program is CommandNotFound, naming the PATH searched and the package", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        run({ ...tools, searchPath: "/nonexistent-bin" }, ["nft", "--version"]),
      )
      expect(error._tag).toBe("CommandNotFound")
      expect(error).toMatchObject({ command: "nft", searchPath: "/nonexistent-bin" })
      expect(error.message).toContain("apt-get install nftables")
    }),
  )

  it.effect("runs with the tools' PATH when they give one", () =>
    Effect.gen(function* () {
      const result = yield* run({ ...tools, searchPath: "/usr/bin:/bin" }, [
        "sh",
        "-c",
        'echo "$PATH"',
      ])
      expect(result.stdout).toBe("/usr/bin:/bin")
    }),
  )

  it.effect("a program over its time limit is killed and CommandTimedOut", () =>
    Effect.gen(function* () {
      const marker = `${30 + Math.random()}`
      const error = yield* Effect.flip(run(tools, ["sleep", marker], { timeoutMs: 200 }))
      expect(error._tag).toBe("CommandTimedOut")
      expect(running(`sleep ${marker}`)).toBe(false)
    }),
  )

  it.effect("interruption kills the program", () =>
    Effect.gen(function* () {
      const marker = `${30 + Math.random()}`
      const fiber = yield* Effect.forkChild(run(tools, ["sleep", marker]))
      yield* Effect.promise(() => until(() => running(`sleep ${marker}`), "the program to start"))
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => until(() => !running(`sleep ${marker}`), "the program to end"))
    }),
  )

  it.effect("many at once each get their own answer", () =>
    Effect.gen(function* () {
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => run(tools, ["sh", "-c", `echo ${i}`]),
        { concurrency: "unbounded" },
      )
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}`))
    }),
  )

  it("keeps a process alive while a command runs, and lets it exit right after", async () => {
    // A process with nothing else to do: it must wait for the command (the worker holds it), and
    // it must not wait out the idle worker's 10 s (the worker lets it go when idle).
    const dir = await mkdtemp(join(tmpdir(), "beemesh-netns-command-"))
    try {
      const script = join(dir, "one-command.mts")
      await writeFile(
        script,
        `import { Effect } from "${EFFECT}"
        import { defaultHostTools } from "${join(SRC, "HostTools.ts")}"
        import { run } from "${join(SRC, "internal/command.ts")}"
        const started = Date.now()
        const result = await Effect.runPromise(run(defaultHostTools(), ["sh", "-c", "sleep 0.5; echo done"]))
        console.log(result.stdout)
        process.on("exit", () => console.log(Date.now() - started < 5000 ? "prompt" : "late"))
        `,
      )
      const { stdout } = await promisify(execFile)(TSX, [script], {
        cwd: PACKAGE,
        timeout: 20_000,
      })
      expect(stdout.trim().split("\n")).toEqual(["done", "prompt"])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
