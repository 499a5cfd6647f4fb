import { existsSync, readlinkSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import net from "node:net"
import { fileURLToPath } from "node:url"
import { Effect, Layer, type Scope } from "effect"
import { execa } from "execa"
import { defaultHostTools } from "../../src/HostTools.js"
import { type ScopedProcess, spawnScoped } from "../../src/internal/process.js"
import { netnsLayer } from "../../src/Layers.js"
import type { NamespaceTarget, RunAs } from "../../src/NamespaceTarget.js"
import { standaloneLayer } from "../../src/standalone/index.js"
import { Netns } from "../../src/standalone/Netns.js"

export const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
export const NODE = process.execPath

export const TestLayer = Layer.mergeAll(netnsLayer(), standaloneLayer())

/** Fails (not skips) naming what is missing. */
export const requirePrerequisites = () => {
  if (process.getuid?.() !== 0) {
    throw new Error("integration tests need root (CI runs as root): ip netns, nft, setpriv")
  }
  for (const tool of ["slirp4netns", "nft", "ip", "nsenter", "unshare", "setpriv"]) {
    const found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].some((d) => existsSync(`${d}/${tool}`))
    if (!found) throw new Error(`missing prerequisite: ${tool} (run tooling/scripts/host-setup.sh)`)
  }
}

export interface HostListener {
  readonly port: number
  readonly accepted: Array<string>
}

/** A TCP listener on the host's loopback that this test owns; closed with the scope. */
export const hostListener = (
  host: "127.0.0.1" | "::1",
): Effect.Effect<HostListener, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ server: net.Server; listener: HostListener }>((resume) => {
      const accepted: Array<string> = []
      const server = net.createServer((socket) => {
        accepted.push(socket.remoteAddress ?? "?")
        socket.on("data", () => socket.end("pong host\n"))
        socket.on("error", () => {})
      })
      server.listen(0, host, () => {
        const port = (server.address() as net.AddressInfo).port
        resume(Effect.succeed({ server, listener: { port, accepted } }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      }),
  ).pipe(Effect.map(({ listener }) => listener))

export interface ClientResult {
  readonly outcome: "connected" | "error" | "timeout"
  readonly output: string
}

/** Connects from inside the namespace (as `runAs`) with the fixture client. */
export const connectFrom = (
  target: NamespaceTarget,
  host: string,
  port: number,
  runAs?: RunAs,
  timeoutMs = 3000,
) =>
  Effect.gen(function* () {
    const netns = yield* Netns
    const result = yield* netns
      .exec(target, [NODE, fixture("client.mjs"), host, String(port), String(timeoutMs)], {
        ...(runAs === undefined ? {} : { runAs }),
        timeoutMs: timeoutMs + 10_000,
      })
      .pipe(
        Effect.map((r) => r.stdout),
        Effect.catchTag("CommandFailed", (e) => Effect.succeed(e.stderr)),
      )
    const output = result.trim()
    const outcome = output.startsWith("connected")
      ? "connected"
      : output.startsWith("timeout")
        ? "timeout"
        : "error"
    return { outcome, output } satisfies ClientResult
  })

/** Waits until a process prints a line matching `pattern`, or fails naming what it waited for. */
export const waitForOutput = (proc: ScopedProcess, pattern: RegExp, timeoutMs = 10_000) =>
  Effect.callback<string, Error>((resume) => {
    const check = () => {
      const m = pattern.exec(proc.stdoutText())
      if (m) {
        clearInterval(timer)
        resume(Effect.succeed(m[0]))
      }
    }
    const timer = setInterval(check, 20)
    const deadline = setTimeout(() => {
      clearInterval(timer)
      resume(
        Effect.fail(
          new Error(
            `waited ${timeoutMs} ms for ${pattern} from ${proc.argv.join(" ")}; stdout=${proc.stdoutText()} stderr=${proc.stderrText()}`,
          ),
        ),
      )
    }, timeoutMs)
    check()
    return Effect.sync(() => {
      clearInterval(timer)
      clearTimeout(deadline)
    })
  })

/** A listener inside the namespace (fixture), stopped with the scope. */
export const netnsListener = (target: NamespaceTarget, host: string, port: number) =>
  Effect.gen(function* () {
    const netns = yield* Netns
    const proc = yield* netns.spawn(target, [NODE, fixture("listen.mjs"), host, String(port)])
    yield* waitForOutput(proc, /listening \d+/)
    return proc
  })

/** A free TCP port on the host's loopback (bound then released). */
export const freePort = () =>
  Effect.callback<number>((resume) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** One TCP round trip to the host's loopback (port forward check). */
export const connectHost = (host: string, port: number, timeoutMs = 2000) =>
  Effect.callback<ClientResult>((resume) => {
    const socket = net.createConnection({ host, port })
    let reply = ""
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.succeed({ outcome: "timeout", output: reply }))
    }, timeoutMs)
    socket.on("connect", () => socket.end("ping\n"))
    socket.on("data", (d) => {
      reply += d.toString()
    })
    socket.on("end", () => {
      clearTimeout(timer)
      resume(
        Effect.succeed({ outcome: reply === "" ? "error" : "connected", output: reply.trim() }),
      )
    })
    socket.on("error", (e) => {
      clearTimeout(timer)
      resume(Effect.succeed({ outcome: "error", output: e.message }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** Is a process with this PID still alive (and not a zombie)? */
export const processAlive = async (pid: number) => {
  const r = await execa("ps", ["-o", "stat=", "-p", String(pid)], { reject: false })
  return r.exitCode === 0 && !String(r.stdout).trim().startsWith("Z")
}

export const netnsExists = async (name: string) => {
  const r = await execa("ip", ["netns", "list"])
  return String(r.stdout)
    .split("\n")
    .some((line) => line.split(" ")[0] === name)
}

/** Waits until process `pid` (just started under `unshare --user`) is in a user namespace of its own. */
export const awaitOwnUserNamespace = (pid: number) =>
  Effect.gen(function* () {
    const ours = readlinkSync("/proc/self/ns/user")
    const deadline = Date.now() + 5000
    while (readlinkSync(`/proc/${pid}/ns/user`) === ours) {
      if (Date.now() > deadline)
        return yield* Effect.die(new Error("unshare --user did not start within 5 s"))
      yield* Effect.sleep(10)
    }
  })

/**
 * A process in a new user + network namespace whose UIDs/GIDs 0..count-1 map to host IDs
 * first..first+count-1 (the layout rootless Podman gets from /etc/subuid), stopped with the scope.
 * Returns its PID.
 */
export const userNamespaceHolder = (first: number, count: number) =>
  Effect.gen(function* () {
    const holder = yield* spawnScoped(defaultHostTools(), [
      "unshare",
      "--user",
      "--net",
      "--",
      "sleep",
      "600",
    ])
    yield* awaitOwnUserNamespace(holder.pid)
    yield* Effect.promise(() => writeFile(`/proc/${holder.pid}/uid_map`, `0 ${first} ${count}\n`))
    yield* Effect.promise(() => writeFile(`/proc/${holder.pid}/gid_map`, `0 ${first} ${count}\n`))
    return holder.pid
  })

/** Waits until process `pid` (just started under `unshare --net`) is in a network namespace of its own. */
export const awaitOwnNetworkNamespace = (pid: number) =>
  Effect.gen(function* () {
    const ours = readlinkSync("/proc/self/ns/net")
    const deadline = Date.now() + 5000
    while (readlinkSync(`/proc/${pid}/ns/net`) === ours) {
      if (Date.now() > deadline)
        return yield* Effect.die(new Error("unshare --net did not start within 5 s"))
      yield* Effect.sleep(10)
    }
  })

/**
 * A process holding a new network namespace (no slirp4netns: nftables needs none), stopped with the
 * scope or earlier by `destroy`, after which the namespace is gone.
 */
export const networkNamespaceHolder = Effect.gen(function* () {
  const holder = yield* spawnScoped(defaultHostTools(), ["unshare", "--net", "--", "sleep", "600"])
  yield* awaitOwnNetworkNamespace(holder.pid)
  const destroy = Effect.gen(function* () {
    yield* Effect.sync(() => process.kill(holder.pid, "SIGKILL"))
    yield* holder.exited
  }).pipe(Effect.ignore)
  return { target: { pid: holder.pid } satisfies NamespaceTarget, destroy }
})
