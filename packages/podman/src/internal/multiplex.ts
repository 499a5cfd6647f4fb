/**
 * Podman's attach/exec/logs framing when no TTY is allocated (Docker's format): an 8-byte header
 * (stream 1 = stdout, 2 = stderr; bytes 4-7 big-endian payload length) before each chunk.
 */
export const demultiplex = (data: Buffer): { stdout: string; stderr: string } => {
  const out: Array<Buffer> = []
  const err: Array<Buffer> = []
  let offset = 0
  while (offset + 8 <= data.length) {
    const kind = data[offset]
    const size = data.readUInt32BE(offset + 4)
    const payload = data.subarray(offset + 8, offset + 8 + size)
    if (kind === 2) err.push(payload)
    else out.push(payload)
    offset += 8 + size
  }
  return {
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
  }
}

/** Listening TCP ports in a /proc/<pid>/net/tcp or tcp6 table (state 0A). */
export const listeningPortsOf = (table: string): Array<number> =>
  table
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === "0A" && f[1] !== undefined)
    .map((f) => Number.parseInt(f[1]!.split(":")[1] ?? "", 16))
    .filter((p) => Number.isInteger(p))

/**
 * The same framing read incrementally from a stream: `push` returns the chunks completed by the
 * new bytes and keeps a partial frame for the next call.
 */
export const makeDemultiplexer = () => {
  let pending: Buffer = Buffer.alloc(0)
  return (data: Buffer): Array<{ stream: "stdout" | "stderr"; text: string }> => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data])
    const out: Array<{ stream: "stdout" | "stderr"; text: string }> = []
    let offset = 0
    while (offset + 8 <= pending.length) {
      const size = pending.readUInt32BE(offset + 4)
      if (offset + 8 + size > pending.length) break
      out.push({
        stream: pending[offset] === 2 ? "stderr" : "stdout",
        text: pending.subarray(offset + 8, offset + 8 + size).toString("utf8"),
      })
      offset += 8 + size
    }
    pending = pending.subarray(offset)
    return out
  }
}
