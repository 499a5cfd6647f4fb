/**
 * The deployer's parts over the fake Podman and the fake Egress of @beemesh/podman/testing, for
 * unit tests: fast, no root, nothing real created.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { defaultSlirpOptions, Egress } from "@beemesh/netns"
import { PodmanClient, type PodmanClientShape } from "@beemesh/podman"
import {
  type FakeIsolation,
  type FakePodmanBehaviour,
  makeFakeIsolation,
} from "@beemesh/podman/testing"
import { Context, Effect, Layer } from "effect"
import { ServiceDirectory } from "../Directory"
import type { Workload } from "../Manifest"
import type { PodIdentity } from "../Tokens"
import { WorkloadManager } from "../Workloads"
import { ConfigStore } from "./ConfigStore"
import { workloadManagerLayer } from "./Manager"
import { PodVolumes, type PodVolumesShape, VolumeSetupFailed } from "./PodVolumes"
import { Reconciler } from "./Reconciler"
import { ReplicaPods, type ReplicaPodsOptions } from "./ReplicaPods"
import { type CommandRunner, ReplicaProbes } from "./ReplicaProbes"
import { StateStore } from "./StateStore"
import { volumeLayouts } from "./VolumeLayout"
import { WarmPods } from "./WarmPods"
import { WorkloadTable } from "./WorkloadTable"

export const SIDECAR_IMAGE = "localhost/beemesh/sidecar:0.1.0"
export const APP_IMAGE = "localhost/web:1"

export const podOptions: ReplicaPodsOptions = {
  owner: "12D3KooWunit",
  sidecarImage: SIDECAR_IMAGE,
  slirp: defaultSlirpOptions,
  advertiseHost: "127.0.0.1",
  apiPort: 8080,
  podTokenKey: "k".repeat(43),
  rootless: false,
}

export const deployment = (name: string, replicas: number, image = APP_IMAGE): Workload => ({
  kind: "Deployment",
  namespace: "shop",
  name,
  replicas,
  labels: {},
  containers: [
    {
      name: "app",
      image,
      command: undefined,
      args: undefined,
      workingDir: undefined,
      env: [],
      ports: [80],
      memoryLimitBytes: undefined,
      cpuLimitMillis: undefined,
    },
  ],
  services: [{ name, port: 80 }],
  upstreams: [],
})

/**
 * PodVolumes in memory: the volumes each pod has (by name) and the files its ConfigMap and Secret
 * volumes would hold; refuses what the real one refuses (podVolumesContract runs against both).
 */
export const makeFakeVolumes = () => {
  const prepared = new Map<string, ReadonlyMap<string, ReadonlyArray<string>>>()
  const shape: PodVolumesShape = {
    prepare: (pod, workload, lookup) =>
      Effect.gen(function* () {
        prepared.delete(pod)
        const layouts = volumeLayouts(workload, lookup)
        if ("problem" in layouts)
          return yield* new VolumeSetupFailed({ pod, reason: layouts.problem, fault: "client" })
        prepared.set(
          pod,
          new Map(
            layouts.map((layout) => [
              layout.name,
              layout.entries.flatMap((entry) =>
                entry.kind === "file"
                  ? [`${entry.path}=${Buffer.from(entry.bytes).toString()}`]
                  : [],
              ),
            ]),
          ),
        )
        return new Map(layouts.map((layout) => [layout.name, `/fake/${pod}/${layout.name}`]))
      }),
    release: (pod) => Effect.sync(() => void prepared.delete(pod)),
    sweep: (keep) =>
      Effect.sync(() => {
        for (const pod of [...prepared.keys()]) if (!keep.has(pod)) prepared.delete(pod)
      }),
    pods: () => Effect.sync(() => [...prepared.keys()].sort()),
  }
  return { prepared, shape }
}

/** One host: the fakes and a state file that outlive any one agent built over them. */
export interface FakeHost {
  readonly fake: FakeIsolation
  /** The pods' volumes as PodVolumes left them. */
  readonly volumes: ReturnType<typeof makeFakeVolumes>
  readonly stateFile: string
  /** Every pod whose services were withdrawn. */
  readonly unregistered: Array<PodIdentity>
}

export const makeFakeHostWith = (behaviour: Omit<FakePodmanBehaviour, "images">) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeIsolation({ ...behaviour, images: [SIDECAR_IMAGE, APP_IMAGE] })
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "beemesh-deployer-"))),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
    )
    const unregistered: Array<PodIdentity> = []
    const volumes = makeFakeVolumes()
    return {
      fake,
      volumes,
      stateFile: join(dir, "workloads.json"),
      unregistered,
    } satisfies FakeHost
  })

export const makeFakeHost = makeFakeHostWith({})

/** Exec probes as a host without nsenter targets would run them: none is expected here. */
const noCommands: CommandRunner = (argv) =>
  Effect.die(new Error(`unexpected command in a unit test: ${argv.join(" ")}`))

/**
 * An agent's deployer on `host` (no reconcile loop: tests call reconcileOnce or fork `watch`).
 * `podman` replaces the host's fake client as the deployer sees it (to hold a call, for example);
 * `probes` configures how exec probes run.
 */
export const startDeployer = (
  host: FakeHost,
  podman: (fake: PodmanClientShape) => PodmanClientShape = (fake) => fake,
  probes: { readonly runCommand: CommandRunner; readonly maxInFlight?: number } = {
    runCommand: noCommands,
  },
  /** Standby pods kept ready (WarmPods.ts); 0: none. */
  warmPods = 0,
) =>
  Effect.gen(function* () {
    const directory = Layer.succeed(ServiceDirectory, {
      register: () => Effect.die("not used"),
      unregister: (identity) => Effect.sync(() => void host.unregistered.push(identity)),
      resolve: () => Effect.succeed([]),
    })
    const configs = ConfigStore.layer({
      file: join(dirname(host.stateFile), "configs.json"),
      keyFile: join(dirname(host.stateFile), "secrets.key"),
    })
    const warm = WarmPods.layer({ ...podOptions, size: warmPods, refillDelayMs: 0 })
    const parts = Layer.mergeAll(
      WorkloadTable.layer,
      ReplicaPods.layer(podOptions),
      StateStore.layer(host.stateFile),
    ).pipe(Layer.provideMerge(Layer.merge(configs, warm)))
    const context = yield* Layer.build(
      Layer.mergeAll(
        workloadManagerLayer(podOptions),
        Reconciler.layer,
        ReplicaProbes.layer(probes),
      ).pipe(
        Layer.provideMerge(parts),
        Layer.provide(
          Layer.mergeAll(
            Layer.succeed(PodmanClient, podman(host.fake.podman)),
            Layer.succeed(Egress, host.fake.egress),
            Layer.succeed(PodVolumes, host.volumes.shape),
            directory,
          ),
        ),
      ),
    )
    return {
      manager: Context.get(context, WorkloadManager),
      configs: Context.get(context, ConfigStore),
      reconciler: Context.get(context, Reconciler),
      probes: Context.get(context, ReplicaProbes),
      table: Context.get(context, WorkloadTable),
      warm: Context.get(context, WarmPods),
    }
  })

export type Deployer = Effect.Success<ReturnType<typeof startDeployer>>

/**
 * What the sidecars of running replicas do on a real host: register, which makes their replicas
 * ready. `except` names replicas whose sidecar never registers (an app that never comes up).
 */
export const registerRunning = (
  deployer: Deployer,
  except: (replica: string) => boolean = () => false,
) =>
  Effect.forEach(
    [...deployer.table.replicas.values()].filter(
      (r) => r.phase === "Running" && !r.ready && !except(r.name),
    ),
    (replica) => {
      const [namespace = "", workload = ""] = replica.workload.split("/")
      // A refused registration (its app is down) is retried by a real sidecar: here, next call.
      return deployer.manager
        .registered({ namespace, workload, pod: replica.name }, true)
        .pipe(Effect.ignore)
    },
    { discard: true },
  )

/** Reconcile passes, each after the running sidecars registered, until `done` or `passes` ran. */
export const passUntil = <E>(
  deployer: Deployer,
  done: () => Effect.Effect<boolean, E>,
  passes = 20,
  except?: (replica: string) => boolean,
) =>
  Effect.gen(function* () {
    for (let n = 0; n < passes; n++) {
      if (yield* done()) return n
      yield* registerRunning(deployer, except)
      yield* deployer.reconciler.reconcileOnce()
    }
    return passes
  })
