/**
 * The host side of pod volumes: one directory per pod under the agent's volume root, holding one
 * directory per volume, which the pod's app containers bind-mount.
 *
 * - ConfigMap and Secret volumes, and `emptyDir` with `medium: Memory`, are each a tmpfs of their
 *   own (a Secret's bytes never reach a disk; `sizeLimit` is the tmpfs's size); a disk `emptyDir`
 *   is a plain directory.
 * - Everything is owned by the host ID that root of an app's user namespace maps to, so an app
 *   reads its files as root of its own namespace, with the modes the manifest gives; the pod's
 *   directory is root's alone (0700), and only that pod's app containers mount its volumes: other
 *   pods and the sidecar never see them.
 * - `release` unmounts and removes a pod's directory (after the pod is gone, after a failed
 *   creation); `sweep` does it for every pod directory no running pod stands for (agent start).
 */
import { execFile } from "node:child_process"
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { Context, Data, Effect, Layer } from "effect"
import type { Lookup } from "../ConfigObjects"
import type { Workload } from "../Manifest"
import { projectedFiles, type Volume } from "../Volumes"

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
  /** The host ID that UID and GID 0 of every app's user namespace map to. */
  readonly appRootId: number
  /** Podman runs rootless: the agent cannot mount the tmpfs volumes need, and refuses them. */
  readonly rootless: boolean
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

/** Room a tmpfs of projected files needs besides their bytes: a page per file and directory. */
const PAGE = 4096
const SLACK = 64 * 1024

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** `/proc/self/mountinfo` escapes spaces, tabs, newlines and backslashes as octal. */
const unescapeMountPath = (path: string) =>
  path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  )

/** The mount points at or below `dir`, deepest first. */
export const mountsUnder = (mountinfo: string, dir: string): ReadonlyArray<string> =>
  mountinfo
    .split("\n")
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)

/** Runs a program (no shell) with a timeout; fails with its stderr. */
const runTool = (file: string, args: ReadonlyArray<string>) =>
  Effect.callback<void, string>((resume) => {
    execFile(file, [...args], { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) return resume(Effect.void)
      const code = (error as NodeJS.ErrnoException).code
      resume(
        Effect.fail(
          code === "ENOENT"
            ? `${file} is not installed (util-linux); install it`
            : `${file} ${args.join(" ")} failed: ${stderr.trim() || error.message}`,
        ),
      )
    })
  })

const make = (options: PodVolumesOptions): PodVolumesShape => {
  const owner = options.appRootId
  const podDir = (pod: string) => join(options.root, pod)

  const io = <A>(pod: string, what: string, run: () => Promise<A>) =>
    Effect.tryPromise({
      try: run,
      catch: (error) =>
        new VolumeSetupFailed({ pod, reason: `${what}: ${errorText(error)}`, fault: "server" }),
    })

  const mountTmpfs = (pod: string, dir: string, mode: number, size: number | undefined) =>
    runTool("mount", [
      "-t",
      "tmpfs",
      "-o",
      [
        "nosuid",
        "nodev",
        `mode=${mode.toString(8)}`,
        `uid=${owner}`,
        `gid=${owner}`,
        ...(size === undefined ? [] : [`size=${size}`]),
      ].join(","),
      "tmpfs",
      dir,
    ]).pipe(Effect.mapError((reason) => new VolumeSetupFailed({ pod, reason, fault: "server" })))

  /** A directory inside a volume, and every parent up to it, owned by the app's root. */
  const ownedDirectory = async (volumeDir: string, relative: string, mode: number) => {
    let current = volumeDir
    for (const part of relative.split("/")) {
      current = join(current, part)
      await mkdir(current, { mode }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error
      })
      await chown(current, owner, owner)
    }
  }

  const release = (pod: string) =>
    Effect.gen(function* () {
      const dir = podDir(pod)
      const mountinfo = yield* io(pod, "reading /proc/self/mountinfo", () =>
        readFile("/proc/self/mountinfo", "utf8"),
      )
      // Lazy: a pod's last container may still be leaving; the tmpfs goes with its last user.
      for (const point of mountsUnder(mountinfo, dir))
        yield* runTool("umount", ["--lazy", point]).pipe(
          Effect.mapError((reason) => new VolumeSetupFailed({ pod, reason, fault: "server" })),
        )
      yield* io(pod, `removing ${dir}`, () => rm(dir, { recursive: true, force: true }))
    }).pipe(
      Effect.catch((error) => Effect.logWarning(`releasing volumes: ${error.message}`)),
      Effect.withSpan("PodVolumes.release"),
    )

  const prepareOne = (pod: string, volume: Volume, lookup: Lookup) =>
    Effect.gen(function* () {
      const dir = join(podDir(pod), volume.name)
      yield* io(pod, `creating ${dir}`, () => mkdir(dir, { mode: 0o700 }))
      if (volume.kind === "EmptyDir") {
        // World-writable as in Kubernetes: any user of the pod's apps may write it.
        if (volume.medium === "Memory")
          return yield* mountTmpfs(pod, dir, 0o777, volume.sizeLimitBytes)
        return yield* io(pod, `preparing ${dir}`, async () => {
          await chown(dir, owner, owner)
          await chmod(dir, 0o777)
        })
      }
      const files = projectedFiles(volume, lookup)
      if ("problem" in files)
        return yield* new VolumeSetupFailed({ pod, reason: files.problem, fault: "client" })
      const bytes = files.reduce((sum, file) => sum + file.bytes.length + 2 * PAGE, SLACK)
      yield* mountTmpfs(pod, dir, 0o755, Math.ceil(bytes / PAGE) * PAGE)
      yield* io(pod, `writing the files of volume ${volume.name}`, async () => {
        for (const file of files) {
          const parent = dirname(file.path)
          if (parent !== ".") await ownedDirectory(dir, parent, 0o755)
          const path = join(dir, file.path)
          await writeFile(path, file.bytes, { mode: file.mode, flag: "wx" })
          // The mode exactly as given (writeFile's is masked by the umask).
          await chmod(path, file.mode)
          await chown(path, owner, owner)
        }
      })
    })

  const subPath = (pod: string, volume: Volume, path: string) => {
    const dir = join(podDir(pod), volume.name)
    return volume.kind === "EmptyDir"
      ? io(pod, `creating subPath ${path} of volume ${volume.name}`, () =>
          ownedDirectory(dir, path, 0o777),
        )
      : Effect.tryPromise({
          try: () => lstat(join(dir, path)),
          catch: () =>
            new VolumeSetupFailed({
              pod,
              reason: `subPath ${path} is not in volume ${volume.name} (${volume.kind} ${volume.object}); name one of its files`,
              fault: "client",
            }),
        }).pipe(Effect.asVoid)
  }

  const prepare = (
    pod: string,
    workload: Pick<Workload, "volumes" | "containers">,
    lookup: Lookup,
  ) =>
    Effect.gen(function* () {
      const volumes = workload.volumes ?? []
      if (options.rootless)
        return yield* new VolumeSetupFailed({
          pod,
          reason:
            "volumes need a rootful agent: a rootless one cannot mount the tmpfs that keeps Secret files off the disk; run the agent as root or remove the volumes",
          fault: "client",
        })
      yield* release(pod)
      yield* io(pod, `creating ${podDir(pod)}`, async () => {
        await mkdir(options.root, { recursive: true, mode: 0o700 })
        await mkdir(podDir(pod), { mode: 0o700 })
      })
      const paths = new Map<string, string>()
      for (const volume of volumes) {
        yield* prepareOne(pod, volume, lookup)
        paths.set(volume.name, join(podDir(pod), volume.name))
      }
      for (const container of workload.containers)
        for (const mount of container.volumeMounts ?? []) {
          const volume = volumes.find((v) => v.name === mount.name)
          if (volume !== undefined && mount.subPath !== undefined)
            yield* subPath(pod, volume, mount.subPath)
        }
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
