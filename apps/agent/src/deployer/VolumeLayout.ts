/**
 * What a pod's volumes hold on the host (pure): per volume, whether it is a tmpfs of its own (its
 * root's mode and size) and the directories and files in it with their modes, parents first. The
 * rootful and the rootless PodVolumes put the same layout in place, each with its own means.
 *
 * - ConfigMap and Secret volumes are a tmpfs each (a Secret's bytes never reach a disk), sized to
 *   their files; an `emptyDir` with `medium: Memory` is a tmpfs of `sizeLimit`; a disk `emptyDir`
 *   is the volume's directory itself. emptyDirs are world-writable as in Kubernetes.
 * - A mount's `subPath` is created in an emptyDir and must name a file or directory of the others.
 */
import type { Lookup } from "../ConfigObjects"
import type { Workload } from "../Manifest"
import { projectedFiles } from "../Volumes"
import type { ArchiveEntry } from "./VolumeArchive"

export interface VolumeLayout {
  readonly name: string
  /** Mounted on the volume's directory: the tmpfs's root mode and size (undefined: tmpfs default). */
  readonly tmpfs?: { readonly mode: number; readonly sizeBytes: number | undefined }
  /** The mode of the volume's directory itself when it is no tmpfs. */
  readonly directoryMode?: number
  /** What the volume holds, paths relative to its directory, parents before children. */
  readonly entries: ReadonlyArray<ArchiveEntry>
}

/** Room a tmpfs of projected files needs besides their bytes: a page per file and directory. */
const PAGE = 4096
const SLACK = 64 * 1024
const PARENT_MODE = 0o755
const EMPTY_DIR_MODE = 0o777

/** `a/b/c` → `a`, `a/b` (the directories a path needs). */
const parentsOf = (path: string) => {
  const parts = path.split("/").slice(0, -1)
  return parts.map((_, index) => parts.slice(0, index + 1).join("/"))
}

/** Directory entries for `paths` not yet in `entries`, appended in order. */
const addDirectories = (
  entries: Array<ArchiveEntry>,
  paths: ReadonlyArray<string>,
  mode: number,
) => {
  for (const path of paths)
    if (!entries.some((entry) => entry.path === path))
      entries.push({ kind: "directory", path, mode })
}

/** The layout of every volume of the workload, or why it cannot be made (the request's fault). */
export const volumeLayouts = (
  workload: Pick<Workload, "volumes" | "containers">,
  lookup: Lookup,
): ReadonlyArray<VolumeLayout> | { readonly problem: string } => {
  const layouts: Array<VolumeLayout> = []
  for (const volume of workload.volumes ?? []) {
    const entries: Array<ArchiveEntry> = []
    const subPaths = workload.containers.flatMap((container) =>
      (container.volumeMounts ?? []).flatMap((mount) =>
        mount.name === volume.name && mount.subPath !== undefined ? [mount.subPath] : [],
      ),
    )
    if (volume.kind === "EmptyDir") {
      for (const path of subPaths)
        addDirectories(entries, [...parentsOf(path), path], EMPTY_DIR_MODE)
      layouts.push(
        volume.medium === "Memory"
          ? {
              name: volume.name,
              tmpfs: { mode: EMPTY_DIR_MODE, sizeBytes: volume.sizeLimitBytes },
              entries,
            }
          : { name: volume.name, directoryMode: EMPTY_DIR_MODE, entries },
      )
      continue
    }
    const files = projectedFiles(volume, lookup)
    if ("problem" in files) return files
    for (const file of files) {
      addDirectories(entries, parentsOf(file.path), PARENT_MODE)
      entries.push({ kind: "file", path: file.path, mode: file.mode, bytes: file.bytes })
    }
    for (const path of subPaths)
      if (!entries.some((entry) => entry.path === path))
        return {
          problem: `subPath ${path} is not in volume ${volume.name} (${volume.kind} ${volume.object}); name one of its files`,
        }
    const bytes = files.reduce((sum, file) => sum + file.bytes.length + 2 * PAGE, SLACK)
    layouts.push({
      name: volume.name,
      tmpfs: { mode: PARENT_MODE, sizeBytes: Math.ceil(bytes / PAGE) * PAGE },
      entries,
    })
  }
  return layouts
}
