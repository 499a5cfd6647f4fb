// Adds up the Vitest JSON reports of every package (.reports/*.json) into one closing line,
// "tests: N passed, N failed, N skipped", and fails when a report is missing results.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

const root = new URL("../..", import.meta.url).pathname
const workspaces = ["packages", "apps", "tooling"].flatMap((group) =>
  readdirSync(join(root, group)).map((name) => join(root, group, name)),
)

let passed = 0
let failed = 0
let skipped = 0
const rows = []
for (const dir of workspaces) {
  const reports = join(dir, ".reports")
  if (!statSync(reports, { throwIfNoEntry: false })?.isDirectory()) continue
  for (const file of readdirSync(reports).filter((f) => f.endsWith(".json"))) {
    const report = JSON.parse(readFileSync(join(reports, file), "utf8"))
    const p = report.numPassedTests ?? 0
    // An unhandled error fails a run whose tests all passed: count it, or the line would lie.
    const counted = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0)
    const f = counted === 0 && report.success === false ? 1 : counted
    const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
    passed += p
    failed += f
    skipped += s
    rows.push(
      `${dir.slice(root.length).padEnd(22)} ${file.replace(".json", "").padEnd(12)} ${p} passed, ${f} failed, ${s} skipped`,
    )
  }
}
console.log("\nTest reports:")
for (const row of rows) console.log(`  ${row}`)
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
