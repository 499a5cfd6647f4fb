/**
 * The e2e harness: the agent as a separate process (the built bundle), driven through its HTTP API
 * and the real `podman` and `curl` command-line tools. Everything a test starts is stopped by PID,
 * and pods it leaves are found by the agent's owner label.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createServer as createHttpServer } from "node:http"
import { createServer, type Server } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { slirpProcessesFor } from "@beemesh/podman"
import { AGENT_NODE_OPTIONS } from "../../src/NodeOptions"

export const AGENT_DIR = join(dirname(fileURLToPath(import.meta.url)), "../..")
export const AGENT_BUNDLE = join(AGENT_DIR, "dist/agent.mjs")
export const SIDECAR_IMAGE = "localhost/beemesh/sidecar:0.1.0"

/** Fails with what is missing and how to get it, instead of skipping. */
export const requirePrerequisites = () => {
  const missing: Array<string> = []
  if (process.getuid?.() !== 0)
    missing.push("root (the e2e tests run rootful Podman and nftables; CI runs as root)")
  for (const [tool, fix] of [
    ["podman", "tooling/scripts/host-setup.sh"],
    ["slirp4netns", "tooling/scripts/host-setup.sh"],
    ["nft", "tooling/scripts/host-setup.sh"],
    ["curl", "apt-get install curl"],
  ] as const) {
    if (spawnSync(tool, ["--version"], { stdio: "ignore" }).error !== undefined)
      missing.push(`${tool} (${fix})`)
  }
  if (!existsSync(AGENT_BUNDLE))
    missing.push(`${AGENT_BUNDLE} (pnpm --filter @beemesh/agent build)`)
  if (spawnSync("podman", ["image", "exists", SIDECAR_IMAGE]).status !== 0) {
    missing.push(`image ${SIDECAR_IMAGE} (pnpm --filter @beemesh/sidecar image)`)
  }
  if (missing.length > 0) throw new Error(`e2e prerequisites missing:\n  ${missing.join("\n  ")}`)
}

export const run = (command: string, args: ReadonlyArray<string>, input?: string) => {
  const result = spawnSync(command, args, { encoding: "utf8", input, timeout: 60_000 })
  if (result.error !== undefined) throw result.error
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

/**
 * Like `run`, without blocking this process: a listener the test serves from this process must
 * stay able to answer while the command runs.
 */
export const runAsync = (command: string, args: ReadonlyArray<string>) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(command, [...args], { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") return reject(error)
      resolve({ status: error === null ? 0 : Number(error.code), stdout, stderr })
    })
  })

export const podman = (...args: ReadonlyArray<string>) => {
  const result = run("podman", args)
  if (result.status !== 0) throw new Error(`podman ${args.join(" ")} failed: ${result.stderr}`)
  return result.stdout.trim()
}

/** The pods labelled as owned by the agent with `peerId`. */
export const podsOwnedBy = (peerId: string): Array<string> =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name !== "")

/**
 * `podman pod rm -f -t 1 <name>`, again while it fails: Podman 4.3 fails a removal that races a
 * container's exit after removing part of the pod (the holder left alone), with "unlinkat
 * …/userdata/shm: device or resource busy" (the exit of the container's conmon) or "sending
 * SIGKILL … container state improper: stopped" (an app that ignores SIGTERM exiting as the stop
 * timeout ends); the next attempt finishes the job. Throws with Podman's last message.
 */
/**
 * Kills the processes of the pod's members Podman reports as `stopping`. A stop whose caller went
 * (an agent stopped, with its embedded Podman service, during a liveness kill's grace) leaves its
 * container `stopping` for good, and Podman 4.3's `pod rm -f` removes such a container from its
 * store with its conmon and app still running (found: liveness.test's `sick` app, which ignores
 * SIGTERM as PID 1, two hours after its run). The agent's own removals signal them (`stopPods`).
 */
const killStoppingMembers = (pod: string) => {
  const inspected = run("podman", ["pod", "inspect", pod, "--format", "json"])
  if (inspected.status !== 0) return
  const parsed = JSON.parse(inspected.stdout) as unknown
  const info = (Array.isArray(parsed) ? parsed[0] : parsed) as {
    Containers?: ReadonlyArray<{ Id: string; State: string }>
  }
  for (const member of info.Containers ?? []) {
    if (member.State !== "stopping") continue
    const pid = Number(run("podman", ["inspect", member.Id, "--format", "{{.State.Pid}}"]).stdout)
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // Gone meanwhile: what the kill was for.
      }
    }
  }
}

export const removePod = async (name: string, attempts = 8) => {
  killStoppingMembers(name)
  for (let attempt = 1; ; attempt++) {
    const removed = run("podman", ["pod", "rm", "-f", "-t", "1", name])
    if (removed.status === 0 || /no pod with name or ID/.test(removed.stderr)) return
    if (attempt >= attempts)
      throw new Error(
        `podman pod rm -f -t 1 ${name} failed ${attempts} times: ${removed.stderr.trim()}`,
      )
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/** `removePod` for each of `names`, every one tried; throws naming those that could not go. */
export const removePods = async (names: Iterable<string>) => {
  const failed: Array<string> = []
  for (const name of names)
    await removePod(name).catch((error: Error) => failed.push(error.message))
  if (failed.length > 0) throw new Error(`pods left behind: ${failed.join("; ")}`)
}

/**
 * Removes every pod the agent with `peerId` owns (after the agent stopped), again while any is
 * left, and throws naming what `podman pod rm` left and why: a pod whose app had just been
 * stopped was found half-removed (its holder alone) after a single `pod rm -f`.
 */
export const removePodsOwnedBy = async (peerId: string, attempts = 5) => {
  const failures = new Map<string, string>()
  for (let attempt = 0; attempt < attempts; attempt++) {
    const left = podsOwnedBy(peerId)
    if (left.length === 0) return
    for (const pod of left)
      await removePod(pod).catch((error: Error) => failures.set(pod, error.message))
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
  const left = podsOwnedBy(peerId)
  if (left.length > 0)
    throw new Error(
      `pods left behind after ${attempts} removals: ${left.map((pod) => `${pod} (${failures.get(pod) ?? "pod rm said nothing"})`).join(", ")}`,
    )
}

export const freePort = (host = "127.0.0.1") =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() =>
        resolve(typeof address === "object" && address !== null ? address.port : 0),
      )
    })
  })

/** An HTTP listener the test owns, answering a fixed text: the target of "blocked" checks. */
export const startListener = (host: string) =>
  new Promise<{ server: Server; port: number }>((resolve, reject) => {
    const server = createHttpServer((_, response) => response.end("reached-test-listener"))
    server.once("error", reject)
    server.listen(0, host, () => {
      const address = server.address()
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 })
    })
  })

/** Polls until `check` returns a value (not undefined) or the deadline passes, naming what it awaited. */
export const eventually = async <A>(
  what: string,
  check: () => Promise<A | undefined> | A | undefined,
  timeoutMs = 60_000,
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
      last = "not yet"
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

export interface AgentProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly token: string
  readonly logs: () => string
  readonly stop: () => Promise<number | null>
}

/** An unprivileged user to run the agent as (rootless Podman), with the environment it needs. */
export interface RunAs {
  readonly uid: number
  readonly gid: number
  readonly env: Readonly<Record<string, string>>
}

/**
 * Starts `beemesh-agent run` on loopback with its own data directory; resolves once /health
 * answers. With `runAs`, setpriv runs it as that user (exec, so the PID is the agent's);
 * `extraArgs` are further `run` options (e.g. --log-format json). `node.options` are the Node
 * options it runs with (default: the agent's own, NodeOptions.ts), `node.bundle` another build of
 * the agent (a benchmark comparing two).
 */
export const startAgent = async (
  dataDir: string,
  apiPort: number,
  runAs?: RunAs,
  extraArgs: ReadonlyArray<string> = [],
  node: { readonly options?: ReadonlyArray<string>; readonly bundle?: string } = {},
): Promise<AgentProcess> => {
  const argv = [
    ...(node.options ?? AGENT_NODE_OPTIONS),
    node.bundle ?? AGENT_BUNDLE,
    "run",
    "--data-dir",
    dataDir,
    "--api",
    `127.0.0.1:${apiPort}`,
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
    ...extraArgs,
  ]
  const child =
    runAs === undefined
      ? spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] })
      : spawn(
          "setpriv",
          [
            `--reuid=${runAs.uid}`,
            `--regid=${runAs.gid}`,
            "--clear-groups",
            process.execPath,
            ...argv,
          ],
          {
            stdio: ["ignore", "pipe", "pipe"],
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...runAs.env },
          },
        )
  let output = ""
  child.stdout?.on("data", (chunk) => (output += chunk))
  child.stderr?.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  )
  const url = `http://127.0.0.1:${apiPort}`
  try {
    await eventually(
      "the agent's /health",
      async () => {
        if (child.exitCode !== null)
          throw new Error(`agent exited with ${child.exitCode}:\n${output}`)
        const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) }).catch(
          () => undefined,
        )
        return response?.ok === true ? true : undefined
      },
      60_000,
    )
  } catch (error) {
    child.kill("SIGKILL")
    throw error
  }
  return {
    child,
    url,
    token: readFileSync(join(dataDir, "operator-token"), "utf8").trim(),
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

export const api = async (
  agent: AgentProcess,
  method: string,
  path: string,
  body?: string,
  token = agent.token,
  timeoutMs = 120_000,
) => {
  const response = await fetch(`${agent.url}${path}`, {
    method,
    headers: token === "" ? {} : { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const text = await response.text()
  return {
    status: response.status,
    json: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>),
  }
}

/** PIDs of slirp4netns processes serving a network namespace path. */
export const slirpFor = (netnsPath: string) => slirpProcessesFor(netnsPath).map((p) => p.pid)

/** The network namespace path of a pod: its holder container's. */
export const sandboxOf = (pod: string) =>
  podman("inspect", `${pod}-holder`, "--format", "{{.NetworkSettings.SandboxKey}}")

/**
 * Runs a command inside an app container as root of its user namespace. `podman exec` cannot
 * enter an app (runc 1.1 joins its user namespace first, then may not join the pod's network
 * namespace); util-linux nsenter enters the user namespace last. `pidOf` reads the container's PID
 * (rootful or the test user's Podman); this process is root, so it may enter either.
 */
export const appExec = (
  container: string,
  args: ReadonlyArray<string>,
  pidOf: (container: string) => string = (c) => podman("inspect", c, "--format", "{{.State.Pid}}"),
) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
    const argv = [`--target=${pidOf(container)}`, "--all", "--", ...args]
    execFile("nsenter", argv, { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error === null) return resolve({ status: 0, stdout, stderr })
      // nsenter re-raises a signal that ended the command (busybox timeout kills with SIGTERM).
      if (typeof error.code === "number" || error.signal != null)
        return resolve({
          status: typeof error.code === "number" ? error.code : 128,
          stdout,
          stderr,
        })
      reject(error)
    })
  })
