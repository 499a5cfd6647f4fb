import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { Egress } from "@beemesh/netns"
import { PodmanClient, RuntimeFailure } from "@beemesh/podman"
import { it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { describe, expect } from "vitest"
import { ConfigStore } from "./ConfigStore"
import { PodVolumes } from "./PodVolumes"
import { ReplicaPods } from "./ReplicaPods"
import { deployment, makeFakeHost, podOptions } from "./testing"
import { WarmPods } from "./WarmPods"
import { newReplica } from "./WorkloadTable"

const workload = deployment("web", 1)

/** ReplicaPods with a same-host directory over the fake host; `failApps` fails app creation. */
const replicaPods = (failApps: boolean) =>
  Effect.gen(function* () {
    const host = yield* makeFakeHost
    const directory = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "replica-sockets-"))),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
    )
    // Sockets as sidecars leave them: this replica's (its sidecar killed), a pod long gone.
    const mine = `${SameHostSockets.socketPrefix("shop", "web-0")}.12D3KooWmine`
    const gone = `${SameHostSockets.socketPrefix("shop", "gone-0")}.12D3KooWgone`
    yield* Effect.promise(async () => {
      await writeFile(join(directory, mine), "")
      await writeFile(join(directory, gone), "")
    })
    // The config store's files go in a directory of their own: next to the socket directory
    // they would be left in the system's temporary directory after the test.
    const stateDir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "replica-sockets-state-"))),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
    )
    const fake = host.fake.podman
    const podman = {
      ...fake,
      containers: {
        ...fake.containers,
        create: (req: Parameters<typeof fake.containers.create>[0]) =>
          failApps && req.name.endsWith("-app")
            ? Effect.fail(
                new RuntimeFailure({ operation: "create", status: 500, podmanMessage: "injected" }),
              )
            : fake.containers.create(req),
      },
    }
    const context = yield* Layer.build(
      ReplicaPods.layer({ ...podOptions, sameHostDirectory: directory }).pipe(
        Layer.provide(
          Layer.mergeAll(
            Layer.succeed(PodmanClient, podman),
            Layer.succeed(Egress, host.fake.egress),
            Layer.succeed(PodVolumes, host.volumes.shape),
            WarmPods.none,
            ConfigStore.layer({
              file: join(stateDir, "configs.json"),
              keyFile: join(stateDir, "secrets.key"),
            }),
          ),
        ),
      ),
    )
    const files = () => Effect.promise(() => readdir(directory))
    const sidecarListens = () => Effect.promise(() => writeFile(join(directory, mine), ""))
    return { pods: Context.get(context, ReplicaPods), files, sidecarListens }
  })

describe("ReplicaPods and the same-host sockets", () => {
  it.live(
    "at start, sockets of pods that are gone are swept; a destroyed replica's go with it",
    () =>
      Effect.gen(function* () {
        const { pods, files, sidecarListens } = yield* replicaPods(false)
        // No pod exists yet: both left-overs are stale.
        expect(yield* files()).toEqual([])
        const replica = newReplica(workload, "web-0")
        yield* pods.create(workload, replica, "images")
        yield* sidecarListens()
        expect(yield* files()).toHaveLength(1)
        yield* pods.destroy(replica)
        expect(yield* files()).toEqual([])
      }),
  )

  it.live("a failed creation leaves no socket of the replica", () =>
    Effect.gen(function* () {
      const { pods, files, sidecarListens } = yield* replicaPods(true)
      // As if the sidecar started (and made its socket) before the app's creation failed.
      yield* sidecarListens()
      const exit = yield* Effect.exit(
        pods.create(workload, newReplica(workload, "web-0"), "images"),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* files()).toEqual([])
    }),
  )
})
