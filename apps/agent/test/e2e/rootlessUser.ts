/**
 * The unprivileged `beemesh-test` user (made by host setup, with subordinate IDs) that rootless
 * e2e tests run the agent as, and that user's own Podman store, driven as that user.
 */
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type AgentProcess,
  freePort,
  type RunAs,
  requirePrerequisites,
  run,
  runAsync,
  SIDECAR_IMAGE,
  startAgent,
} from "./support"

export const ROOTLESS_USER = "beemesh-test"

/** The user with its HOME and XDG_RUNTIME_DIR (made and given to it if missing). */
export const rootlessUser = (): RunAs => {
  const ids = run("id", ["-u", ROOTLESS_USER])
  if (ids.status !== 0)
    throw new Error(`user ${ROOTLESS_USER} is missing: run tooling/scripts/host-setup.sh as root`)
  const uid = Number(ids.stdout)
  const gid = Number(run("id", ["-g", ROOTLESS_USER]).stdout)
  const home = `/home/${ROOTLESS_USER}`
  const runtimeDir = `/run/user/${uid}`
  for (const dir of [home, runtimeDir]) {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 })
    chownSync(dir, uid, gid)
  }
  return { uid, gid, env: { HOME: home, XDG_RUNTIME_DIR: runtimeDir } }
}

/** The user's podman, with its own environment (no shell: an argument vector). */
const asUser = (user: RunAs, args: ReadonlyArray<string>) => [
  `--reuid=${user.uid}`,
  `--regid=${user.gid}`,
  "--clear-groups",
  "env",
  ...Object.entries(user.env).map(([k, v]) => `${k}=${v}`),
  "podman",
  ...args,
]
export const podmanAs = (user: RunAs, args: ReadonlyArray<string>) =>
  run("setpriv", asUser(user, args))
export const podmanAsAsync = (user: RunAs, args: ReadonlyArray<string>) =>
  runAsync("setpriv", asUser(user, args))

/** The PID of a container of the user's Podman. */
export const containerPidAs = (user: RunAs) => (container: string) =>
  podmanAs(user, ["inspect", container, "--format", "{{.State.Pid}}"]).stdout.trim()

export const podsAs = (user: RunAs) =>
  podmanAs(user, ["pod", "ls", "--format", "{{.Name}}"])
    .stdout.split("\n")
    .filter((name) => name !== "")
    .sort()

/**
 * Copies an image from root's store into the user's (nothing is pulled); skipped when the user's
 * has the same image (a tag left from an earlier build would test old code).
 */
export const loadIntoUserStore = (user: RunAs, image: string) => {
  const idOf = (result: { status: number; stdout: string }) =>
    result.status === 0 ? result.stdout.trim() : undefined
  const rootId = idOf(run("podman", ["image", "inspect", "--format", "{{.Id}}", image]))
  const userId = idOf(podmanAs(user, ["image", "inspect", "--format", "{{.Id}}", image]))
  if (userId !== undefined && userId === rootId) return
  const archive = join(tmpdir(), `beemesh-rootless-${process.pid}.tar`)
  try {
    execFileSync("podman", ["save", "--format", "oci-archive", "-o", archive, image])
    chmodSync(archive, 0o644)
    const loaded = podmanAs(user, ["load", "-i", archive])
    if (loaded.status !== 0)
      throw new Error(`loading ${image} for ${ROOTLESS_USER} failed: ${loaded.stderr}`)
  } finally {
    rmSync(archive, { force: true })
  }
}

/**
 * Removes every pod of the user's store, then stops its pause process (catatonit -P, which holds
 * the store's user namespace) by the PID file in its run directory: only this store's, never
 * another store's of the same user.
 */
export const sweepUserPodman = (user: RunAs) => {
  for (const pod of podsAs(user)) podmanAs(user, ["pod", "rm", "-f", "-t", "1", pod])
  const pauseFile = join(user.env.XDG_RUNTIME_DIR ?? "", "libpod/tmp/pause.pid")
  if (!existsSync(pauseFile)) return
  const pid = Number(readFileSync(pauseFile, "utf8").trim())
  // A PID file can outlive its process and the PID be reused: check it is catatonit's pause.
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8")
    } catch {
      return ""
    }
  })()
  if (Number.isInteger(pid) && pid > 0 && cmdline.startsWith("catatonit"))
    process.kill(pid, "SIGKILL")
}

/**
 * Holds the rootless user's store for this file alone: there is one per machine (its HOME and
 * XDG_RUNTIME_DIR), and closing a rootless agent sweeps every pod in it, so e2e files that use it
 * run one after another while other files run beside them. A `flock` child holds a lock on the
 * user's HOME until its input ends (the returned release, or this process ending).
 */
export const holdRootlessStore = (user: RunAs, timeoutSeconds = 240) =>
  new Promise<() => Promise<void>>((resolve, reject) => {
    const home = user.env.HOME ?? `/home/${ROOTLESS_USER}`
    const holder = spawn(
      "flock",
      ["--exclusive", "--timeout", String(timeoutSeconds), home, "sh", "-c", "echo held; exec cat"],
      { stdio: ["pipe", "pipe", "pipe"] },
    )
    let output = ""
    const exited = new Promise<void>((done) => holder.once("close", () => done()))
    const release = async () => {
      holder.stdin.end()
      await exited
    }
    holder.stderr.on("data", (chunk) => (output += chunk))
    holder.stdout.on("data", (chunk) => {
      output += chunk
      if (output.includes("held")) resolve(release)
    })
    holder.once("error", (error) => reject(new Error(`flock could not start: ${error.message}`)))
    holder.once("exit", (code) => {
      if (!output.includes("held"))
        reject(
          new Error(
            `the rootless user's store stayed held by another e2e file for ${timeoutSeconds} s (flock ${home} exited ${code}: ${output.trim()})`,
          ),
        )
    })
  })

/** The agent run by the rootless user on a data directory of its own. */
export interface RootlessAgent {
  readonly user: RunAs
  readonly dataDir: string
  /** The API port of the first start. */
  readonly apiPort: number
  /** The agent of the last `start`. */
  readonly agent: () => AgentProcess
  /** Starts the agent again on the same data directory and a fresh port (stop the last first). */
  readonly start: () => Promise<AgentProcess>
  /**
   * Stops the agent, removes the user's pods and pause process, then the data directory, and lets
   * the user's store go to the next file.
   */
  readonly close: () => Promise<void>
}

/**
 * Starts the agent as the rootless user: `appImages` (built in root's store: test/e2e/globalSetup.ts)
 * and the sidecar's image are copied into the user's store, and the agent runs on a data directory of
 * its own (named after `prefix`) owned by the user. Holds the user's store (`holdRootlessStore`)
 * until `close`. Leaves nothing behind when it fails.
 */
export const startRootlessAgent = async (
  prefix: string,
  appImages: ReadonlyArray<string>,
): Promise<RootlessAgent> => {
  requirePrerequisites()
  const user = rootlessUser()
  const release = await holdRootlessStore(user)
  let dataDir: string | undefined
  let agent: AgentProcess | undefined
  const close = async () => {
    try {
      await agent?.stop()
      // Removes the pods and the pause process: the user namespace, with any tmpfs left in it, ends.
      sweepUserPodman(user)
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
    } finally {
      await release()
    }
  }
  const start = async () => {
    if (dataDir === undefined) throw new Error("the rootless agent was never started")
    agent = await startAgent(dataDir, await freePort(), user)
    return agent
  }
  try {
    for (const image of [SIDECAR_IMAGE, ...appImages]) loadIntoUserStore(user, image)
    dataDir = await mkdtemp(join(tmpdir(), prefix))
    chownSync(dataDir, user.uid, user.gid)
    const apiPort = await freePort()
    agent = await startAgent(dataDir, apiPort, user)
    return { user, dataDir, apiPort, agent: () => agent!, start, close }
  } catch (error) {
    await close()
    throw error
  }
}
