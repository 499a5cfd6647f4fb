/**
 * `GET /v1/pods/:pod/logs?container=&tail=&follow=true` (operator): a replica's container output
 * from Podman's logs API. Not `exec`: app containers may run in their own user namespace, where
 * exec fails, and logs must work for a container that has exited.
 */
import { containerName, LABEL_ROLE, type PodmanClientShape } from "@beemesh/podman"
import type { Effect, Exit } from "effect"
import { Stream } from "effect"
import { Hono } from "hono"
import type { WorkloadManager } from "../Workloads"
import { settle } from "./Api"
import { ApiError } from "./ErrorStatus"
import { operatorOnly } from "./OperatorAuth"

export interface LogsRoutesOptions {
  readonly operatorToken: string
  readonly workloads: WorkloadManager["Service"]
  readonly podman: Pick<PodmanClientShape, "containers">
  readonly runExit: <A, E>(effect: Effect.Effect<A, E>) => Promise<Exit.Exit<A, E>>
  /** Turns a followed stream into a response body with the agent's services. */
  readonly toReadable: (stream: Stream.Stream<Uint8Array>) => ReadableStream<Uint8Array>
}

export interface PodContainer {
  readonly name: string
  readonly role: string
}

/** The container to read: the one asked for, else the pod's only app container. */
export const chooseContainer = (
  pod: string,
  containers: ReadonlyArray<PodContainer>,
  asked: string | undefined,
): string => {
  const names = containers.map((c) => c.name)
  if (asked !== undefined) {
    if (names.includes(asked)) return asked
    throw new ApiError(
      404,
      "ContainerNotFound",
      `pod ${pod} has no container "${asked}"; its containers: ${names.join(", ")}`,
    )
  }
  const apps = containers.filter((c) => c.role === "app")
  if (apps.length === 1) return apps[0]!.name
  throw new ApiError(
    400,
    "ContainerRequired",
    `pod ${pod} has ${apps.length} app containers; name one with ?container= (-c): ${names.join(", ")}`,
  )
}

const parseTail = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  if (!/^\d{1,7}$/.test(text)) {
    throw new ApiError(400, "BadRequest", `tail must be a number of lines, not "${text}"`)
  }
  return Number(text)
}

export const logsRoutes = (options: LogsRoutesOptions) => {
  const run = async <A, E extends { readonly _tag: string; readonly message: string }>(
    effect: Effect.Effect<A, E>,
  ): Promise<A> => settle(await options.runExit(effect))
  const encoder = new TextEncoder()

  return new Hono().get("/:pod/logs", operatorOnly(options.operatorToken), async (c) => {
    const pod = c.req.param("pod")
    const tail = parseTail(c.req.query("tail"))
    const follow = c.req.query("follow") === "true" || c.req.query("follow") === "1"
    const workloads = await run(options.workloads.list())
    const replica = workloads.flatMap((w) => w.pods).find((p) => p.pod === pod)
    if (replica === undefined) {
      throw new ApiError(
        404,
        "PodNotFound",
        `pod ${pod} is not a replica of this agent (GET /v1/workloads or \`beemesh get pods\` lists them)`,
      )
    }
    // A claimed standby pod has another name in Podman.
    const podman = replica.podmanPod ?? pod
    const entries = await run(options.podman.containers.list({ pod: podman }))
    const containers = entries.flatMap((e): Array<PodContainer> => {
      const full = e.Names[0] ?? ""
      const role = e.Labels?.[LABEL_ROLE]
      return role === undefined || !full.startsWith(`${podman}-`)
        ? []
        : [{ name: full.slice(podman.length + 1), role }]
    })
    const container = chooseContainer(pod, containers, c.req.query("container"))
    const name = containerName(podman, container)
    const headers = { "content-type": "text/plain; charset=utf-8" }
    if (!follow) {
      const { stdout, stderr } = await run(
        options.podman.containers.logs(name, tail === undefined ? {} : { tail }),
      )
      return c.body(stdout + stderr, 200, headers)
    }
    const body = options.podman.containers
      .followLogs(name, tail === undefined ? {} : { tail })
      .pipe(
        Stream.map((chunk) => encoder.encode(chunk.text)),
        // The response has started: a broken stream can only end it, with a last line saying why.
        Stream.catch((error) =>
          Stream.make(encoder.encode(`\n[beemesh: log stream ended: ${error.message}]\n`)),
        ),
      )
    return new Response(options.toReadable(body), { status: 200, headers })
  })
}
