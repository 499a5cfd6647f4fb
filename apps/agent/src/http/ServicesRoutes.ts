/**
 * `GET /v1/services` (operator): the services this agent's workloads offer, each with the
 * providers the directory resolves for it now (from any agent of the mesh).
 */
import { Effect, type Exit, Order } from "effect"
import { Hono } from "hono"
import type { Provider, ServiceDirectory } from "../Directory"
import type { WorkloadManager } from "../Workloads"
import { settle } from "./Api"
import { operatorOnly } from "./OperatorAuth"

export interface ServiceView {
  readonly namespace: string
  readonly name: string
  /** Workloads of this agent that declare it, with the app port. */
  readonly offeredBy: ReadonlyArray<{ readonly workload: string; readonly port: number }>
  readonly providers: ReadonlyArray<Provider>
  /** Why providers could not be listed, when the directory failed. */
  readonly error?: string
}

export const listServices = (
  workloads: WorkloadManager["Service"],
  directory: ServiceDirectory["Service"],
) =>
  Effect.gen(function* () {
    const statuses = yield* workloads.list()
    const offered = new Map<
      string,
      { namespace: string; name: string; offeredBy: Array<{ workload: string; port: number }> }
    >()
    for (const w of statuses) {
      for (const s of w.services) {
        const key = `${w.namespace}/${s.name}`
        const entry = offered.get(key) ?? { namespace: w.namespace, name: s.name, offeredBy: [] }
        entry.offeredBy.push({ workload: w.name, port: s.port })
        offered.set(key, entry)
      }
    }
    const entries = [...offered.entries()].sort(([a], [b]) => Order.String(a, b)).map(([, e]) => e)
    return yield* Effect.forEach(
      entries,
      ({ namespace, name, offeredBy }) =>
        directory.resolve(namespace, name).pipe(
          Effect.map((providers): ServiceView => ({ namespace, name, offeredBy, providers })),
          Effect.catch((error) =>
            Effect.succeed<ServiceView>({
              namespace,
              name,
              offeredBy,
              providers: [],
              error: error.message,
            }),
          ),
        ),
      { concurrency: 4 },
    )
  })

export const servicesRoutes = (options: {
  readonly operatorToken: string
  readonly workloads: WorkloadManager["Service"]
  readonly directory: ServiceDirectory["Service"]
  readonly runExit: <A, E>(effect: Effect.Effect<A, E>) => Promise<Exit.Exit<A, E>>
}) =>
  new Hono().get("/", operatorOnly(options.operatorToken), async (c) =>
    c.json({
      services: settle(await options.runExit(listServices(options.workloads, options.directory))),
    }),
  )
