/**
 * The two ways PodVolumes puts a layout on the host, with the same result as seen from an app:
 *
 * - **Rootful**: the agent mounts each tmpfs on the host and writes the files itself, owned by the
 *   host ID that root of an app's user namespace maps to.
 * - **Rootless**: an unprivileged agent can neither mount a tmpfs on the host nor give files to its
 *   apps' subordinate IDs. Root of Podman's own user namespace can do both (`podman unshare`), and
 *   the tmpfs it mounts lives in Podman's mount namespace, where every container of the user's
 *   Podman is created: the apps get it, while the host (and every other user) sees only empty
 *   directories. The files go in with one `tar --extract` run there, fed from memory through a
 *   pipe, so a Secret's bytes touch no disk on the way either. The tmpfs mounts last as long as
 *   that namespace, which Podman keeps while any container runs; the startup sweep removes what a
 *   namespace that ended left.
 */
import { execFile } from "node:child_process"
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { tarArchive } from "./VolumeArchive"
import type { VolumeLayout } from "./VolumeLayout"

/** What a pod's volumes need from the host; failures are text for the server-side error. */
export interface VolumeHost {
  /** Creates `dirs` in order (each mode 0700, owned by root of the agent's namespace). */
  readonly makeDirectories: (dirs: ReadonlyArray<string>) => Effect.Effect<void, string>
  readonly mountTmpfs: (
    dir: string,
    mode: number,
    sizeBytes: number | undefined,
  ) => Effect.Effect<void, string>
  /** Gives each volume directory its mode and puts its entries in it, owned by the apps' root. */
  readonly fill: (
    podDir: string,
    layouts: ReadonlyArray<VolumeLayout>,
  ) => Effect.Effect<void, string>
  /** The mount points at or below `dir` as this host's mount namespace has them, deepest first. */
  readonly mountsUnder: (dir: string) => Effect.Effect<ReadonlyArray<string>, string>
  /** Unmounts lazily: a pod's last container may still be leaving; a tmpfs goes with its last user. */
  readonly unmount: (points: ReadonlyArray<string>) => Effect.Effect<void, string>
  /** Removes `dir` and everything in it, never crossing into a mount. */
  readonly remove: (dir: string) => Effect.Effect<void, string>
}

const TOOL_TIMEOUT_MS = 30_000

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

/** Runs a program (no shell) with a timeout, `input` on its stdin; its stdout, or its stderr. */
const runTool = (argv: ReadonlyArray<string>, input?: Uint8Array) =>
  Effect.callback<string, string>((resume) => {
    const [file = "", ...args] = argv
    const child = execFile(
      file,
      args,
      { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) return resume(Effect.succeed(stdout))
        const code = (error as NodeJS.ErrnoException).code
        resume(
          Effect.fail(
            code === "ENOENT"
              ? `${file} is not installed or not on PATH; install it (${file === "podman" ? "apt-get install podman" : "util-linux, coreutils, tar"})`
              : `${argv.join(" ")} failed: ${stderr.trim() || error.message}`,
          ),
        )
      },
    )
    // A tool that exits before reading its input closes the pipe: its exit code tells why.
    child.stdin?.on("error", () => undefined)
    child.stdin?.end(input === undefined ? undefined : Buffer.from(input))
  })

const tmpfsOptions = (owner: number, mode: number, sizeBytes: number | undefined) =>
  [
    "nosuid",
    "nodev",
    `mode=${mode.toString(8)}`,
    `uid=${owner}`,
    `gid=${owner}`,
    ...(sizeBytes === undefined ? [] : [`size=${sizeBytes}`]),
  ].join(",")

/** Root on the host: mounts and files made directly; `owner` is the apps' root as a host ID. */
export const rootfulHost = (owner: number): VolumeHost => {
  const io = (what: string, run: () => Promise<unknown>) =>
    Effect.tryPromise({ try: run, catch: (error) => `${what}: ${errorText(error)}` }).pipe(
      Effect.asVoid,
    )
  const ownedDirectory = async (path: string, mode: number) => {
    await mkdir(path, { mode }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error
    })
    // The mode exactly as given (mkdir's is masked by the umask).
    await chmod(path, mode)
    await chown(path, owner, owner)
  }
  return {
    makeDirectories: (dirs) =>
      io(`creating ${dirs.join(", ")}`, async () => {
        for (const dir of dirs) await mkdir(dir, { recursive: true, mode: 0o700 })
      }),
    mountTmpfs: (dir, mode, sizeBytes) =>
      runTool(["mount", "-t", "tmpfs", "-o", tmpfsOptions(owner, mode, sizeBytes), "tmpfs", dir]),
    fill: (podDir, layouts) =>
      Effect.forEach(layouts, (layout) => {
        const dir = join(podDir, layout.name)
        return io(`writing the files of volume ${layout.name}`, async () => {
          if (layout.directoryMode !== undefined) {
            await chown(dir, owner, owner)
            await chmod(dir, layout.directoryMode)
          }
          for (const entry of layout.entries) {
            const path = join(dir, entry.path)
            if (entry.kind === "directory") {
              await ownedDirectory(path, entry.mode)
              continue
            }
            await writeFile(path, entry.bytes, { mode: entry.mode, flag: "wx" })
            await chmod(path, entry.mode)
            await chown(path, owner, owner)
          }
        })
      }).pipe(Effect.asVoid),
    mountsUnder: (dir) =>
      Effect.tryPromise({
        try: () => readFile("/proc/self/mountinfo", "utf8"),
        catch: (error) => `reading /proc/self/mountinfo: ${errorText(error)}`,
      }).pipe(Effect.map((mountinfo) => mountsUnder(mountinfo, dir))),
    unmount: (points) =>
      Effect.forEach(points, (point) => runTool(["umount", "--lazy", point])).pipe(Effect.asVoid),
    remove: (dir) => io(`removing ${dir}`, () => rm(dir, { recursive: true, force: true })),
  }
}

/**
 * Rootless: every step runs as root of Podman's user namespace, in its mount namespace, through
 * `enter` (`["podman", "unshare"]`); `owner` is the apps' root as an ID of that namespace.
 */
export const userNamespaceHost = (owner: number, enter: ReadonlyArray<string>): VolumeHost => {
  const inside = (argv: ReadonlyArray<string>, input?: Uint8Array) =>
    runTool([...enter, ...argv], input)
  return {
    makeDirectories: (dirs) => inside(["mkdir", "-p", "-m", "700", ...dirs]).pipe(Effect.asVoid),
    mountTmpfs: (dir, mode, sizeBytes) =>
      inside([
        "mount",
        "-t",
        "tmpfs",
        "-o",
        tmpfsOptions(owner, mode, sizeBytes),
        "tmpfs",
        dir,
      ]).pipe(Effect.asVoid),
    fill: (podDir, layouts) =>
      Effect.gen(function* () {
        const entries = layouts.flatMap((layout) => [
          ...(layout.directoryMode === undefined
            ? []
            : [{ kind: "directory" as const, path: layout.name, mode: layout.directoryMode }]),
          ...layout.entries.map((entry) => ({ ...entry, path: `${layout.name}/${entry.path}` })),
        ])
        if (entries.length === 0) return
        const archive = tarArchive(entries, {
          uid: owner,
          gid: owner,
          mtimeSeconds: Date.now() / 1000,
        })
        if (!Buffer.isBuffer(archive)) return yield* Effect.fail(archive.problem)
        yield* inside(
          [
            "tar",
            "--extract",
            "--file=-",
            `--directory=${podDir}`,
            "--same-owner",
            "--same-permissions",
            "--numeric-owner",
          ],
          archive,
        )
      }),
    mountsUnder: (dir) =>
      inside(["cat", "/proc/self/mountinfo"]).pipe(
        Effect.map((mountinfo) => mountsUnder(mountinfo, dir)),
      ),
    unmount: (points) =>
      points.length === 0
        ? Effect.void
        : inside(["umount", "--lazy", ...points]).pipe(Effect.asVoid),
    remove: (dir) => inside(["rm", "-rf", "--one-file-system", dir]).pipe(Effect.asVoid),
  }
}
