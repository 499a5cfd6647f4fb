/** `beemesh logs POD [-c C] [-f] [--tail N]`: a container's output, followed with -f. */
import { Effect } from "effect"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import type { Io } from "../Io"

export const logs = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const [pod, extra] = invocation.positionals
    if (pod === undefined)
      return yield* o.usage("logs needs a pod name (`beemesh get pods` lists them)")
    if (extra !== undefined) return yield* o.usage(`unexpected argument "${extra}"`)
    const query = new URLSearchParams()
    const container = o.string("container")
    if (container !== undefined) query.set("container", container)
    if (o.string("tail") !== undefined) query.set("tail", String(yield* o.number("tail", 0)))
    if (o.flag("follow")) query.set("follow", "true")
    const path = `/v1/pods/${encodeURIComponent(pod)}/logs${query.size > 0 ? `?${query}` : ""}`
    const response = yield* client.stream(path)
    if (response.body !== null) yield* Effect.promise(() => io.pipeOut(response.body!))
    return 0
  })
