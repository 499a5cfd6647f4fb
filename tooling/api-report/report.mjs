#!/usr/bin/env node
/**
 * Writes or checks the API report of the library in the current directory: one
 * `api/<entry>.api.md` per public entry point (the `exports` its tarball ships), made by
 * api-extractor from the built declarations in dist/.
 *
 *   beemesh-api-report           check: fails when the public API differs from the checked-in report
 *   beemesh-api-report --update  rewrite the reports (then review and commit the diff)
 *
 * Either way it then fails when a name the reports export is missing from the README's `## API`
 * section: an export nobody documented is either an accident or an undocumented promise.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor"
import { readmeProblem } from "./documented.mjs"

const update = process.argv.includes("--update")
const packageDir = process.cwd()
const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"))
const exportsMap = manifest.publishConfig?.exports ?? {}

const entries = Object.entries(exportsMap).flatMap(([subpath, target]) =>
  typeof target === "object" && typeof target.types === "string"
    ? [
        {
          name: subpath === "." ? "index" : subpath.slice(2).replaceAll("/", "-"),
          types: target.types,
        },
      ]
    : [],
)
if (entries.length === 0) {
  console.error(`${manifest.name}: publishConfig.exports names no entry point with "types"`)
  process.exit(1)
}

if (update) mkdirSync(join(packageDir, "api"), { recursive: true })

let failed = false
for (const entry of entries) {
  const entryFile = join(packageDir, entry.types)
  if (!existsSync(entryFile)) {
    console.error(
      `${manifest.name}: ${entry.types} is missing; build first (turbo run build --filter ${manifest.name})`,
    )
    process.exit(1)
  }
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: packageDir,
      newlineKind: "lf",
      mainEntryPointFilePath: entryFile,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: "es2024",
            lib: ["es2024"],
            module: "nodenext",
            moduleResolution: "nodenext",
            types: ["node"],
            strict: true,
            skipLibCheck: true,
            paths: siblingDeclarations(),
          },
          files: [entryFile],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: entry.name,
        reportFolder: join(packageDir, "api"),
        reportTempFolder: join(packageDir, ".reports/api-extractor"),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: "warning" } },
        extractorMessageReporting: {
          default: { logLevel: "warning", addToApiReportFile: false },
          // Doc comments are not required of every member; and notes that cite source lines would
          // change the report whenever code moves, not only when the API does.
          "ae-undocumented": { logLevel: "none", addToApiReportFile: false },
          "ae-unresolved-link": { logLevel: "none", addToApiReportFile: false },
          // Release tags (@public, @beta) are not used here: everything exported is public.
          "ae-missing-release-tag": { logLevel: "none", addToApiReportFile: false },
          // Every tagged error's generated `X_base` class would be flagged: the report shows the
          // signatures that use such types, which is what a reviewer needs.
          "ae-forgotten-export": { logLevel: "none", addToApiReportFile: false },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(packageDir, "package.json"),
  })
  const result = Extractor.invoke(config, { localBuild: update, messageCallback: quietInfo })
  const report = relative(process.cwd(), join(packageDir, "api", `${entry.name}.api.md`))
  if (!result.succeeded) {
    failed = true
    console.error(
      result.apiReportChanged
        ? `${manifest.name}: the public API of "${entry.types}" differs from ${report}. If the change is intended, run \`pnpm --filter ${manifest.name} api:update\` (or \`pnpm api:update\` for all) and commit the report with a changeset.`
        : `${manifest.name}: api-extractor failed on ${entry.types} (${result.errorCount} errors, ${result.warningCount} warnings)`,
    )
  } else if (result.apiReportChanged) {
    console.log(`${manifest.name}: updated ${report}`)
  }
}

// The report just made (api-extractor writes it to the temp folder in both modes), so that a check
// names an undocumented export even while the checked-in report still lacks it.
const freshReport = (entry) => {
  const fresh = join(packageDir, ".reports/api-extractor", `${entry.name}.api.md`)
  return readFileSync(
    existsSync(fresh) ? fresh : join(packageDir, "api", `${entry.name}.api.md`),
    "utf8",
  )
}
const readmeFile = join(packageDir, "README.md")
const problem = readmeProblem(
  manifest.name,
  entries.map((entry) => ({ entry: entry.name, report: freshReport(entry) })),
  existsSync(readmeFile) ? readFileSync(readmeFile, "utf8") : "",
)
if (problem !== undefined) {
  failed = true
  console.error(problem)
}
process.exit(failed ? 1 : 0)

/**
 * The other libraries as their tarballs declare them: in the workspace their `exports` point at
 * TypeScript sources, which api-extractor refuses to analyse, and a consumer sees dist/ anyway.
 */
function siblingDeclarations() {
  const packagesDir = join(packageDir, "..")
  const paths = {}
  for (const dir of readdirSync(packagesDir)) {
    const file = join(packagesDir, dir, "package.json")
    if (!existsSync(file)) continue
    const sibling = JSON.parse(readFileSync(file, "utf8"))
    for (const [subpath, target] of Object.entries(sibling.publishConfig?.exports ?? {})) {
      if (typeof target === "object" && typeof target.types === "string") {
        paths[`${sibling.name}${subpath.slice(1)}`] = [join(packagesDir, dir, target.types)]
      }
    }
  }
  return paths
}

function quietInfo(message) {
  if (message.logLevel === "info" || message.logLevel === "verbose") message.handled = true
}
