/** `beemesh describe workload|pod|service NAME`: one object in detail, with recent events. */
import { Effect } from "effect"
import { stringify } from "yaml"
import { type ReplicaStatus, type ServiceView, type WorkloadStatus, workloadPath } from "../Api"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import { AgentFailed } from "../Errors"
import type { Io } from "../Io"
import { renderData, renderTable } from "../Output"
import { kindOf } from "./Get"

/** NAMESPACE/NAME, or NAME in the -n namespace (default "default"). */
export const splitName = (name: string, namespace: string | undefined) => {
  const slash = name.indexOf("/")
  return slash < 0
    ? { namespace: namespace ?? "default", name }
    : { namespace: name.slice(0, slash), name: name.slice(slash + 1) }
}

const eventLines = (events: ReadonlyArray<Record<string, unknown>> | undefined) => {
  if (events === undefined) return "Events: (this agent does not report events)\n"
  if (events.length === 0) return "Events: none\n"
  return `Events:\n${events
    .slice(-20)
    .map(
      (e) =>
        `  ${Object.entries(e)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ")}`,
    )
    .join("\n")}\n`
}

/** "Last State" as kubectl shows it: the exit code, when, and the last lines the container wrote. */
export const lastStateLines = (p: ReplicaStatus, indent = "") => {
  const t = p.lastTermination
  if (t === undefined) return ""
  return `${indent}Last State: container ${t.container} exited with code ${t.exitCode} at ${t.at}${
    p.restartAt === undefined ? "" : `; restarting at ${p.restartAt}`
  }\n${t.logTail.map((line) => `${indent}  | ${line}\n`).join("")}`
}

/** The workload's events, or else its replicas' events merged in time order (each naming its pod). */
const workloadEvents = (w: WorkloadStatus) => {
  if (w.events !== undefined || !w.pods.some((p) => p.events !== undefined)) return w.events
  return w.pods
    .flatMap((p) => (p.events ?? []).map((e): Record<string, unknown> => ({ pod: p.pod, ...e })))
    .sort((a, b) => String(a.at).localeCompare(String(b.at)))
}

export const describeWorkload = (w: WorkloadStatus) =>
  `Name:       ${w.name}
Namespace:  ${w.namespace}
Kind:       ${w.kind}
Replicas:   ${w.ready}/${w.replicas} ready
Services:   ${w.services.map((s) => `${s.name}=${s.port}`).join(", ") || "none"}
Pods:
${renderTable(
  ["  POD", "PHASE", "RESTARTS", "HOST-PORT", "MESSAGE"],
  w.pods.map((p) => [
    `  ${p.pod}`,
    p.phase,
    String(p.restarts),
    p.hostPort === undefined ? "-" : String(p.hostPort),
    p.message ?? "",
  ]),
)}${w.pods
  .filter((p) => p.lastTermination !== undefined)
  .map((p) => `  ${p.pod}:\n${lastStateLines(p, "    ")}`)
  .join("")}${eventLines(workloadEvents(w))}`

export const describe = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const [word, rawName, extra] = invocation.positionals
    const kind = kindOf(word)
    if (kind === undefined || kind === "peers" || rawName === undefined) {
      return yield* o.usage("describe needs a kind (workload, pod or service) and a name")
    }
    if (extra !== undefined) return yield* o.usage(`unexpected argument "${extra}"`)
    const format = yield* o.output()
    const { namespace, name } = splitName(rawName, o.string("namespace"))
    const print = (data: unknown, text: () => string) =>
      io.out(format === "table" ? text() : renderData(format, data))

    if (kind === "workloads") {
      const w = yield* client.json<WorkloadStatus>("GET", workloadPath(namespace, name))
      print(w, () => describeWorkload(w))
      return 0
    }
    if (kind === "pods") {
      const { workloads } = yield* client.json<{ workloads: ReadonlyArray<WorkloadStatus> }>(
        "GET",
        "/v1/workloads",
      )
      const owner = workloads.find((w) => w.pods.some((p) => p.pod === rawName))
      const pod = owner?.pods.find((p) => p.pod === rawName)
      if (owner === undefined || pod === undefined) {
        return yield* new AgentFailed({
          status: 404,
          error: "PodNotFound",
          reason: `no pod ${rawName} on this agent (\`beemesh get pods\` lists them)`,
        })
      }
      const events =
        pod.events ??
        owner.events?.filter(
          (e) => JSON.stringify(e).includes(pod.pod) || JSON.stringify(e).includes(`"${pod.name}"`),
        )
      print(
        { namespace: owner.namespace, workload: owner.name, ...pod },
        () =>
          `${stringify({ pod: pod.pod, namespace: owner.namespace, workload: owner.name, replica: pod.name, phase: pod.phase, restarts: pod.restarts, hostPort: pod.hostPort ?? null, message: pod.message ?? null })}${lastStateLines(pod)}Containers: \`beemesh logs ${pod.pod} [-c sidecar]\`\n${eventLines(events)}`,
      )
      return 0
    }
    const { services } = yield* client.json<{ services: ReadonlyArray<ServiceView> }>(
      "GET",
      "/v1/services",
    )
    const service = services.find((s) => s.namespace === namespace && s.name === name)
    if (service === undefined) {
      return yield* new AgentFailed({
        status: 404,
        error: "ServiceNotFound",
        reason: `no service ${namespace}/${name} among this agent's workloads (\`beemesh get services\` lists them)`,
      })
    }
    print(
      service,
      () =>
        `Name:       ${service.name}\nNamespace:  ${service.namespace}\nOffered by: ${service.offeredBy.map((x) => `${x.workload} (port ${x.port})`).join(", ")}\nProviders:\n${renderTable(
          ["  POD", "WORKLOAD", "PEER", "ADDRESSES"],
          service.providers.map((p) => [
            `  ${p.pod}`,
            p.workload,
            p.peerId,
            p.multiaddrs.join(","),
          ]),
        )}${service.error === undefined ? "" : `Error: ${service.error}\n`}`,
    )
    return 0
  })
