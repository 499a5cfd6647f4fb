/**
 * Network namespaces as scoped resources: created with `ip netns add` under a unique name,
 * entered with `nsenter --net=…`, deleted when the scope closes.
 */
import { randomBytes } from "node:crypto"
import { open } from "node:fs/promises"
import { Context, Data, Effect, Layer, type Scope } from "effect"
import type { CommandError, CommandFailed, CommandNotFound } from "./Errors.js"
import { HostTools } from "./HostTools.js"
import { type CommandResult, type RunOptions, run } from "./internal/command.js"
import { type ScopedProcess, spawnScoped } from "./internal/process.js"
import { enterArgv, type NamespaceTarget, type RunAs } from "./NamespaceTarget.js"

export type { CommandResult } from "./internal/command.js"
export type { ScopedProcess } from "./internal/process.js"

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
  /** Start of the generated name (default `beemesh`); a random suffix makes it unique. */
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
  /** Starts a long-running program inside a namespace; the scope stops its process group. */
  readonly spawn: (
    target: NamespaceTarget,
    argv: ReadonlyArray<string>,
    options?: { readonly runAs?: RunAs },
  ) => Effect.Effect<ScopedProcess, CommandNotFound | CommandFailed, Scope.Scope>
}

export const NETNS_DIR = "/run/netns"

const hintFor = (error: CommandError) =>
  error._tag === "CommandNotFound"
    ? error.hint
    : "run as root (ip netns needs CAP_SYS_ADMIN), or use a rootless namespace target"

const make = Effect.gen(function* () {
  const tools = yield* HostTools

  const create = Effect.fn("Netns.create")(function* (options: CreateOptions = {}) {
    const name = `${options.namePrefix ?? "beemesh"}-${randomBytes(4).toString("hex")}`
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

  return { create, exec, spawn } satisfies NetnsShape
})

export class Netns extends Context.Service<Netns, NetnsShape>()("@beemesh/netns/Netns") {
  static readonly layer = Layer.effect(Netns, make)
}
