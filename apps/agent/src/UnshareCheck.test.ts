import { NftUnavailable } from "@beemesh/netns"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { renderReport } from "./Doctor"
import { checkUnshare, classifyUnshare, UNSHARE_ARGV } from "./UnshareCheck"

const exited = (exitCode: number | undefined, output = "") => ({
  exitCode,
  timedOut: false,
  output,
})

describe("the podman unshare check (rootless doctor)", () => {
  it("passes when the command exits 0", () => {
    expect(classifyUnshare(exited(0), "alice")).toEqual({
      name: "podman-unshare",
      ok: true,
      detail: "alice enters its Podman's user namespace (rootless volumes)",
    })
  })

  it.each([
    [
      'Error: cannot set up namespace using "/usr/bin/newuidmap": exit status 1\nnewuidmap: write to uid_map failed: Operation not permitted',
      /apt-get install uidmap/,
    ],
    [
      'Error: cannot find UID/GID for user alice: no subuid ranges found for user "alice" in /etc/subuid',
      /usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice.*podman system migrate/,
    ],
    [
      "Error: error creating tmpdir: mkdir /run/user/1000: permission denied; XDG_RUNTIME_DIR is not owned by the current user",
      /XDG_RUNTIME_DIR to a directory alice owns/,
    ],
    [
      "Error: user namespaces are not enabled in /proc/sys/user/max_user_namespaces",
      /sysctl user\.max_user_namespaces/,
    ],
    ["Error: something nobody has seen before", /run `podman unshare true` as alice to see why/],
  ])("names the fix for what Podman said: %s", (stderr, hint) => {
    const check = classifyUnshare(exited(125, `${stderr}\n`), "alice")
    expect(check.ok).toBe(false)
    expect(check.detail).toBe(`\`podman unshare true\` exited with code 125: ${stderr}`)
    expect(check.hint).toMatch(hint)
  })

  it("a command that could not start or did not finish fails with its own fix", () => {
    const missing = classifyUnshare(exited(undefined), "alice")
    expect(missing).toMatchObject({ ok: false, detail: "could not run `podman unshare true`" })
    expect(missing.hint).toMatch(/install Podman/)
    const hung = classifyUnshare({ exitCode: undefined, timedOut: true, output: "" }, "alice")
    expect(hung).toMatchObject({
      ok: false,
      detail: "`podman unshare true` did not finish within 30s",
    })
  })

  it("keeps only the tail of a long output", () => {
    const check = classifyUnshare(exited(1, `${"x".repeat(1000)}end`), "alice")
    expect(check.detail.length).toBeLessThan(400)
    expect(check.detail.endsWith("end")).toBe(true)
  })

  it("runs podman unshare true, bounded, and the report shows a failure with its fix", async () => {
    const ran: Array<ReadonlyArray<string>> = []
    const check = await Effect.runPromise(
      checkUnshare(
        (argv, timeoutMs) =>
          Effect.sync(() => {
            ran.push([...argv, String(timeoutMs)])
            return exited(1, "newuidmap: not found")
          }),
        "alice",
      ),
    )
    expect(ran).toEqual([[...UNSHARE_ARGV, "30000"]])
    expect(renderReport({ ok: false, checks: [check] })).toBe(
      [
        "host validation: FAILED",
        `  ✗ podman-unshare: \`podman unshare true\` exited with code 1: newuidmap: not found — fix: ${check.hint}`,
      ].join("\n"),
    )
  })
})

describe("the doctor's report", () => {
  it("names a fix once, also when the failed check's detail already says it", () => {
    const error = new NftUnavailable({
      reason: "nft is not on PATH",
      hint: "apt-get install nftables",
    })
    const report = renderReport({
      ok: false,
      checks: [
        { name: "options", ok: true, detail: "options valid" },
        { name: "nftables", ok: false, detail: error.message, error },
      ],
    })
    expect(report).toBe(
      [
        "host validation: FAILED",
        "  ✓ options: options valid",
        "  ✗ nftables: nftables unusable: nft is not on PATH; fix: apt-get install nftables",
      ].join("\n"),
    )
  })
})
