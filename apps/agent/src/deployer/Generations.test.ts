import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Workload } from "../Manifest"
import type { LiveReplica, WorkloadManager } from "../Workloads"
import { LABEL_GENERATION } from "./PodTemplate"
import { deployment, type FakeHost, makeFakeHost, passUntil, startDeployer } from "./testing"

const web0 = { namespace: "shop", workload: "db", pod: "db-0" }

/** A StatefulSet: its replica keeps its name (db-0) across recreations, as its pod name does. */
const statefulSet = (): Workload => ({ ...deployment("db", 1), kind: "StatefulSet" })

const labelOf = (host: FakeHost, pod: string) =>
  host.fake.podman.pods.inspect(pod).pipe(Effect.map((p) => p.Labels?.[LABEL_GENERATION]))

describe("a replica's generation: what its sidecar's pod token is bound to", () => {
  it.effect(
    "drawn when its pod is created and carried in the pod's labels; a recreated pod of the same name gets a new one",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const deployer = yield* startDeployer(host)
          yield* deployer.manager.apply([statefulSet()])
          const first = yield* deployer.manager.live(web0)
          expect(first?.generation).toMatch(/^[A-Za-z0-9_-]{22}$/)
          expect(first?.hostPort).toBeGreaterThan(0)
          expect(yield* labelOf(host, "bm-shop-db-0")).toBe(first?.generation)

          // The app exits; the reconciler recreates the pod under the same name.
          yield* host.fake.podman.exitContainer("bm-shop-db-0-app", 1)
          yield* passUntil(deployer, () =>
            deployer.manager
              .live(web0)
              .pipe(Effect.map((r) => r !== undefined && r.generation !== first?.generation)),
          )
          const second = yield* deployer.manager.live(web0)
          expect(second?.generation).toBeDefined()
          expect(second?.generation).not.toBe(first?.generation)
          expect(yield* labelOf(host, "bm-shop-db-0")).toBe(second?.generation)
        }),
      ),
  )

  it.effect(
    "known when the sidecar starts (its first registration may come before the creation returns)",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const seen: Array<LiveReplica | undefined> = []
          let manager: WorkloadManager["Service"] | undefined
          const deployer = yield* startDeployer(host, (fake) => ({
            ...fake,
            containers: {
              ...fake.containers,
              start: (name) =>
                fake.containers.start(name).pipe(
                  Effect.andThen(
                    name === "bm-shop-db-0-sidecar" && manager !== undefined
                      ? manager.live(web0).pipe(
                          Effect.tap((live) =>
                            Effect.sync(() => {
                              seen.push(live)
                            }),
                          ),
                        )
                      : Effect.void,
                  ),
                ),
            },
          }))
          manager = deployer.manager
          yield* manager.apply([statefulSet()])
          const live = yield* manager.live(web0)
          expect(seen).toEqual([live])
          expect(live?.hostPort).toBeGreaterThan(0)
        }),
      ),
  )

  it.effect("survives an agent restart: the adopted pod keeps its generation and host port", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([statefulSet()])
        const before = yield* first.manager.live(web0)
        const second = yield* startDeployer(host)
        expect(yield* second.manager.live(web0)).toEqual(before)
      }),
    ),
  )

  it.effect("none once the workload is deleted, and none for a pod the agent never ran", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        yield* manager.apply([statefulSet()])
        expect(yield* manager.live({ ...web0, pod: "db-1" })).toBeUndefined()
        expect(yield* manager.live({ ...web0, workload: "web" })).toBeUndefined()
        yield* manager.remove("shop", "db")
        expect(yield* manager.live(web0)).toBeUndefined()
      }),
    ),
  )

  it.effect("a pod from before generations (no label) is adopted with the empty generation", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([statefulSet()])
        // What an agent from before generations left running: the same pod without the label.
        const second = yield* startDeployer(host, (fake) => ({
          ...fake,
          pods: {
            ...fake.pods,
            list: (query) =>
              fake.pods.list(query).pipe(
                Effect.map((pods) =>
                  pods.map(({ Labels, ...pod }) => {
                    const { [LABEL_GENERATION]: _, ...labels } = Labels ?? {}
                    return { ...pod, Labels: labels }
                  }),
                ),
              ),
          },
        }))
        expect((yield* second.manager.live(web0))?.generation).toBe("")
      }),
    ),
  )
})
