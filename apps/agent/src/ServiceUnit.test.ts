import { readFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { parseCommand } from "./Config"
import { AGENT_NODE_OPTIONS } from "./NodeOptions"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..")
const UNIT = join(ROOT, "tooling/systemd/beemesh-agent.service")
const EXAMPLE = join(ROOT, "apps/agent/agent.example.yaml")

/** key → values of a systemd unit file, per section. */
const parseUnit = (text: string) => {
  const sections: Record<string, Record<string, Array<string>>> = {}
  let section = ""
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const header = /^\[(\w+)\]$/.exec(line)
    if (header !== null) {
      section = header[1]!
      sections[section] = {}
      continue
    }
    const eq = line.indexOf("=")
    expect(eq, `line "${line}" is key=value`).toBeGreaterThan(0)
    const entries = sections[section]!
    const key = line.slice(0, eq)
    entries[key] = [...(entries[key] ?? []), line.slice(eq + 1)]
  }
  return sections
}

describe("the systemd unit and the example configuration", () => {
  it("runs the agent with the example configuration, which the agent accepts", async () => {
    const unit = parseUnit(await readFile(UNIT, "utf8"))
    const [node, bundle, ...argv] = unit.Service!.ExecStart![0]!.split(" ")
    expect([node, bundle]).toEqual([
      "/usr/local/lib/beemesh/node",
      "/usr/local/lib/beemesh/agent.mjs",
    ])
    const example = await readFile(EXAMPLE, "utf8")
    const command = await Effect.runPromise(
      parseCommand({
        argv,
        env: {},
        readFile: async (path) => {
          expect(path).toBe("/etc/beemesh/agent.yaml")
          return example
        },
        isRoot: true,
        home: "/root",
      }),
    )
    expect(command).toMatchObject({
      _tag: "Run",
      config: {
        apiHost: "127.0.0.1",
        apiPort: 8080,
        dataDir: "/var/lib/beemesh",
        logFormat: "text",
      },
    })
  })

  it("writes the bundle's compile cache with `--version` before the agent starts", async () => {
    const unit = parseUnit(await readFile(UNIT, "utf8"))
    const [node, bundle, ...argv] = unit.Service!.ExecStart![0]!.split(" ")
    expect(unit.Service!.ExecStartPre).toEqual([`${node} ${bundle} --version`])
    expect(argv[0]).toBe("run")
    const version = await Effect.runPromise(
      parseCommand({
        argv: ["--version"],
        env: {},
        readFile: async () => "",
        isRoot: true,
        home: "/root",
      }),
    )
    expect(version._tag).toBe("Version")
  })

  it("stops only the agent (pods outlive it), restarts it unless its configuration is bad", async () => {
    const { Service, Install, Unit } = parseUnit(await readFile(UNIT, "utf8"))
    expect(Service).toMatchObject({
      KillMode: ["process"],
      KillSignal: ["SIGTERM"],
      Restart: ["on-failure"],
      RestartPreventExitStatus: ["2"],
      StandardOutput: ["journal"],
    })
    expect(Service!.Environment![0]).toContain("/usr/sbin")
    expect(Unit!.After).toEqual(["network-online.target"])
    expect(Install!.WantedBy).toEqual(["multi-user.target"])
  })
  it("starts Node with the agent's V8 options (NodeOptions.ts) in NODE_OPTIONS", async () => {
    const unit = parseUnit(await readFile(UNIT, "utf8"))
    const nodeOptions = (unit.Service!.Environment ?? [])
      .filter((value) => value.startsWith("NODE_OPTIONS="))
      .map((value) => value.slice("NODE_OPTIONS=".length))
    expect(nodeOptions).toEqual([AGENT_NODE_OPTIONS.join(" ")])
  })
})
