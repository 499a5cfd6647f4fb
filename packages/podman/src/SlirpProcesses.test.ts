import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { Effect, Logger } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type PodStop, reapSlirps } from "./PodStop.js"
import { findSlirpProcesses, slirpProcessesFor, slirpStillRuns } from "./SlirpProcesses.js"

// A stand-in for a pod's slirp4netns: a process whose command line reads like one (its argv[0]
// ends in slirp4netns and it names a namespace path), so the walk finds it as it finds the real
// one. The real ones are covered by the integration tests (lifecycle, termination).
const started: Array<ChildProcess> = []
const standIn = async (netns: string) => {
  const script =
    "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 60_000); console.log('ready')"
  const child = spawn(process.execPath, ["-e", script, "--", "--netns-type=path", netns, "tap0"], {
    argv0: "/usr/local/test/slirp4netns",
    stdio: ["ignore", "pipe", "inherit"],
  })
  started.push(child)
  // Its SIGTERM handler is in place once it says so.
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve())
    child.once("exit", (code) =>
      reject(new Error(`the stand-in exited (${code}) before it was ready`)),
    )
  })
  return child
}
const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", resolve),
  )

afterEach(async () => {
  for (const child of started.splice(0)) {
    child.kill("SIGKILL")
    await exited(child)
  }
})

const netnsPath = () =>
  `/run/netns/beemesh-test-${process.pid}-${Math.random().toString(36).slice(2)}`

describe("findSlirpProcesses", () => {
  it("finds the slirp4netns naming a namespace, with its arguments, as the blocking walk does", async () => {
    const netns = netnsPath()
    const child = await standIn(netns)
    const found = await Effect.runPromise(findSlirpProcesses(netns))
    expect(found).toEqual([
      {
        pid: child.pid,
        args: [
          "/usr/local/test/slirp4netns",
          "-e",
          expect.any(String),
          "--",
          "--netns-type=path",
          netns,
          "tap0",
        ],
      },
    ])
    expect(slirpProcessesFor(netns)).toEqual(found)
    // The empty needle matches every slirp4netns, this one among them.
    expect((await Effect.runPromise(findSlirpProcesses())).map((p) => p.pid)).toContain(child.pid)
    expect(await Effect.runPromise(findSlirpProcesses(netnsPath()))).toEqual([])
  })

  it("lets the event loop run while it walks /proc", async () => {
    const processes = readdirSync("/proc").filter((e) => /^\d+$/.test(e)).length
    expect(processes, "the test needs more processes than one turn reads").toBeGreaterThan(64)
    let turns = 0
    let walking = true
    const count = () => {
      turns += 1
      if (walking) setImmediate(count)
    }
    setImmediate(count)
    await Effect.runPromise(findSlirpProcesses())
    walking = false
    // One turn of other work at least between every 64 processes read (fewer only if processes
    // exited during the walk, hence the margin of one).
    expect(turns).toBeGreaterThanOrEqual(Math.floor(processes / 64) - 1)
  })

  it("slirpStillRuns: true while the process runs and names the namespace, false once it exited", async () => {
    const netns = netnsPath()
    const child = await standIn(netns)
    const [slirp] = await Effect.runPromise(findSlirpProcesses(netns))
    expect(slirp).toBeDefined()
    expect(slirpStillRuns(slirp!, netns)).toBe(true)
    expect(slirpStillRuns(slirp!, netnsPath())).toBe(false)
    child.kill("SIGKILL")
    await exited(child)
    expect(slirpStillRuns(slirp!, netns)).toBe(false)
  })
})

describe("reapSlirps", () => {
  const stopOf = (name: string, sandbox: string): PodStop => ({
    name,
    sandbox,
    terminating: [],
    refused: false,
    timeoutSeconds: undefined,
  })
  const reap = (stops: ReadonlyArray<PodStop>) => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ message }) => {
      warnings.push([message].flat().map(String).join(" "))
    })
    return Effect.runPromise(reapSlirps(stops).pipe(Effect.provide(Logger.layer([logger])))).then(
      () => warnings,
    )
  }

  it("kills a slirp4netns that outlives its pod, and says so", async () => {
    const netns = netnsPath()
    const child = await standIn(netns)
    const warnings = await reap([stopOf("web-1", netns)])
    await exited(child)
    expect(child.signalCode).toBe("SIGKILL")
    expect(warnings).toEqual([
      `pod web-1: slirp4netns (pid ${child.pid}) outlived its pod; killing it`,
    ])
  })

  it("leaves one that exits on its own, and pods without one, alone", async () => {
    const netns = netnsPath()
    const child = await standIn(netns)
    setTimeout(() => child.kill("SIGTERM"), 300)
    const warnings = await reap([stopOf("web-1", netns), stopOf("web-2", netnsPath())])
    await exited(child)
    expect(child.exitCode).toBe(0)
    expect(warnings).toEqual([])
  })

  it("looks only at the processes a stop carries (stopPods's walk), walking /proc for those without", async () => {
    const [carried, uncarried, unlisted] = [netnsPath(), netnsPath(), netnsPath()]
    const [first, second, third] = await Promise.all([
      standIn(carried),
      standIn(uncarried),
      standIn(unlisted),
    ])
    const known = { pid: first.pid ?? 0, args: ["/usr/local/test/slirp4netns", carried] }
    const warnings = await reap([
      { ...stopOf("web-1", carried), slirps: [known] },
      stopOf("web-2", uncarried),
      // Carried as none: this pod's stand-in is not looked for.
      { ...stopOf("web-3", unlisted), slirps: [] },
    ])
    await Promise.all([exited(first), exited(second)])
    expect([first.signalCode, second.signalCode]).toEqual(["SIGKILL", "SIGKILL"])
    expect(third.exitCode === null && third.signalCode === null).toBe(true)
    expect(warnings.sort()).toEqual([
      `pod web-1: slirp4netns (pid ${first.pid}) outlived its pod; killing it`,
      `pod web-2: slirp4netns (pid ${second.pid}) outlived its pod; killing it`,
    ])
  })
})
