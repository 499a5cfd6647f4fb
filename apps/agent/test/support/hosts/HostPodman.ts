/**
 * One Podman per simulated host: its own storage (`--root`), run and libpod directories
 * (`--runroot`, `--tmpdir`) and its own `podman system service`, started inside the host's network
 * namespace so the slirp4netns and port forwarders of its pods live there too. The generated
 * containers.conf selects file locks under the host's tmpdir: with the default shared-memory locks
 * every Podman on the machine shares one lock table, and a new store's first start ("state
 * refresh") frees all of it, including locks held by the machine's own containers.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { inNetns, must, run } from "./exec"
import { isAlive, readPid, startDetached, stopPid } from "./processes"
import { waitFor } from "./wait"

export interface HostPodmanPaths {
  readonly dir: string
  readonly root: string
  readonly runroot: string
  readonly tmpdir: string
  readonly conf: string
  readonly socket: string
  readonly pidFile: string
  readonly logFile: string
}

export const hostPodmanPaths = (hostDir: string): HostPodmanPaths => ({
  dir: hostDir,
  root: join(hostDir, "podman/root"),
  runroot: join(hostDir, "podman/runroot"),
  // Short: slirp4netns's API socket (port_handler=slirp4netns) is `<tmpdir>/<64-hex id>.net`, and
  // a unix socket path must stay under 108 bytes.
  tmpdir: join(hostDir, "t"),
  conf: join(hostDir, "podman/containers.conf"),
  socket: join(hostDir, "podman.sock"),
  pidFile: join(hostDir, "podman.pid"),
  logFile: join(hostDir, "podman.log"),
})

/** This process's hard limits, which container rlimits must not exceed (runc fails otherwise). */
const hardLimits = () => {
  const limits = readFileSync("/proc/self/limits", "utf8")
  const hard = (label: string, fallback: number) => {
    const value = new RegExp(`^${label}\\s+\\S+\\s+(\\S+)`, "m").exec(limits)?.[1]
    return value === undefined || value === "unlimited" ? fallback : Number(value)
  }
  const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim())
  return {
    nofile: Math.min(hard("Max open files", 1_048_576), 1_048_576),
    nproc: Math.min(hard("Max processes", pidMax), pidMax),
  }
}

const containersConf = () => {
  const { nofile, nproc } = hardLimits()
  return [
    "# Written by the Beemesh simulated-host harness for one host's Podman.",
    "[containers]",
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
    "[engine]",
    'runtime = "runc"',
    'lock_type = "file"',
    'events_logger = "file"',
    "",
  ].join("\n")
}

/** Podman on this host's own store, without the service (used when the service is gone). */
export const localPodman = (paths: HostPodmanPaths, args: ReadonlyArray<string>) =>
  run(
    ["podman", "--root", paths.root, "--runroot", paths.runroot, "--tmpdir", paths.tmpdir, ...args],
    { env: { CONTAINERS_CONF: paths.conf }, timeoutMs: 120_000 },
  )

/** The podman CLI as a client of this host's service. */
export const remotePodmanArgv = (paths: HostPodmanPaths, args: ReadonlyArray<string>) => [
  "podman",
  "--remote",
  "--url",
  `unix://${paths.socket}`,
  ...args,
]

export const remotePodman = (
  paths: HostPodmanPaths,
  args: ReadonlyArray<string>,
  timeoutMs = 120_000,
) => run(remotePodmanArgv(paths, args), { timeoutMs })

/** Starts the host's Podman service in its namespace; resolves once it answers. */
export const startHostPodman = async (paths: HostPodmanPaths, netns: string) => {
  await must(["mkdir", "-p", paths.root, paths.runroot, paths.tmpdir])
  writeFileSync(paths.conf, containersConf())
  const pid = startDetached({
    argv: inNetns(netns, [
      "podman",
      "--root",
      paths.root,
      "--runroot",
      paths.runroot,
      "--tmpdir",
      paths.tmpdir,
      "system",
      "service",
      "--time=0",
      `unix://${paths.socket}`,
    ]),
    env: { CONTAINERS_CONF: paths.conf },
    logFile: paths.logFile,
    pidFile: paths.pidFile,
  })
  await waitFor(
    `the Podman service of ${paths.dir} on ${paths.socket} (log: ${paths.logFile})`,
    async () => {
      if (!isAlive(pid))
        throw new Error(`it exited: ${readFileSync(paths.logFile, "utf8").slice(-500)}`)
      return (await remotePodman(paths, ["version", "--format", "{{.Server.Version}}"], 5_000))
        .status === 0
        ? true
        : undefined
    },
    30_000,
  )
  return pid
}

/** Removes every pod of this host's store (through the service if it runs, else directly). */
export const removeAllPods = async (paths: HostPodmanPaths) => {
  const pid = readPid(paths.pidFile)
  const args = ["pod", "rm", "--all", "--force", "--time", "0"]
  const result =
    pid !== undefined && isAlive(pid)
      ? await remotePodman(paths, args)
      : await localPodman(paths, args)
  return result.status === 0
}

export const stopHostPodman = async (paths: HostPodmanPaths) => {
  const pid = readPid(paths.pidFile)
  if (pid !== undefined) await stopPid(pid, 5_000)
}
