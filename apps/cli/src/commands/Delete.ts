/**
 * `beemesh delete workload NAME` or `beemesh delete -f FILE`: remove workloads, and with -f the
 * ConfigMaps, Secrets and Services of the files too (each through its own route).
 */
import { Effect } from "effect"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import type { Io } from "../Io"
import {
  deletePath,
  type ManifestObject,
  manifestObjects,
  OBJECT_PATHS,
  readManifests,
} from "../Manifests"
import { splitName } from "./Describe"
import { kindOf } from "./Get"

export const remove = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const files = o.list("filename")
    let targets: ReadonlyArray<ManifestObject>
    if (files.length > 0) {
      if (invocation.positionals.length > 0)
        return yield* o.usage("give either -f or a kind and names, not both")
      targets = yield* manifestObjects(yield* readManifests(files, io.readStdin))
    } else {
      const [word, ...names] = invocation.positionals
      if (kindOf(word) !== "workloads" || names.length === 0) {
        return yield* o.usage(
          "delete needs `workload NAME…` or -f FILE (pods belong to workloads: delete the workload)",
        )
      }
      targets = names.map((n) => ({ kind: "workload", ...splitName(n, o.string("namespace")) }))
    }
    for (const t of targets) {
      yield* client.json("DELETE", deletePath(t))
      const what = Object.hasOwn(OBJECT_PATHS, t.kind) ? t.kind : "workload"
      io.out(`${what} ${t.namespace}/${t.name} deleted\n`)
    }
    return 0
  })
