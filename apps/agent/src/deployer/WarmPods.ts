/**
 * Pods made ahead of need ("warm pods", `--warm-pods N`): standby pods (@beemesh/podman's
 * `createStandbyPod`) whose holder, network namespace, slirp4netns, published port and egress
 * policy are ready and whose sidecar has started and waits for its identity (the contract's
 * `Standby`). A replica's pod creation claims one when one is ready: its sidecar is handed the
 * replica's environment and its apps are added (ReplicaPods.ts), so that a deploy no longer waits
 * for the pod's network and the sidecar's start. The pool is refilled in the background, one pod at
 * a time, once claims have paused for a moment (a refill competes with the replicas just started).
 *
 * A standby sidecar proves itself with a token drawn for its pod (in its environment, which apps
 * never read). Unclaimed standby pods are removed with the agent (their sidecars told to exit),
 * and those an earlier run left are removed at start; claimed ones are replicas like any other.
 */
import { randomBytes, timingSafeEqual } from "node:crypto"
import { Standby } from "@beemesh/contract"
import type { AppliedEgress } from "@beemesh/netns"
import { Egress } from "@beemesh/netns"
import {
  allocateHostPort,
  createStandbyPod,
  destroyEnforcedPod,
  LABEL_OWNER,
  LABEL_POD,
  LABEL_ROLE,
  PodmanClient,
  removePod,
} from "@beemesh/podman"
import { Context, Deferred, Duration, Effect, Layer, Option, Queue } from "effect"
import { agentUrlOf, LABEL_STANDBY, sidecarContainer, type TemplateOptions } from "./PodTemplate"

export interface WarmPodsOptions extends TemplateOptions {
  /** How many standby pods to keep ready (0: none, every pod is made when it is needed). */
  readonly size: number
  /** Stable identity of this agent (its peer id): the owner label of every pod it creates. */
  readonly owner: string
  readonly rootless: boolean
  /** Quiet time after the last claim before the pool is refilled (default 2 s). */
  readonly refillDelayMs?: number
}

/** A standby pod taken from the pool for one replica. */
export interface StandbyPod {
  /** Its Podman name. */
  readonly name: string
  readonly hostPort: number
  readonly egress: AppliedEgress
  /** Hands its sidecar the replica's `BEEMESH_*` variables (at most once). */
  readonly handOver: (env: Readonly<Record<string, string>>) => Effect.Effect<void>
  /** The claim failed and the pod is gone: its sidecar is told to exit, if it still asks. */
  readonly retire: () => Effect.Effect<void>
}

/** What a standby sidecar's request gets (see `Standby` of the contract). */
export type StandbyAnswer =
  | { readonly _tag: "Claimed"; readonly env: Readonly<Record<string, string>> }
  | { readonly _tag: "Waiting" }
  | { readonly _tag: "Retired" }
  | { readonly _tag: "Unknown" }

export class WarmPods extends Context.Service<
  WarmPods,
  {
    /** A ready standby pod, taken out of the pool (none when none is ready). */
    readonly take: () => Effect.Effect<StandbyPod | undefined>
    /** A standby sidecar's request with `token`: its claim once made, waiting at most `holdMs`. */
    readonly answer: (token: string, holdMs?: number) => Effect.Effect<StandbyAnswer>
    /** How many standby pods are ready now. */
    readonly ready: () => number
  }
>()("@beemesh/agent/WarmPods") {
  static readonly layer = (options: WarmPodsOptions) =>
    Layer.effect(WarmPods, make(options)).pipe(Layer.orDie)

  /** No pool, and no look for standby pods of an earlier run (for tests of other parts). */
  static readonly none = Layer.succeed(
    WarmPods,
    WarmPods.of({
      take: () => Effect.succeed(undefined),
      answer: () => Effect.succeed({ _tag: "Unknown" }),
      ready: () => 0,
    }),
  )
}

interface Entry {
  readonly name: string
  readonly token: Buffer
  readonly hostPort: number
  readonly egress: AppliedEgress
  /** The replica's variables once claimed; undefined when retired unclaimed. */
  readonly claim: Deferred.Deferred<Readonly<Record<string, string>> | undefined>
}

/** Pause between attempts after a standby pod could not be made (doubling up to the maximum). */
const RETRY_MS = 5_000
const MAX_RETRY_MS = 300_000

const make = (options: WarmPodsOptions) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const egress = yield* Egress
    const services = Layer.merge(Layer.succeed(PodmanClient, client), Layer.succeed(Egress, egress))
    /** Standby pods whose sidecar has not fetched its identity yet, by token (hex). */
    const entries = new Map<string, Entry>()
    /** Made and not taken, oldest first. */
    const ready: Array<Entry> = []
    const taken = yield* Queue.sliding<void>(1)

    // Standby pods of an earlier run: unclaimed ones (no apps) go; claimed ones are replicas.
    const owned = yield* client.pods
      .list({ labels: { [LABEL_OWNER]: options.owner, [LABEL_STANDBY]: "1" } })
      .pipe(Effect.orElseSucceed(() => []))
    if (owned.length > 0) {
      const apps = yield* client.containers
        .list({ labels: { [LABEL_OWNER]: options.owner, [LABEL_ROLE]: "app" } })
        .pipe(Effect.orElseSucceed(() => []))
      const claimed = new Set(apps.map((c) => c.Labels?.[LABEL_POD] ?? c.PodName))
      const unclaimed = owned.filter((p) => !claimed.has(p.Name))
      yield* Effect.forEach(unclaimed, (p) => removePod(p.Name, 0), {
        concurrency: 4,
        discard: true,
      }).pipe(Effect.provideService(PodmanClient, client))
      if (unclaimed.length > 0)
        yield* Effect.logInfo(
          `removed ${unclaimed.length} unclaimed standby pods of an earlier run`,
        )
    }

    const makeOne = Effect.gen(function* () {
      const token = randomBytes(32)
      const name = `bm-standby-${randomBytes(5).toString("hex")}`
      const hostPort = yield* allocateHostPort(options.advertiseHost)
      const pod = yield* createStandbyPod(
        {
          name,
          labels: { [LABEL_STANDBY]: "1" },
          network: options.slirp,
          hostIp: options.advertiseHost,
          hostPort,
          containers: [
            sidecarContainer(options, {
              [Standby.TOKEN_VARIABLE]: token.toString("hex"),
              BEEMESH_AGENT_URL: agentUrlOf(options),
            }),
          ],
        },
        { owner: options.owner, rootless: options.rootless, standby: true },
      ).pipe(Effect.provide(services))
      const entry: Entry = {
        name: pod.name,
        token,
        hostPort: pod.hostPort,
        egress: pod.egress,
        claim: yield* Deferred.make<Readonly<Record<string, string>> | undefined>(),
      }
      entries.set(token.toString("hex"), entry)
      ready.push(entry)
      yield* Effect.logInfo(
        `standby pod ${pod.name} ready (sidecar on ${options.advertiseHost}:${pod.hostPort}); ${ready.length} of ${options.size}`,
      )
    })

    const fill = Effect.gen(function* () {
      let retryMs = RETRY_MS
      while (true) {
        if (ready.length >= options.size) {
          yield* Queue.take(taken)
          // Claims come in bursts (a Deployment's replicas): refill once they pause.
          const delay = Duration.millis(options.refillDelayMs ?? 2_000)
          while (Option.isSome(yield* Queue.take(taken).pipe(Effect.timeoutOption(delay)))) {}
          continue
        }
        const made = yield* Effect.result(makeOne)
        if (made._tag === "Success") {
          retryMs = RETRY_MS
          continue
        }
        yield* Effect.logWarning(
          `making a standby pod failed: ${made.failure.message}; trying again in ${retryMs / 1000} s (pods are made when needed meanwhile)`,
        )
        yield* Effect.sleep(Duration.millis(retryMs))
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS)
      }
    })

    /** Unclaimed pods go with the agent: their sidecars are told to exit, then the pods removed. */
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const left = ready.splice(0)
        for (const entry of left) {
          entries.delete(entry.token.toString("hex"))
          yield* Deferred.succeed(entry.claim, undefined)
        }
        yield* Effect.forEach(
          left,
          (entry) =>
            destroyEnforcedPod({ name: entry.name, egress: entry.egress }, 0).pipe(
              Effect.provide(services),
              Effect.tapError((e) =>
                Effect.logWarning(`removing standby pod ${entry.name}: ${e.message}`),
              ),
              Effect.ignore,
            ),
          { concurrency: 4, discard: true },
        )
      }),
    )
    if (options.size > 0) yield* Effect.forkScoped(fill)

    const take = () =>
      Effect.gen(function* () {
        const entry = ready.shift()
        if (entry === undefined) return undefined
        yield* Queue.offer(taken, undefined)
        return {
          name: entry.name,
          hostPort: entry.hostPort,
          egress: entry.egress,
          handOver: (env) => Deferred.succeed(entry.claim, env).pipe(Effect.asVoid),
          retire: () =>
            Effect.sync(() => entries.delete(entry.token.toString("hex"))).pipe(
              Effect.andThen(Deferred.succeed(entry.claim, undefined)),
              Effect.asVoid,
            ),
        } satisfies StandbyPod
      })

    const find = (token: string) => {
      const entry = entries.get(token)
      if (entry === undefined || !/^[0-9a-f]{64}$/.test(token)) return undefined
      // The map found it by its text; compared again in constant time all the same.
      return timingSafeEqual(entry.token, Buffer.from(token, "hex")) ? entry : undefined
    }

    const answer = (token: string, holdMs: number = Standby.HOLD_MS) =>
      Effect.gen(function* () {
        const entry = find(token)
        if (entry === undefined) return { _tag: "Unknown" } as const
        const claim = yield* Deferred.await(entry.claim).pipe(
          Effect.timeoutOption(Duration.millis(holdMs)),
        )
        if (Option.isNone(claim)) return { _tag: "Waiting" } as const
        if (claim.value === undefined) return { _tag: "Retired" } as const
        // Handed over once: the token is spent.
        entries.delete(token)
        return { _tag: "Claimed", env: claim.value } as const
      })

    return WarmPods.of({ take, answer, ready: () => ready.length })
  })
