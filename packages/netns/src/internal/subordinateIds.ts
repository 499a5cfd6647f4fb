/** Reading /etc/subuid and /etc/subgid, whose ranges a rootless user's pods map into. */

export interface SubordinateRange {
  readonly start: number
  readonly count: number
}

/** Ranges for a user (by name or UID) in /etc/subuid-style text. */
export const subordinateRanges = (
  text: string,
  user: string,
  uid: number,
): ReadonlyArray<SubordinateRange> =>
  text
    .split("\n")
    .map((line) => line.trim().split(":"))
    .filter((f) => f.length === 3 && (f[0] === user || f[0] === String(uid)))
    .map((f) => ({ start: Number(f[1]), count: Number(f[2]) }))
    .filter((r) => Number.isInteger(r.start) && Number.isInteger(r.count))
