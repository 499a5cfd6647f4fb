/** Rewrites the README's field tables from the manifest Schemas (a unit test checks they agree). */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readmeWithFieldTables } from "./src/ManifestFields"
import { MANIFESTS } from "./src/ManifestSchema"

const readme = join(import.meta.dirname, "README.md")
writeFileSync(readme, readmeWithFieldTables(readFileSync(readme, "utf8"), MANIFESTS))
// The repository's formatter aligns the tables' columns.
execFileSync("biome", ["format", "--write", readme], { stdio: "inherit" })
