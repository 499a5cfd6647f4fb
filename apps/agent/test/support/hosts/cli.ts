/**
 * Simulated hosts from the command line (root):
 *   tsx test/support/hosts/cli.ts up [--hosts N] [--run ID]   start N hosts, kept after exit
 *   tsx test/support/hosts/cli.ts down [--run ID]             remove that run
 *   tsx test/support/hosts/cli.ts sweep [--all]               remove leftovers (--all: every run)
 */
import { join } from "node:path"
import { parseArgs } from "node:util"
import { SimulatedHosts } from "./SimulatedHosts"
import { DEFAULT_BASE_DIR, sweep, sweepRun } from "./Sweeper"

const SIDECAR_IMAGE = "localhost/beemesh/sidecar:0.1.0"

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    hosts: { type: "string", default: "3" },
    run: { type: "string", default: "cli" },
    all: { type: "boolean", default: false },
    image: { type: "string", multiple: true, default: [] },
  },
})

const main = async () => {
  switch (positionals[0]) {
    case "up": {
      const count = Number(values.hosts)
      if (!Number.isInteger(count) || count < 1 || count > 50)
        throw new Error(`--hosts ${values.hosts}: give a whole number from 1 to 50`)
      const hosts = await SimulatedHosts.create({
        count,
        runId: values.run,
        keep: true,
        images: [SIDECAR_IMAGE, ...values.image],
      })
      for (const host of hosts.hosts) {
        console.log(
          `${host.name} ${host.address} agent ${host.peerId} api ${host.agentPaths.apiSocket} (netns ${host.netns})`,
        )
      }
      return
    }
    case "down":
      await sweepRun(join(DEFAULT_BASE_DIR, values.run))
      console.log(`removed run ${values.run}`)
      return
    case "sweep":
      for (const line of await sweep({ all: values.all })) console.log(`removed ${line}`)
      return
    default:
      throw new Error(
        "usage: cli.ts up [--hosts N] [--run ID] [--image IMAGE…] | down [--run ID] | sweep [--all]",
      )
  }
}

main().catch((error: Error) => {
  console.error(`hosts: ${error.message}`)
  process.exit(1)
})
