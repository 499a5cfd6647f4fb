/**
 * The Egress service: puts an EgressPolicy in force inside a network namespace (one atomic `nft -f`
 * and, when the policy sets it, the unprivileged port start sysctl; both read back and checked),
 * verifies it later, and removes it. The rules live in the namespace: when
 * the namespace goes (its last process exits, its file is deleted), they go with it, so removing
 * them afterwards does nothing.
 */
import { stat } from "node:fs/promises"
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import {
  DEFAULT_TABLE,
  EgressApplyFailed,
  type EgressError,
  EgressPolicy,
  EgressPolicyInvalid,
  EgressVerifyFailed,
  renderEgressRuleset,
  UNPRIVILEGED_PORT_SYSCTL,
  verifyRuleset,
} from "./EgressPolicy.js"
import type { CommandError } from "./Errors.js"
import { HostTools } from "./HostTools.js"
import { run } from "./internal/command.js"
import { describeTarget, enterArgv, resolveTarget } from "./internal/namespaceEntry.js"
import type { NamespaceTarget } from "./NamespaceTarget.js"

export interface AppliedEgress {
  readonly target: NamespaceTarget
  readonly policy: EgressPolicy
  readonly ruleset: string
  /**
   * The namespace the rules are in (`<device>:<inode>` of its nsfs file). Removal compares it, so
   * a PID or descriptor number reused after the namespace is gone never makes it act elsewhere.
   */
  readonly namespace: string
}

export interface EgressShape {
  /**
   * Puts the policy in force in the namespace (entering its owning user namespace when the target
   * says so) and checks it by reading it back. It stays until `remove` or until the namespace is
   * gone. A failure leaves no table behind.
   */
  readonly install: (
    target: NamespaceTarget,
    policy: EgressPolicy,
  ) => Effect.Effect<AppliedEgress, EgressError>
  /** `install`, removed when the scope closes (a no-op if the namespace is gone by then). */
  readonly apply: (
    target: NamespaceTarget,
    policy: EgressPolicy,
  ) => Effect.Effect<AppliedEgress, EgressError, Scope.Scope>
  /**
   * Reads the rules in force and checks them against the policy: EgressVerifyFailed when the table
   * is absent or differs, EgressApplyFailed when the namespace cannot be read.
   */
  readonly verify: (
    target: NamespaceTarget,
    policy: EgressPolicy,
  ) => Effect.Effect<AppliedEgress, EgressError>
  /** Deletes the table; nothing to do (and no error) when the namespace or the table is gone. */
  readonly remove: (applied: AppliedEgress) => Effect.Effect<void, EgressApplyFailed>
  /** The table as nftables lists it now (text), or undefined when absent. */
  readonly list: (
    target: NamespaceTarget,
    table?: string,
  ) => Effect.Effect<string | undefined, EgressApplyFailed>
}

const applyHint = (error: CommandError) =>
  error._tag === "CommandNotFound"
    ? error.hint
    : "run as root, or give a rootless target with its user namespace ({ pid, userns: true })"

const NO_SUCH = /No such file or directory/

/** `<device>:<inode>` of the target's namespace, or undefined when it no longer exists. */
const namespaceIdentity = (target: NamespaceTarget) =>
  Effect.tryPromise({
    try: () => stat(resolveTarget(target).netns),
    catch: (e) => e as NodeJS.ErrnoException,
  }).pipe(
    Effect.map((s): string | undefined => `${s.dev}:${s.ino}`),
    Effect.catchIf(
      (e) => e.code === "ENOENT" || e.code === "ESRCH",
      () => Effect.succeed(undefined),
    ),
  )

export const decodeEgressPolicy = (input: EgressPolicy) =>
  Schema.decodeUnknownEffect(EgressPolicy)(input).pipe(
    Effect.mapError((e) => new EgressPolicyInvalid({ reason: e.message })),
  )

const make = Effect.gen(function* () {
  const tools = yield* HostTools

  const nft = (target: NamespaceTarget, args: ReadonlyArray<string>, input?: string) =>
    run(tools, enterArgv(tools, target, [tools.nft, ...args]), input === undefined ? {} : { input })

  const sysctl = (target: NamespaceTarget, args: ReadonlyArray<string>) =>
    run(tools, enterArgv(tools, target, [tools.sysctl, ...args]))

  const failed = (target: NamespaceTarget, table: string) => (error: CommandError) =>
    new EgressApplyFailed({
      target: describeTarget(target),
      table,
      reason: error.message,
      hint: applyHint(error),
    })

  /** The namespace's identity; fails when it is gone (there is nothing to apply or verify in). */
  const existing = (target: NamespaceTarget, table: string) =>
    namespaceIdentity(target).pipe(
      Effect.mapError(
        (e) =>
          new EgressApplyFailed({
            target: describeTarget(target),
            table,
            reason: `cannot open the namespace: ${e.message}`,
            hint: "run as root or as the user owning the namespace's processes",
          }),
      ),
      Effect.flatMap((id) =>
        id === undefined
          ? Effect.fail(
              new EgressApplyFailed({
                target: describeTarget(target),
                table,
                reason: "the namespace does not exist (its process or file is gone)",
                hint: "apply the policy while the namespace's holder is alive",
              }),
            )
          : Effect.succeed(id),
      ),
    )

  const list = Effect.fn("Egress.list")(function* (target: NamespaceTarget, table = DEFAULT_TABLE) {
    return yield* nft(target, ["list", "table", "inet", table]).pipe(
      Effect.map((r): string | undefined => r.stdout),
      Effect.catchTag("CommandFailed", (e) =>
        NO_SUCH.test(e.stderr) ? Effect.succeed(undefined) : Effect.fail(e),
      ),
      Effect.mapError(failed(target, table)),
    )
  })

  /** Reads the table back and compares it with the policy. */
  const check = Effect.fnUntraced(function* (target: NamespaceTarget, policy: EgressPolicy) {
    const where = describeTarget(target)
    // Two reads of one namespace, each a process entering it: at once.
    const [listed, portStart] = yield* Effect.all(
      [
        nft(target, ["-j", "list", "table", "inet", policy.table]).pipe(
          Effect.map((r): string | undefined => r.stdout),
          Effect.catchTag("CommandFailed", (e) =>
            NO_SUCH.test(e.stderr) ? Effect.succeed(undefined) : Effect.fail(e),
          ),
          Effect.mapError(failed(target, policy.table)),
        ),
        checkPortStart(target, policy),
      ],
      { concurrency: "unbounded" },
    )
    const problem =
      listed === undefined ? "the table is absent" : (verifyRuleset(policy, listed) ?? portStart)
    if (problem !== undefined) {
      return yield* new EgressVerifyFailed({ target: where, table: policy.table, problem })
    }
  })

  /** What is wrong with the namespace's unprivileged port start, if the policy sets one. */
  const checkPortStart = Effect.fnUntraced(function* (
    target: NamespaceTarget,
    policy: EgressPolicy,
  ) {
    if (policy.unprivilegedPortStart === undefined) return undefined
    const read = yield* sysctl(target, ["-n", UNPRIVILEGED_PORT_SYSCTL]).pipe(
      Effect.mapError(failed(target, policy.table)),
    )
    const actual = read.stdout.trim()
    return actual === String(policy.unprivilegedPortStart)
      ? undefined
      : `${UNPRIVILEGED_PORT_SYSCTL} is ${actual}, expected ${policy.unprivilegedPortStart}`
  })

  const remove = Effect.fn("Egress.remove")(function* (applied: AppliedEgress) {
    // Checked first: the target's PID or descriptor may name another namespace by now.
    if (
      (yield* namespaceIdentity(applied.target).pipe(Effect.orElseSucceed(() => undefined))) !==
      applied.namespace
    ) {
      return
    }
    yield* nft(applied.target, ["delete", "table", "inet", applied.policy.table]).pipe(
      Effect.catchTag("CommandFailed", (e) =>
        NO_SUCH.test(e.stderr) ? Effect.void : Effect.fail(e),
      ),
      Effect.mapError(failed(applied.target, applied.policy.table)),
    )
  })

  const install = Effect.fn("Egress.install")(function* (
    target: NamespaceTarget,
    input: EgressPolicy,
  ) {
    const policy = yield* decodeEgressPolicy(input)
    const namespace = yield* existing(target, policy.table)
    const ruleset = renderEgressRuleset(policy)
    const applied: AppliedEgress = { target, policy, ruleset, namespace }
    const setPortStart: Effect.Effect<unknown, CommandError> =
      policy.unprivilegedPortStart === undefined
        ? Effect.void
        : sysctl(target, ["-w", `${UNPRIVILEGED_PORT_SYSCTL}=${policy.unprivilegedPortStart}`])
    // The table and the sysctl do not depend on each other: written at once, then read back. A
    // table that does not verify, or whose sysctl cannot be set, is not left half in force.
    yield* Effect.all(
      [
        nft(target, ["-f", "-"], ruleset).pipe(Effect.mapError(failed(target, policy.table))),
        setPortStart.pipe(Effect.mapError(failed(target, policy.table))),
      ],
      { concurrency: "unbounded", discard: true },
    ).pipe(
      Effect.andThen(check(target, policy)),
      Effect.onError(() => remove(applied).pipe(Effect.ignore)),
    )
    return applied
  })

  const verify = Effect.fn("Egress.verify")(function* (
    target: NamespaceTarget,
    input: EgressPolicy,
  ) {
    const policy = yield* decodeEgressPolicy(input)
    const namespace = yield* existing(target, policy.table)
    yield* check(target, policy)
    return {
      target,
      policy,
      ruleset: renderEgressRuleset(policy),
      namespace,
    } satisfies AppliedEgress
  })

  const apply = (target: NamespaceTarget, policy: EgressPolicy) =>
    Effect.acquireRelease(install(target, policy), (applied) =>
      remove(applied).pipe(
        Effect.tapError((e) =>
          Effect.logWarning(
            `nftables table ${applied.policy.table} in ${describeTarget(applied.target)} not deleted: ${e.message}`,
          ),
        ),
        Effect.ignore,
      ),
    )

  return { install, apply, verify, remove, list } satisfies EgressShape
})

export class Egress extends Context.Service<Egress, EgressShape>()("@beemesh/netns/Egress") {
  static readonly layer = Layer.effect(Egress, make)
}
