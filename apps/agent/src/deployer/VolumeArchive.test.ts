import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type ArchiveEntry, tarArchive } from "./VolumeArchive"

const owner = { uid: 1, gid: 1, mtimeSeconds: 1_700_000_000 }
const LONG = `${"d".repeat(90)}/${"f".repeat(90)}.conf`
const entries: ReadonlyArray<ArchiveEntry> = [
  { kind: "directory", path: "cfg", mode: 0o755 },
  { kind: "directory", path: "cfg/conf", mode: 0o755 },
  { kind: "file", path: "cfg/conf/app.conf", mode: 0o640, bytes: Buffer.from("level=1") },
  { kind: "file", path: "creds/password", mode: 0o400, bytes: Buffer.from("x".repeat(1000)) },
  { kind: "directory", path: "scratch", mode: 0o777 },
  { kind: "directory", path: LONG.split("/")[0] ?? "", mode: 0o755 },
  { kind: "file", path: LONG, mode: 0o644, bytes: Buffer.from("long") },
]

const archiveOf = (list: ReadonlyArray<ArchiveEntry>) => {
  const archive = tarArchive(list, owner)
  if (!Buffer.isBuffer(archive)) throw new Error(archive.problem)
  return archive
}

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe("tarArchive (read back by GNU tar)", () => {
  it("lists every entry with its type, mode, owner and size, long names included", () => {
    const listing = execFileSync("tar", ["--list", "--verbose", "--numeric-owner", "--file=-"], {
      input: archiveOf(entries),
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .map((line) => {
        const [mode, ids, size, , , name] = line.split(/\s+/)
        return `${mode} ${ids} ${size} ${name}`
      })
    expect(listing).toEqual([
      "drwxr-xr-x 1/1 0 cfg/",
      "drwxr-xr-x 1/1 0 cfg/conf/",
      "-rw-r----- 1/1 7 cfg/conf/app.conf",
      "-r-------- 1/1 1000 creds/password",
      "drwxrwxrwx 1/1 0 scratch/",
      `drwxr-xr-x 1/1 0 ${"d".repeat(90)}/`,
      `-rw-r--r-- 1/1 4 ${LONG}`,
    ])
  })

  it("extracts the bytes and modes exactly", () => {
    const dir = mkdtempSync(join(tmpdir(), "beemesh-archive-"))
    dirs.push(dir)
    execFileSync(
      "tar",
      ["--extract", "--file=-", `--directory=${dir}`, "--same-permissions", "--no-same-owner"],
      { input: archiveOf(entries) },
    )
    expect(readFileSync(join(dir, "cfg/conf/app.conf"), "utf8")).toBe("level=1")
    expect(readFileSync(join(dir, "creds/password"), "utf8")).toBe("x".repeat(1000))
    expect(readFileSync(join(dir, LONG), "utf8")).toBe("long")
    expect(statSync(join(dir, "creds/password")).mode & 0o7777).toBe(0o400)
    expect(statSync(join(dir, "scratch")).mode & 0o7777).toBe(0o777)
  })

  it("an empty list is an empty archive (two zero blocks)", () => {
    expect(archiveOf([])).toEqual(Buffer.alloc(1024))
  })

  it("refuses a path that would leave the directory and an owner ustar cannot hold", () => {
    for (const path of ["/etc/passwd", "a/../../b", ""])
      expect(tarArchive([{ kind: "directory", path, mode: 0o755 }], owner)).toMatchObject({
        problem: expect.stringContaining("must be relative and stay inside"),
      })
    expect(
      tarArchive([{ kind: "directory", path: "a", mode: 0o755 }], { ...owner, uid: 0o10000000 }),
    ).toMatchObject({ problem: expect.stringContaining("out of range") })
  })
})
