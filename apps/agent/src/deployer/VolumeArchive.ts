/**
 * A tar archive (POSIX ustar, with a pax `path` record for names longer than ustar's 100 bytes) of
 * directories and files with exact owners and modes (pure). A rootless agent cannot create files
 * owned by its apps' IDs, nor see the tmpfs it mounted in Podman's mount namespace: `tar --extract`
 * run as root of Podman's user namespace puts the whole tree in place in one process.
 */

export type ArchiveEntry =
  | { readonly kind: "directory"; readonly path: string; readonly mode: number }
  | {
      readonly kind: "file"
      readonly path: string
      readonly mode: number
      readonly bytes: Uint8Array
    }

export interface ArchiveOwner {
  readonly uid: number
  readonly gid: number
  /** Modification time of every entry, in seconds since the epoch. */
  readonly mtimeSeconds: number
}

const BLOCK = 512
const NAME_BYTES = 100
/** ustar's numeric fields hold octal digits; 7 digits bound modes and IDs, 11 digits sizes. */
const MAX_ID = 0o7777777
const MAX_SIZE = 0o77777777777

const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, "0")}\0`

const header = (
  name: string,
  type: "0" | "5" | "x",
  mode: number,
  size: number,
  owner: ArchiveOwner,
) => {
  const block = Buffer.alloc(BLOCK)
  // Only a pax record carries a name that does not fit; ustar's field keeps its start.
  block.write(name, 0, NAME_BYTES, "utf8")
  block.write(octal(mode & 0o7777, 8), 100, "ascii")
  block.write(octal(owner.uid, 8), 108, "ascii")
  block.write(octal(owner.gid, 8), 116, "ascii")
  block.write(octal(size, 12), 124, "ascii")
  block.write(octal(Math.floor(owner.mtimeSeconds), 12), 136, "ascii")
  block.write("        ", 148, "ascii")
  block.write(type, 156, "ascii")
  block.write("ustar\0", 257, "ascii")
  block.write("00", 263, "ascii")
  let sum = 0
  for (const byte of block) sum += byte
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii")
  return block
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK)

/** A pax record `"<length> path=<path>\n"`, whose length counts its own digits. */
const paxPathRecord = (path: string) => {
  const body = ` path=${path}\n`
  const bodyBytes = Buffer.byteLength(body)
  let length = bodyBytes + 1
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes
  return Buffer.from(`${length}${body}`)
}

/** Why the entry cannot go in an archive, or undefined. */
const entryProblem = (entry: ArchiveEntry, owner: ArchiveOwner) => {
  if (entry.path === "" || entry.path.startsWith("/") || entry.path.split("/").includes(".."))
    return `archive path ${JSON.stringify(entry.path)} must be relative and stay inside`
  if (owner.uid > MAX_ID || owner.gid > MAX_ID || owner.uid < 0 || owner.gid < 0)
    return `archive owner ${owner.uid}:${owner.gid} is out of range`
  if (entry.kind === "file" && entry.bytes.length > MAX_SIZE)
    return `archive file ${entry.path} is too large`
  return undefined
}

/** The archive of `entries` in order (parents must come before what they hold), or why not. */
export const tarArchive = (
  entries: ReadonlyArray<ArchiveEntry>,
  owner: ArchiveOwner,
): Buffer | { readonly problem: string } => {
  const parts: Array<Buffer> = []
  for (const entry of entries) {
    const problem = entryProblem(entry, owner)
    if (problem !== undefined) return { problem }
    const name = entry.kind === "directory" ? `${entry.path}/` : entry.path
    if (Buffer.byteLength(name) > NAME_BYTES) {
      const record = paxPathRecord(name)
      parts.push(header("././@PaxHeader", "x", 0o644, record.length, owner), record)
      parts.push(padding(record.length))
    }
    if (entry.kind === "directory") parts.push(header(name, "5", entry.mode, 0, owner))
    else {
      const bytes = Buffer.from(entry.bytes)
      parts.push(header(name, "0", entry.mode, bytes.length, owner), bytes, padding(bytes.length))
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK))
  return Buffer.concat(parts)
}
