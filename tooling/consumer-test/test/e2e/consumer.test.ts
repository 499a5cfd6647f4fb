/**
 * Every library as a user outside this workspace gets it: `pnpm pack`, `npm install` of the
 * tarballs (third-party dependencies from the registry) into a fresh project under the system's
 * temporary directory, its README example run under plain Node (no TypeScript loader for the
 * library: Node refuses to strip types under node_modules), and `tsc` with `strict: true`
 * against the shipped declarations.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { execa } from "execa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeConsumerProject } from "../../src/ConsumerProject.js"
import { extractExample, importedPackages } from "../../src/ReadmeExample.js"
import {
  catalog,
  libraries,
  WORKSPACE_ROOT,
  withWorkspaceDependencies,
} from "../../src/Workspace.js"

/** What each example prints when it did its work (a new library needs a line here). */
const EXPECTED_OUTPUT: Record<string, RegExp> = {
  "@beemesh/contract": /sidecar of web-1 listens on 8080\ncontainer user 1337\n"Web_1": .+/,
  "@beemesh/netns":
    /--cidr=10\.0\.2\.0\/24[\s\S]*host loopback: 10\.0\.2\.2[\s\S]*meta skuid \{ 1337 \} accept/,
  "@beemesh/p2p": /pong from 12D3KooW\w+ in \d+ ms/,
  "@beemesh/podman":
    /host\.containers\.internal:10\.0\.2\.2\n.*sidecar publishes 8080, apps publish nothing/,
  "@beemesh/proxy": /through the proxy: hello from orders/,
  "@beemesh/registry": /orders is served by orders-0 at \/ip4\/127\.0\.0\.1\/tcp\/\d+/,
  "@beemesh/service": /beemesh_example_requests_total\{path="\/metrics"\} 1/,
}
/** Subpath exports left out of the import check, and why. */
const NOT_IMPORTED: Record<string, string> = {
  "./testing": "contract suites import vitest, an optional peer a plain consumer does not install",
}
const EXAMPLE_TIMEOUT_MS = 60_000

const ALL = libraries()
const versions = catalog()
const work = mkdtempSync(join(tmpdir(), "beemesh-consumer-"))
const tarballs = join(work, "tarballs")
// Kept between runs: a warm cache turns minutes of downloads into seconds.
const npmCache = join(WORKSPACE_ROOT, "node_modules/.cache/beemesh-consumer-npm")
const tarballOf = new Map<string, string>()

const pinned = (name: string): string => {
  const version = versions.get(name)
  if (version === undefined) {
    throw new Error(`${name} is imported by an example but has no version in the workspace catalog`)
  }
  return `${name}@${version}`
}

beforeAll(async () => {
  expect(process.versions.node.split(".")[0], "the consumer runs on the project's Node 24").toBe(
    "24",
  )
  mkdirSync(tarballs)
  for (const library of ALL) {
    const before = new Set(readdirSync(tarballs))
    await execa("pnpm", ["pack", "--pack-destination", tarballs], { cwd: library.dir })
    const created = readdirSync(tarballs).filter((file) => !before.has(file))
    expect(created, `pnpm pack of ${library.name} made one tarball`).toHaveLength(1)
    tarballOf.set(library.name, join(tarballs, created[0]!))
  }
}, 300_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe("each library installed from its tarball in a project outside the workspace", () => {
  it("every published library has an expected example output", () => {
    expect(ALL.map((library) => library.name).sort()).toEqual(Object.keys(EXPECTED_OUTPUT).sort())
  })

  for (const library of ALL) {
    it(`${library.name}: README example runs under plain Node, strict tsc passes`, async () => {
      const manifest = JSON.parse(readFileSync(join(library.dir, "package.json"), "utf8")) as {
        publishConfig: { exports: Record<string, unknown> }
      }
      const readme = join(library.dir, "README.md")
      const example = extractExample(readme, readFileSync(readme, "utf8"))
      const imported = importedPackages(example)
      expect(imported, `the README example of ${library.name} imports it`).toContain(library.name)

      const beemesh = withWorkspaceDependencies(
        ALL,
        imported.filter((name) => name.startsWith("@beemesh/")),
      )
      const project = makeConsumerProject(join(work, library.name.replace("/", "+")), npmCache)
      await project.install([
        ...beemesh.map((needed) => tarballOf.get(needed.name)!),
        ...imported.filter((name) => !name.startsWith("@beemesh/")).map(pinned),
        pinned("typescript"),
        pinned("@types/node"),
      ])

      // Every public entry point (subpath export) loads in Node and has declarations.
      const entries = Object.keys(manifest.publishConfig.exports).filter(
        (subpath) => subpath !== "./package.json" && NOT_IMPORTED[subpath] === undefined,
      )
      project.write(
        "entries.ts",
        [
          ...entries.map(
            (subpath, i) => `import * as entry${i} from "${library.name}${subpath.slice(1)}"`,
          ),
          `for (const entry of [${entries.map((_, i) => `entry${i}`).join(", ")}]) {`,
          `  if (Object.keys(entry).length === 0) throw new Error("an entry point exports nothing")`,
          "}",
          "",
        ].join("\n"),
      )
      project.write("example.ts", example)

      const typecheck = await project.typecheck()
      expect(typecheck.output, `tsc --noEmit (strict) in ${project.dir}`).toBe("")
      expect(typecheck.ok).toBe(true)

      const entriesRun = await project.run("entries.ts", EXAMPLE_TIMEOUT_MS)
      expect(entriesRun.output).toBe("")
      expect(entriesRun.exitCode).toBe(0)

      const run = await project.run("example.ts", EXAMPLE_TIMEOUT_MS)
      expect(run.output).toMatch(EXPECTED_OUTPUT[library.name]!)
      expect(run.exitCode, run.output).toBe(0)
    })
  }
})
