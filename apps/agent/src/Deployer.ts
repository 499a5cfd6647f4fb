/**
 * The deployer: each replica of a workload is an enforced pod (@beemesh/podman) with the sidecar
 * injected and the egress policy in force before the sidecar or any app starts. Its parts live in
 * deployer/: the pod template (PodTemplate), the state store (StateStore), the replica pods over
 * Podman (ReplicaPods), the shared table (WorkloadTable), the workload manager with adoption
 * (Manager, Adoption), the reconciler (Reconciler) and the agent's part of the pods' probes
 * (ReplicaProbes: exec probes, restarts on liveness failures). This module wires them in start order:
 * state loaded, owned pods adopted, then the reconcile loop (driven by Podman's events).
 */
import { dirname, join } from "node:path"
import { appIdMap } from "@beemesh/podman"
import { Effect, Layer } from "effect"
import { runCommand } from "./deployer/CommandRunner"
import { ConfigStore } from "./deployer/ConfigStore"
import { workloadManagerLayer } from "./deployer/Manager"
import type { TemplateOptions } from "./deployer/PodTemplate"
import { PodVolumes } from "./deployer/PodVolumes"
import { DEFAULT_SAFETY_SCAN_MS, Reconciler } from "./deployer/Reconciler"
import { ReplicaPods } from "./deployer/ReplicaPods"
import { ReplicaProbes } from "./deployer/ReplicaProbes"
import { StateStore } from "./deployer/StateStore"
import { WarmPods } from "./deployer/WarmPods"
import { WorkloadTable } from "./deployer/WorkloadTable"
import { WorkloadManager } from "./Workloads"

export interface DeployerOptions extends TemplateOptions {
  /** Stable identity of this agent (its peer id): the owner label of every pod it creates. */
  readonly owner: string
  /** Where desired workloads are kept across restarts. */
  readonly stateFile: string
  /** Where ConfigMaps and Secrets are kept (default: configs.json next to the state file). */
  readonly configFile?: string
  /** The key Secrets are sealed with, 0600 (default: secrets.key next to the state file). */
  readonly secretKeyFile?: string
  /** Podman runs rootless (pod namespaces are owned by a user namespace). */
  readonly rootless: boolean
  /** Where pods' volumes are mounted, one directory per pod (default: volumes/ next to the state file). */
  readonly volumesDir?: string
  /**
   * How often every replica is checked even without a Podman event (default 30 s): the fallback for
   * what emits none (slirp4netns dying) and for events missed while the stream was down.
   */
  readonly safetyScanIntervalMs?: number
  /** Pods made ahead of need and kept ready for replicas to claim (WarmPods.ts; default 0: none). */
  readonly warmPods?: number
}

/**
 * WorkloadManager over Podman and Egress (and ServiceDirectory, to withdraw removed pods). Pods
 * outlive the agent on purpose: a restarted agent adopts them (their egress rules live in their own
 * namespaces). DELETE, not a stop, removes a workload.
 */
export const deployerLayer = (options: DeployerOptions) => {
  const configs = ConfigStore.layer({
    file: options.configFile ?? join(dirname(options.stateFile), "configs.json"),
    keyFile: options.secretKeyFile ?? join(dirname(options.stateFile), "secrets.key"),
  })
  const volumes = PodVolumes.layer({
    root: options.volumesDir ?? join(dirname(options.stateFile), "volumes"),
    // The agent's pods take the default app ID map: app root is its first ID (a host ID rootful,
    // an ID of Podman's user namespace rootless, where the volumes are then made).
    appRootId: appIdMap(options.rootless)[0]?.host_id ?? 0,
    ...(options.rootless ? { userNamespace: ["podman", "unshare"] } : {}),
  })
  // Also with none wanted: unclaimed standby pods an earlier run left are removed.
  const warm = WarmPods.layer({ ...options, size: options.warmPods ?? 0 })
  const parts = Layer.mergeAll(
    WorkloadTable.layer,
    ReplicaPods.layer(options),
    StateStore.layer(options.stateFile),
  ).pipe(Layer.provideMerge(Layer.mergeAll(configs, volumes)))
  const loop = Layer.effectDiscard(
    Effect.gen(function* () {
      // Built means the state was loaded and the pods of an earlier run adopted: only then reconcile.
      yield* WorkloadManager
      yield* Reconciler.run(options.safetyScanIntervalMs ?? DEFAULT_SAFETY_SCAN_MS)
    }),
  ).pipe(Layer.provide(Reconciler.layer))
  return loop.pipe(
    Layer.provideMerge(
      Layer.merge(workloadManagerLayer(options), ReplicaProbes.layer({ runCommand })),
    ),
    Layer.provide(parts),
    // The API answers standby sidecars from the pool.
    Layer.provideMerge(warm),
  )
}
