/**
 * A rootless simulated host: its agent runs as an unprivileged user on that user's rootless Podman
 * (the agent's embedded service), with a HOME and XDG_RUNTIME_DIR of the host's own. Rootless
 * Podman keys its storage on HOME and its pause process (the user namespace every container of
 * the store lives in) on XDG_RUNTIME_DIR, so each such host has a store and a user namespace of
 * its own, and removing every pod of that store touches nothing else of the user's.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs"
import { basename, dirname, join } from "node:path"
import { must, run } from "./exec"
import { readPid, stopPid } from "./processes"

export interface HostUser {
  readonly uid: number
  readonly gid: number
  /** HOME and XDG_RUNTIME_DIR of this host's rootless Podman. */
  readonly env: Readonly<Record<string, string>>
}

const userDir = (hostDir: string) => join(hostDir, "user")

/**
 * The host's XDG_RUNTIME_DIR: short and outside the run directory, because rootless Podman keeps
 * slirp4netns's API socket (`port_handler=slirp4netns`) at `$XDG_RUNTIME_DIR/libpod/tmp/<64-hex
 * id>.net`, and a unix socket path must stay under 108 bytes. Named after the run and the host,
 * so that the sweeper finds it from the host's directory.
 */
const runtimeDir = (hostDir: string) =>
  join("/tmp", `bmh-${basename(dirname(hostDir))}-${basename(hostDir)}`)

const userEnv = (hostDir: string) => ({
  HOME: join(userDir(hostDir), "home"),
  XDG_RUNTIME_DIR: runtimeDir(hostDir),
})

/** `setpriv` arguments that run the rest of the argument vector as the host's user. */
export const asUser = (user: HostUser) => [
  "setpriv",
  `--reuid=${user.uid}`,
  `--regid=${user.gid}`,
  "--clear-groups",
]

/**
 * Prepares the host's directory for `name` (an existing user with subordinate IDs, as host setup
 * makes `beemesh-test`): the user owns the host directory; the run directory and the one above it
 * let it pass through.
 */
export const prepareHostUser = async (
  name: string,
  runDir: string,
  hostDir: string,
): Promise<HostUser> => {
  const ids = await run(["id", "-u", name])
  if (ids.status !== 0)
    throw new Error(`user ${name} is missing: run tooling/scripts/host-setup.sh as root`)
  const uid = Number(ids.stdout.trim())
  const gid = Number(await must(["id", "-g", name]))
  const env = userEnv(hostDir)
  // Traversable (not listable) down to the host's directory.
  for (const dir of [dirname(runDir), runDir]) chmodSync(dir, statSync(dir).mode | 0o111)
  for (const dir of [hostDir, userDir(hostDir), env.HOME, env.XDG_RUNTIME_DIR]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chownSync(dir, uid, gid)
  }
  return { uid, gid, env }
}

/** The podman CLI as the host's user, on the host's rootless store. */
export const userPodman = (user: HostUser, args: ReadonlyArray<string>, timeoutMs = 120_000) =>
  run([...asUser(user), "podman", ...args], { env: user.env, timeoutMs })

/**
 * Removes every pod of a rootless host's store and stops its pause process (by its PID file),
 * if the host has one; used by teardown and by the sweeper.
 */
export const sweepHostUser = async (hostDir: string) => {
  const user = hostUserOf(hostDir)
  if (user === undefined) return
  await userPodman(user, ["pod", "rm", "--all", "--force", "--time", "0"]).catch(() => undefined)
  const pauseFile = join(userEnv(hostDir).XDG_RUNTIME_DIR, "libpod/tmp/pause.pid")
  const pause = existsSync(pauseFile) ? readPid(pauseFile) : undefined
  if (pause !== undefined && isPause(pause)) await stopPid(pause, 2_000)
  // Outside the run directory, which the sweeper unmounts and removes as a whole.
  const runtime = userEnv(hostDir).XDG_RUNTIME_DIR
  for (const point of mountsUnder(runtime)) await run(["umount", "-l", point])
  rmSync(runtime, { recursive: true, force: true })
}

const mountsUnder = (dir: string) =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point?.startsWith(`${dir}/`) === true)
    .sort((a, b) => b.length - a.length)

/** The user of a rootless host, from its directory; undefined for a rootful host. */
export const hostUserOf = (hostDir: string): HostUser | undefined => {
  const env = userEnv(hostDir)
  if (!existsSync(env.XDG_RUNTIME_DIR)) return undefined
  const { uid, gid } = statSync(userDir(hostDir))
  return { uid, gid, env }
}

/** A PID file can outlive its process and the PID be reused: check it is catatonit's pause. */
const isPause = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("catatonit")
  } catch {
    return false
  }
}
