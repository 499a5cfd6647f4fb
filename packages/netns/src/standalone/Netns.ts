/**
 * Network namespaces as scoped resources: created with `ip netns add` under a unique name,
 * entered with `nsenter --net=…`, deleted when the scope closes.
 */
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { open } from "node:fs/promises"
import { Context, Data, Effect, Layer, type Scope } from "effect"
import type { CommandError, CommandFailed, CommandNotFound } from "../Errors.js"
import { HostTools } from "../HostTools.js"
import { type CommandResult, type RunOptions, run } from "../internal/command.js"
import { enterArgv } from "../internal/namespaceEntry.js"
import { type ScopedProcess, spawnScoped } from "../internal/process.js"
import { releaseOnFailure } from "../internal/scope.js"
import type { NamespaceTarget, RunAs } from "../NamespaceTarget.js"

export type { CommandResult } from "../internal/command.js"
export type { ScopedProcess } from "../internal/process.js"

/** `ip netns add` or `ip netns delete` failed. */
export class NetnsFailed extends Data.TaggedError("NetnsFailed")<{
  readonly operation: "create" | "delete"
  readonly name: string
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `cannot ${this.operation} network namespace ${this.name}: ${this.reason}; fix: ${this.hint}`
  }
}

export interface NetnsHandle {
  readonly name: string
  /** `/run/netns/<name>` (what `ip netns` shows). */
  readonly path: string
  /**
   * `/proc/<our pid>/fd/<n>`: the same namespace through a descriptor this handle holds, valid
   * even if the /run/netns mount is detached. Usable by root and by processes of our own UID.
   */
  readonly pinned: string
  /** The target other services take (uses `pinned`). */
  readonly target: NamespaceTarget
}

export interface CreateOptions {
  /**
   * Start of the generated name (default `beemesh`); the name is `<prefix>-<owner pid>-<random>`.
   */
  readonly namePrefix?: string
}

export interface ExecOptions extends RunOptions {
  /** Run as this user inside the namespace (via setpriv, after entering). */
  readonly runAs?: RunAs
}

export interface NetnsShape {
  /** A fresh named network namespace (only `lo`, down), deleted when the scope closes. */
  readonly create: (options?: CreateOptions) => Effect.Effect<NetnsHandle, NetnsFailed, Scope.Scope>
  /** Runs a program inside a namespace to completion. */
  readonly exec: (
    target: NamespaceTarget,
    argv: ReadonlyArray<string>,
    options?: ExecOptions,
  ) => Effect.Effect<CommandResult, CommandError>
  /**
   * Deletes namespaces this package created under `namePrefix` whose owning process is gone (left
   * by a crash). Never touches other names or namespaces of live owners. Returns what it removed.
   */
  readonly sweep: (namePrefix: string) => Effect.Effect<ReadonlyArray<string>, CommandError>
  /** Starts a long-running program inside a namespace; the scope stops its process group. */
  readonly spawn: (
    target: NamespaceTarget,
    argv: ReadonlyArray<string>,
    options?: { readonly runAs?: RunAs },
  ) => Effect.Effect<ScopedProcess, CommandNotFound | CommandFailed, Scope.Scope>
}

const NETNS_DIR = "/run/netns"

const hintFor = (error: CommandError) =>
  error._tag === "CommandNotFound"
    ? error.hint
    : "run as root (ip netns needs CAP_SYS_ADMIN), or use a rootless namespace target"

const make = Effect.gen(function* () {
  const tools = yield* HostTools

  const createIn = Effect.fn("Netns.create")(function* (options: CreateOptions = {}) {
    // The owner's PID in the name lets `sweep` tell orphans (owner gone) from live namespaces.
    const name = `${options.namePrefix ?? "beemesh"}-${process.pid}-${randomBytes(4).toString("hex")}`
    const path = `${NETNS_DIR}/${name}`
    yield* Effect.acquireRelease(
      run(tools, [tools.ip, "netns", "add", name]).pipe(
        Effect.mapError(
          (error) =>
            new NetnsFailed({
              operation: "create",
              name,
              reason: error.message,
              hint: hintFor(error),
            }),
        ),
      ),
      () =>
        run(tools, [tools.ip, "netns", "delete", name]).pipe(
          Effect.tapError((error) =>
            Effect.logWarning(`network namespace ${name} not deleted: ${error.message}`),
          ),
          Effect.ignore,
        ),
    )
    // Pin the namespace with an open descriptor and address it through /proc/<pid>/fd/<n>: the
    // bind mount under /run/netns can be detached behind our back (a slirp4netns --enable-sandbox
    // run in the host mount namespace on a host whose /run is not a mount point does exactly
    // that), the descriptor cannot. Released before the delete above (finalizers run in reverse).
    const pin = yield* Effect.acquireRelease(
      Effect.tryPromise(() => open(path, "r")).pipe(
        Effect.mapError(
          (cause) =>
            new NetnsFailed({
              operation: "create",
              name,
              reason: `cannot open ${path}: ${String(cause)}`,
              hint: "check that /run/netns is writable and ip netns works",
            }),
        ),
      ),
      (handle) => Effect.promise(() => handle.close()),
    )
    const pinned = `/proc/${process.pid}/fd/${pin.fd}`
    return { name, path, pinned, target: { path: pinned } } satisfies NetnsHandle
  })

  const create = (options: CreateOptions = {}) => releaseOnFailure(createIn(options))

  const exec = Effect.fn("Netns.exec")(function* (
    target: NamespaceTarget,
    argv: ReadonlyArray<string>,
    options: ExecOptions = {},
  ) {
    return yield* run(tools, enterArgv(tools, target, argv, options.runAs), options)
  })

  const spawn = (
    target: NamespaceTarget,
    argv: ReadonlyArray<string>,
    options: { readonly runAs?: RunAs } = {},
  ) =>
    spawnScoped(tools, enterArgv(tools, target, argv, options.runAs)).pipe(
      Effect.withSpan("Netns.spawn"),
    )

  const sweep = Effect.fn("Netns.sweep")(function* (namePrefix: string) {
    const listed = yield* run(tools, [tools.ip, "netns", "list"])
    const pattern = new RegExp(`^${namePrefix.replace(/[^A-Za-z0-9_-]/g, "")}-(\\d+)-[0-9a-f]{8}$`)
    const removed: Array<string> = []
    for (const line of listed.stdout.split("\n")) {
      const name = line.split(" ")[0] ?? ""
      const owner = pattern.exec(name)?.[1]
      if (owner === undefined || existsSync(`/proc/${owner}`)) continue
      yield* run(tools, [tools.ip, "netns", "delete", name])
      removed.push(name)
    }
    return removed
  })

  return { create, exec, spawn, sweep } satisfies NetnsShape
})

export class Netns extends Context.Service<Netns, NetnsShape>()("@beemesh/netns/Netns") {
  static readonly layer = Layer.effect(Netns, make)
}
