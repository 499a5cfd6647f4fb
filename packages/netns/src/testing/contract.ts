/**
 * The Egress contract: one suite run against every implementation (the real nftables service in
 * namespaces the harness creates, and FakeEgress). What it pins down is what callers rely on:
 * install/verify/remove, replacement on a second install, typed failures, and that rules left in a
 * namespace that is gone are released without error.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, type Layer, Scope } from "effect"
import { Egress } from "../Egress.js"
import { podEgressPolicy, sidecarOnly } from "../EgressPolicy.js"
import type { NamespaceTarget } from "../NamespaceTarget.js"

export interface ContractNamespace {
  readonly target: NamespaceTarget
  /** Makes the namespace go away (its holder exits); the contract then expects no-op releases. */
  readonly destroy: Effect.Effect<void>
}

export interface EgressContractOptions<R> {
  /** A fresh namespace, gone at the latest when the scope closes. */
  readonly namespace: Effect.Effect<ContractNamespace, unknown, Scope.Scope | R>
}

export const egressContract = <R>(
  name: string,
  egressLayer: Layer.Layer<Egress | R, unknown>,
  options: EgressContractOptions<R>,
) =>
  describe(`Egress contract: ${name}`, () => {
    layer(egressLayer, { excludeTestServices: true })((it) => {
      it.effect("install puts the policy in force and verify reads the same policy back", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          const applied = yield* egress.install(ns.target, sidecarOnly([8080]))
          expect(applied.ruleset).toContain("meta skuid { 1337 } accept")
          expect(applied.policy.inboundTcpPorts).toEqual([8080])
          const verified = yield* egress.verify(ns.target, sidecarOnly([8080]))
          expect(verified.namespace).toBe(applied.namespace)
          expect(yield* egress.list(ns.target)).toContain("policy drop")
        }),
      )

      it.effect(
        "a pod policy sets the unprivileged port start with the rules; verify checks it",
        () =>
          Effect.gen(function* () {
            const egress = yield* Egress
            const ns = yield* options.namespace
            const applied = yield* egress.install(ns.target, podEgressPolicy([8080]))
            expect(applied.policy.unprivilegedPortStart).toBe(0)
            yield* egress.verify(ns.target, podEgressPolicy([8080]))
            const error = yield* Effect.flip(
              egress.verify(ns.target, { ...podEgressPolicy([8080]), unprivilegedPortStart: 1024 }),
            )
            expect(error._tag).toBe("EgressVerifyFailed")
            const bad = yield* Effect.flip(
              egress.install(ns.target, {
                ...podEgressPolicy([8080]),
                unprivilegedPortStart: 70_000,
              }),
            )
            expect(bad._tag).toBe("EgressPolicyInvalid")
          }),
      )

      it.effect("verify in a namespace without rules fails with EgressVerifyFailed", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          const error = yield* Effect.flip(egress.verify(ns.target, sidecarOnly([8080])))
          expect(error).toMatchObject({ _tag: "EgressVerifyFailed", table: "beemesh_egress" })
          expect(error.message).toContain("absent")
        }),
      )

      it.effect("verify against another policy fails with EgressVerifyFailed", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          yield* egress.install(ns.target, sidecarOnly([8080]))
          const error = yield* Effect.flip(egress.verify(ns.target, sidecarOnly([9090])))
          expect(error._tag).toBe("EgressVerifyFailed")
        }),
      )

      it.effect("a second install replaces the first policy", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          yield* egress.install(ns.target, sidecarOnly([8080]))
          yield* egress.install(ns.target, sidecarOnly([9090]))
          yield* egress.verify(ns.target, sidecarOnly([9090]))
          expect((yield* Effect.flip(egress.verify(ns.target, sidecarOnly([8080]))))._tag).toBe(
            "EgressVerifyFailed",
          )
        }),
      )

      it.effect("remove deletes the rules; removing again is a no-op", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          const applied = yield* egress.install(ns.target, sidecarOnly([8080]))
          yield* egress.remove(applied)
          expect(yield* egress.list(ns.target)).toBeUndefined()
          yield* egress.remove(applied)
          expect((yield* Effect.flip(egress.verify(ns.target, sidecarOnly([8080]))))._tag).toBe(
            "EgressVerifyFailed",
          )
        }),
      )

      it.effect("a scoped apply is removed when its scope closes", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          const scope = yield* Scope.make()
          yield* egress.apply(ns.target, sidecarOnly([8080])).pipe(Scope.provide(scope))
          yield* egress.verify(ns.target, sidecarOnly([8080]))
          yield* Scope.close(scope, Exit.void)
          expect(yield* egress.list(ns.target)).toBeUndefined()
        }),
      )

      it.effect("releasing rules after their namespace is gone is a no-op, not an error", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          const scope = yield* Scope.make()
          const applied = yield* egress
            .apply(ns.target, sidecarOnly([8080]))
            .pipe(Scope.provide(scope))
          yield* ns.destroy
          yield* egress.remove(applied)
          yield* Scope.close(scope, Exit.void)
        }),
      )

      it.effect("installing into a namespace that is gone fails with EgressApplyFailed", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          yield* ns.destroy
          const error = yield* Effect.flip(egress.install(ns.target, sidecarOnly([8080])))
          expect(error._tag).toBe("EgressApplyFailed")
          expect(error.message).toContain("does not exist")
        }),
      )

      it.effect("an invalid policy fails with EgressPolicyInvalid and changes nothing", () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const ns = yield* options.namespace
          const error = yield* Effect.flip(
            egress.install(ns.target, { ...sidecarOnly([8080]), table: "no spaces allowed" }),
          )
          expect(error._tag).toBe("EgressPolicyInvalid")
          const port = yield* Effect.flip(egress.install(ns.target, sidecarOnly([70_000])))
          expect(port._tag).toBe("EgressPolicyInvalid")
          expect(yield* egress.list(ns.target)).toBeUndefined()
        }),
      )
    })
  })
