/**
 * Mounts below a directory, read from a mountinfo text (this process's, or another namespace's
 * read by a command run there): how the volume tests see what is mounted and what is left.
 */
import { readFile } from "node:fs/promises"

/** The mountinfo lines of the mounts below `dir` (not `dir` itself). */
export const mountLinesUnder = (mountinfo: string, dir: string) =>
  mountinfo.split("\n").filter((line) => (line.split(" ")[4] ?? "").startsWith(`${dir}/`))

/** The mount points below `dir`, sorted. */
export const mountPointsUnder = (mountinfo: string, dir: string) =>
  mountLinesUnder(mountinfo, dir)
    .map((line) => line.split(" ")[4] ?? "")
    .sort()

/** This process's mountinfo: the host's mount namespace for the tests, which run as root there. */
export const hostMountinfo = () => readFile("/proc/self/mountinfo", "utf8")
