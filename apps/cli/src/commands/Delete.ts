/** `beemesh delete workload NAME` or `beemesh delete -f FILE`: remove workloads. */
import { Effect } from "effect"
import { workloadPath } from "../Api"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import type { Io } from "../Io"
import { readManifests, workloadNames } from "../Manifests"
import { splitName } from "./Describe"
import { kindOf } from "./Get"

export const remove = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const files = o.list("filename")
    let targets: ReadonlyArray<{ namespace: string; name: string }>
    if (files.length > 0) {
      if (invocation.positionals.length > 0)
        return yield* o.usage("give either -f or a kind and names, not both")
      const names = yield* workloadNames(yield* readManifests(files, io.readStdin))
      targets = names.map((n) => splitName(n, undefined))
    } else {
      const [word, ...names] = invocation.positionals
      if (kindOf(word) !== "workloads" || names.length === 0) {
        return yield* o.usage(
          "delete needs `workload NAME…` or -f FILE (pods belong to workloads: delete the workload)",
        )
      }
      targets = names.map((n) => splitName(n, o.string("namespace")))
    }
    for (const t of targets) {
      yield* client.json("DELETE", workloadPath(t.namespace, t.name))
      io.out(`workload ${t.namespace}/${t.name} deleted\n`)
    }
    return 0
  })
