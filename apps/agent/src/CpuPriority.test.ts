import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type CpuPriorityFiles, setSessionNice } from "./CpuPriority"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Stand-ins for the three /proc files. */
const files = (o: { autogroup?: string; enabled?: string; cgroup?: string }): CpuPriorityFiles => {
  const dir = mkdtempSync(join(tmpdir(), "beemesh-cpu-priority-"))
  dirs.push(dir)
  const at = (name: string, content: string | undefined) => {
    const path = join(dir, name)
    if (content !== undefined) writeFileSync(path, content)
    return path
  }
  return {
    autogroup: at("autogroup", o.autogroup),
    enabled: at("enabled", o.enabled),
    cgroup: at("cgroup", o.cgroup),
  }
}

describe("the agent's session nice", () => {
  it("is written to the session's autogroup in the root cgroup (cgroup v1 and v2)", () => {
    for (const cgroup of ["4:memory:/process_api/x\n1:cpu,cpuacct:/\n0::/\n", "0::/\n"]) {
      const f = files({ autogroup: "/autogroup-7 nice 0\n", enabled: "1\n", cgroup })
      expect(setSessionNice(-10, f)).toEqual({ _tag: "Set", nice: -10 })
      expect(readFileSync(f.autogroup, "utf8")).toBe("-10")
    }
  })

  it("is left alone where autogroups do not apply, saying why", () => {
    const cases: ReadonlyArray<[Parameters<typeof files>[0], RegExp]> = [
      [{ enabled: "1", cgroup: "0::/" }, /does not group tasks by session/],
      [{ autogroup: "x", enabled: "0", cgroup: "0::/" }, /sched_autogroup_enabled=0/],
      [
        { autogroup: "x", enabled: "1", cgroup: "0::/system.slice/beemesh-agent.service\n" },
        /cgroup \/system\.slice\/beemesh-agent\.service.*CPUWeight=/,
      ],
      [{ autogroup: "x", enabled: "1", cgroup: "1:cpu:/agents\n0::/\n" }, /cgroup \/agents/],
    ]
    for (const [given, reason] of cases) {
      const f = files(given)
      const outcome = setSessionNice(-10, f)
      expect(outcome._tag).toBe("Unchanged")
      expect(outcome._tag === "Unchanged" && outcome.reason).toMatch(reason)
      if (given.autogroup !== undefined) expect(readFileSync(f.autogroup, "utf8")).toBe("x")
    }
    expect(setSessionNice(undefined, files({ autogroup: "x" }))._tag).toBe("Unchanged")
  })

  it("an agent in the kernel's root group (its autogroup file empty) is told to start in a session", () => {
    const f = files({ autogroup: "", enabled: "1", cgroup: "1:cpu,cpuacct:/\n0::/\n" })
    const outcome = setSessionNice(-10, f)
    expect(outcome).toMatchObject({ _tag: "Refused", nice: -10 })
    expect(outcome._tag === "Refused" && outcome.reason).toMatch(/no session of its own.*setsid/)
    // Nothing written: the kernel refuses it (EINVAL), and no thread nice is set instead.
    expect(readFileSync(f.autogroup, "utf8")).toBe("")
  })

  it("a write the kernel refuses is reported, not thrown", () => {
    const f = files({ enabled: "1", cgroup: "0::/" })
    // A /proc file that takes no writes, even from root.
    const outcome = setSessionNice(-5, { ...f, autogroup: "/proc/self/stat" })
    expect(outcome).toMatchObject({ _tag: "Refused", nice: -5 })
  })
})
