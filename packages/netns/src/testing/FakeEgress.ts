/**
 * An in-memory Egress for dependents' unit tests. It records the policy in force per namespace
 * (keyed by `describeTarget`), models that rules vanish with their namespace, and can be told to
 * fail like nftables would. It passes the same contract suite as the real service (contract.ts).
 */
import { Effect, Layer, Schema } from "effect"
import { type AppliedEgress, Egress, type EgressShape } from "../Egress.js"
import {
  EgressApplyFailed,
  EgressPolicy,
  EgressPolicyInvalid,
  EgressVerifyFailed,
  renderEgressRuleset,
} from "../EgressPolicy.js"
import { describeTarget } from "../internal/namespaceEntry.js"
import type { NamespaceTarget } from "../NamespaceTarget.js"

export type FakeEgressOperation = "install" | "verify" | "remove"

export interface FakeEgressOptions {
  /** Whether the target's namespace exists (default: always). Rules in a gone namespace are gone. */
  readonly namespaceExists?: (target: NamespaceTarget) => boolean
}

export interface FakeEgress extends EgressShape {
  /** The policies in force now, by namespace (`describeTarget`). */
  readonly inForce: () => ReadonlyMap<string, EgressPolicy>
  /** Every successful install, in order. */
  readonly installs: () => ReadonlyArray<{ readonly target: string; readonly policy: EgressPolicy }>
  /**
   * From now on, `operation` fails with EgressApplyFailed carrying `reason` (as a broken nft would);
   * `undefined` stops failing.
   */
  readonly failOn: (operation: FakeEgressOperation, reason: string | undefined) => void
  /** Drops a namespace's rules behind the service's back (someone ran `nft flush ruleset`). */
  readonly flush: (target: NamespaceTarget) => void
}

export const makeFakeEgress = (options: FakeEgressOptions = {}): FakeEgress => {
  const exists = options.namespaceExists ?? (() => true)
  const rules = new Map<
    string,
    { readonly target: NamespaceTarget; readonly policy: EgressPolicy }
  >()
  const history: Array<{ readonly target: string; readonly policy: EgressPolicy }> = []
  const failures = new Map<FakeEgressOperation, string>()

  /** Rules of namespaces that are gone are gone. */
  const prune = () => {
    for (const [key, entry] of rules) if (!exists(entry.target)) rules.delete(key)
  }

  const fail = (target: NamespaceTarget, table: string, reason: string, hint: string) =>
    Effect.fail(new EgressApplyFailed({ target: describeTarget(target), table, reason, hint }))

  const prepare = (operation: FakeEgressOperation, target: NamespaceTarget, input: EgressPolicy) =>
    Effect.gen(function* () {
      prune()
      const policy = yield* Schema.decodeUnknownEffect(EgressPolicy)(input).pipe(
        Effect.mapError((e) => new EgressPolicyInvalid({ reason: e.message })),
      )
      const told = failures.get(operation)
      if (told !== undefined) {
        return yield* fail(target, policy.table, told, "FakeEgress was told to fail")
      }
      if (!exists(target)) {
        return yield* fail(
          target,
          policy.table,
          "the namespace does not exist (its process or file is gone)",
          "apply the policy while the namespace's holder is alive",
        )
      }
      return policy
    })

  const applied = (target: NamespaceTarget, policy: EgressPolicy): AppliedEgress => ({
    target,
    policy,
    ruleset: renderEgressRuleset(policy),
    namespace: `fake:${describeTarget(target)}`,
  })

  const install: EgressShape["install"] = (target, input) =>
    Effect.gen(function* () {
      const policy = yield* prepare("install", target, input)
      rules.set(describeTarget(target), { target, policy })
      history.push({ target: describeTarget(target), policy })
      return applied(target, policy)
    })

  const verify: EgressShape["verify"] = (target, input) =>
    Effect.gen(function* () {
      const policy = yield* prepare("verify", target, input)
      const found = rules.get(describeTarget(target))
      const problem =
        found === undefined || found.policy.table !== policy.table
          ? "the table is absent"
          : JSON.stringify(found.policy) !== JSON.stringify(policy)
            ? `the rules in force are ${JSON.stringify(found.policy)}, expected ${JSON.stringify(policy)}`
            : undefined
      if (problem !== undefined) {
        return yield* new EgressVerifyFailed({
          target: describeTarget(target),
          table: policy.table,
          problem,
        })
      }
      return applied(target, policy)
    })

  const remove: EgressShape["remove"] = (a) =>
    Effect.gen(function* () {
      prune()
      if (!exists(a.target)) return
      const told = failures.get("remove")
      if (told !== undefined) {
        return yield* fail(a.target, a.policy.table, told, "FakeEgress was told to fail")
      }
      const key = describeTarget(a.target)
      if (rules.get(key)?.policy.table === a.policy.table) rules.delete(key)
    })

  const apply: EgressShape["apply"] = (target, policy) =>
    Effect.acquireRelease(install(target, policy), (a) => remove(a).pipe(Effect.ignore))

  const list: EgressShape["list"] = (target, table) =>
    Effect.sync(() => {
      prune()
      const found = rules.get(describeTarget(target))
      return found === undefined || (table !== undefined && found.policy.table !== table)
        ? undefined
        : renderEgressRuleset(found.policy)
    })

  return {
    install,
    apply,
    verify,
    remove,
    list,
    inForce: () => {
      prune()
      return new Map([...rules].map(([key, entry]) => [key, entry.policy]))
    },
    installs: () => [...history],
    failOn: (operation, reason) => {
      if (reason === undefined) failures.delete(operation)
      else failures.set(operation, reason)
    },
    flush: (target) => {
      rules.delete(describeTarget(target))
    },
  }
}

/** The fake as an Egress layer. */
export const fakeEgressLayer = (options: FakeEgressOptions = {}): Layer.Layer<Egress> =>
  Layer.succeed(Egress, makeFakeEgress(options))
