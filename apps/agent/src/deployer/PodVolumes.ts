/**
 * The host side of pod volumes: one directory per pod under the agent's volume root, holding one
 * directory per volume, which the pod's app containers bind-mount.
 *
 * - What each volume holds is its layout (VolumeLayout): ConfigMap and Secret volumes, and
 *   `emptyDir` with `medium: Memory`, are a tmpfs each (a Secret's bytes never reach a disk); a
 *   disk `emptyDir` is a plain directory.
 * - Everything is owned by the ID that root of an app's user namespace maps to, so an app reads
 *   its files as root of its own namespace, with the modes the manifest gives; the pod's
 *   directory is the agent's alone (0700), and only that pod's app containers mount its volumes:
 *   other pods and the sidecar never see them. Rootful, the agent does this on the host; rootless,
 *   inside Podman's user and mount namespaces (VolumeHosts).
 * - `release` unmounts and removes a pod's directory (after the pod is gone, after a failed
 *   creation); `sweep` does it for every pod directory no running pod stands for (agent start).
 */
import { lstat, readdir } from "node:fs/promises"
import { join } from "node:path"
import { Context, Data, Effect, Layer } from "effect"
import type { Lookup } from "../ConfigObjects"
import type { Workload } from "../Manifest"
import { rootfulHost, userNamespaceHost } from "./VolumeHosts"
import { volumeLayouts } from "./VolumeLayout"

/** A volume could not be put in place; `fault` says whose the problem is. */
export class VolumeSetupFailed extends Data.TaggedError("VolumeSetupFailed")<{
  readonly pod: string
  readonly reason: string
  readonly fault: "client" | "server"
}> {
  override get message() {
    return `volumes of pod ${this.pod}: ${this.reason}`
  }
}

export interface PodVolumesOptions {
  /** The directory holding one directory per pod (created mode 0700). */
  readonly root: string
  /**
   * The ID that UID and GID 0 of every app's user namespace map to: a host ID rootful, an ID of
   * Podman's user namespace rootless.
   */
  readonly appRootId: number
  /**
   * Podman runs rootless: the argument vector that runs a command as root of its user namespace,
   * in its mount namespace (`["podman", "unshare"]`), where the volumes are then made. Absent: the
   * agent is root and makes them on the host.
   */
  readonly userNamespace?: ReadonlyArray<string>
}

export interface PodVolumesShape {
  /**
   * Puts the workload's volumes in place for `pod` (anything left from an earlier pod of that name
   * is removed first), with ConfigMap and Secret files from the objects as `lookup` finds them
   * now, and the mounts' subPaths (created in an emptyDir, required in the others); the host
   * directory of each volume by name.
   */
  readonly prepare: (
    pod: string,
    workload: Pick<Workload, "volumes" | "containers">,
    lookup: Lookup,
  ) => Effect.Effect<ReadonlyMap<string, string>, VolumeSetupFailed>
  /** Unmounts and removes the pod's volumes; a failure is logged (the next sweep retries). */
  readonly release: (pod: string) => Effect.Effect<void>
  /** Releases the volumes of every pod not in `keep`. */
  readonly sweep: (keep: ReadonlySet<string>) => Effect.Effect<void>
  /** The pods that have volumes on the host. */
  readonly pods: () => Effect.Effect<ReadonlyArray<string>>
}

const make = (options: PodVolumesOptions): PodVolumesShape => {
  const host =
    options.userNamespace === undefined
      ? rootfulHost(options.appRootId)
      : userNamespaceHost(options.appRootId, options.userNamespace)
  const podDir = (pod: string) => join(options.root, pod)
  const failed = (pod: string) => (reason: string) =>
    new VolumeSetupFailed({ pod, reason, fault: "server" })

  const release = (pod: string) =>
    Effect.gen(function* () {
      const dir = podDir(pod)
      // Nothing can be mounted below a directory that does not exist.
      const exists = yield* Effect.promise(() =>
        lstat(dir).then(
          () => true,
          () => false,
        ),
      )
      if (!exists) return
      yield* host.unmount(yield* host.mountsUnder(dir))
      yield* host.remove(dir)
    }).pipe(
      Effect.mapError(failed(pod)),
      Effect.catch((error) => Effect.logWarning(`releasing volumes: ${error.message}`)),
      Effect.withSpan("PodVolumes.release"),
    )

  const prepare = (
    pod: string,
    workload: Pick<Workload, "volumes" | "containers">,
    lookup: Lookup,
  ) =>
    Effect.gen(function* () {
      const layouts = volumeLayouts(workload, lookup)
      if ("problem" in layouts)
        return yield* new VolumeSetupFailed({ pod, reason: layouts.problem, fault: "client" })
      yield* release(pod)
      const dir = podDir(pod)
      const paths = new Map(layouts.map((layout) => [layout.name, join(dir, layout.name)]))
      yield* Effect.gen(function* () {
        yield* host.makeDirectories([options.root, dir, ...paths.values()])
        for (const layout of layouts)
          if (layout.tmpfs !== undefined)
            yield* host.mountTmpfs(
              join(dir, layout.name),
              layout.tmpfs.mode,
              layout.tmpfs.sizeBytes,
            )
        yield* host.fill(dir, layouts)
      }).pipe(Effect.mapError(failed(pod)))
      return paths as ReadonlyMap<string, string>
    }).pipe(
      Effect.tapError(() => release(pod)),
      Effect.withSpan("PodVolumes.prepare"),
    )

  const pods = () =>
    Effect.promise(() => readdir(options.root).catch((): Array<string> => [])).pipe(
      Effect.map((entries) => entries.sort()),
    )

  const sweep = (keep: ReadonlySet<string>) =>
    Effect.gen(function* () {
      for (const pod of yield* pods()) if (!keep.has(pod)) yield* release(pod)
    }).pipe(Effect.withSpan("PodVolumes.sweep"))

  return { prepare, release, sweep, pods }
}

export class PodVolumes extends Context.Service<PodVolumes, PodVolumesShape>()(
  "@beemesh/agent/PodVolumes",
) {
  static readonly layer = (options: PodVolumesOptions) =>
    Layer.succeed(PodVolumes, PodVolumes.of(make(options)))
}
