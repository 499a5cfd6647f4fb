/**
 * What the consumer test needs to know about the workspace: which packages are published
 * libraries (every non-private package under packages/), which other libraries each one needs
 * installed beside it, and the catalog's versions (the consumer installs the same ones).
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "yaml"

export const WORKSPACE_ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "")

export interface Library {
  readonly name: string
  readonly dir: string
  /** Names of the workspace libraries it depends on at run time (dependencies, peers). */
  readonly workspaceDependencies: ReadonlyArray<string>
}

interface Manifest {
  readonly name: string
  readonly private?: boolean
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest

export const libraries = (): ReadonlyArray<Library> =>
  readdirSync(join(WORKSPACE_ROOT, "packages"))
    .map((entry) => join(WORKSPACE_ROOT, "packages", entry))
    .map((dir) => ({ dir, manifest: readManifest(dir) }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ dir, manifest }) => ({
      name: manifest.name,
      dir,
      workspaceDependencies: Object.entries({
        ...manifest.dependencies,
        ...manifest.peerDependencies,
      })
        .filter(([, range]) => range.startsWith("workspace:"))
        .map(([name]) => name),
    }))
    .sort((a, b) => a.name.localeCompare(b.name))

/** `names` and every workspace library they need, transitively. */
export const withWorkspaceDependencies = (
  all: ReadonlyArray<Library>,
  names: ReadonlyArray<string>,
): ReadonlyArray<Library> => {
  const byName = new Map(all.map((library) => [library.name, library]))
  const found = new Map<string, Library>()
  const visit = (name: string) => {
    if (found.has(name)) return
    const library = byName.get(name)
    if (library === undefined)
      throw new Error(`${name} is not a published library of this workspace`)
    found.set(name, library)
    library.workspaceDependencies.forEach(visit)
  }
  names.forEach(visit)
  return [...found.values()]
}

/** The workspace catalog (pnpm-workspace.yaml): package name → pinned version. */
export const catalog = (): ReadonlyMap<string, string> => {
  const text = readFileSync(join(WORKSPACE_ROOT, "pnpm-workspace.yaml"), "utf8")
  const parsed = parse(text) as { catalog?: Record<string, string> }
  return new Map(Object.entries(parsed.catalog ?? {}))
}
