/**
 * The NetworkPolicies this agent holds, by namespace: applied through the API (with the workloads
 * of the same request, all or nothing), listed and deleted there, and handed to the sidecars of
 * the namespace (`forNamespace`). Each namespace's set carries a version (the time of its last
 * change, strictly increasing), so that holders can tell a newer set.
 *
 * Kept in a JSON file next to the state file when one is given, so a restarted agent enforces what
 * it enforced before.
 */
import { readFile } from "node:fs/promises"
import { NetworkPolicy } from "@beemesh/contract"
import { Context, Data, Effect, Layer, Schema } from "effect"
import { StateWriteFailed, writeDurably } from "./deployer/StateStore"

export class NetworkPolicyNotFound extends Data.TaggedError("NetworkPolicyNotFound")<{
  readonly namespace: string
  readonly name: string
}> {
  override get message() {
    return `NetworkPolicy ${this.namespace}/${this.name} does not exist (GET /v1/networkpolicies lists them)`
  }
}

export class NetworkPoliciesUnreadable extends Data.TaggedError("NetworkPoliciesUnreadable")<{
  readonly file: string
  readonly reason: string
}> {
  override get message() {
    return `${this.file} is unusable: ${this.reason}; fix: restore it from a backup, or move it away and apply the NetworkPolicies again`
  }
}

const StoredPolicies = Schema.Struct({
  version: Schema.Literal(1),
  sets: Schema.Array(NetworkPolicy.PolicySet),
})
const codec = Schema.fromJsonString(StoredPolicies)

export class NetworkPolicies extends Context.Service<
  NetworkPolicies,
  {
    /** Puts the policies in place (replacing same-named ones); the effect returned puts back what was. */
    readonly apply: (
      policies: ReadonlyArray<NetworkPolicy.Policy>,
    ) => Effect.Effect<Effect.Effect<void>, StateWriteFailed>
    readonly list: () => Effect.Effect<ReadonlyArray<NetworkPolicy.Policy>>
    readonly remove: (
      namespace: string,
      name: string,
    ) => Effect.Effect<void, NetworkPolicyNotFound | StateWriteFailed>
    /** The namespace's set as the sidecars of that namespace enforce it (empty: the default). */
    readonly forNamespace: (namespace: string) => NetworkPolicy.PolicySet
    /**
     * Takes a namespace's set from another agent if it is newer than the one held (its version
     * kept); true when it replaced it.
     */
    readonly adopt: (set: NetworkPolicy.PolicySet) => Effect.Effect<boolean, StateWriteFailed>
    /** Told the namespace of every local change (apply, undo, remove), to publish it. */
    readonly onChange: (listener: (namespace: string) => void) => void
  }
>()("@beemesh/agent/NetworkPolicies") {
  /** Kept in memory only (tests, or an agent without a data directory). */
  static readonly memory = Layer.effect(
    NetworkPolicies,
    Effect.suspend(() => make(undefined, new Map())),
  )

  /** Kept in `file` too, and read from it at start. */
  static readonly layer = (file: string) =>
    Layer.effect(
      NetworkPolicies,
      Effect.gen(function* () {
        const text = yield* Effect.tryPromise({
          try: () => readFile(file, "utf8"),
          catch: (error) => error,
        }).pipe(
          Effect.catchIf(
            (error) => (error as NodeJS.ErrnoException)?.code === "ENOENT",
            () => Effect.succeed(undefined),
          ),
          Effect.mapError(
            (error) => new NetworkPoliciesUnreadable({ file, reason: String(error) }),
          ),
        )
        const stored =
          text === undefined
            ? []
            : yield* Schema.decodeUnknownEffect(codec)(text).pipe(
                Effect.map((decoded) => decoded.sets),
                Effect.mapError(
                  (issue) => new NetworkPoliciesUnreadable({ file, reason: issue.message }),
                ),
              )
        return yield* make(file, new Map(stored.map((set) => [set.namespace, set])))
      }),
    )
}

function make(file: string | undefined, sets: Map<string, NetworkPolicy.PolicySet>) {
  return Effect.sync(() => {
    let lastVersion = Math.max(0, ...[...sets.values()].map((set) => set.version))
    const nextVersion = () => {
      lastVersion = Math.max(lastVersion + 1, Date.now())
      return lastVersion
    }
    const save = Effect.suspend(() =>
      file === undefined
        ? Effect.void
        : Effect.tryPromise({
            try: () =>
              writeDurably(
                file,
                `${Schema.encodeSync(codec)({ version: 1, sets: [...sets.values()] })}\n`,
              ),
            catch: (error) => new StateWriteFailed({ file, reason: String(error) }),
          }),
    )
    const listeners: Array<(namespace: string) => void> = []
    // An emptied namespace keeps its (empty) set: its version tells holders that it changed.
    const put = (namespace: string, policies: ReadonlyArray<NetworkPolicy.Policy>) => {
      sets.set(namespace, { namespace, version: nextVersion(), policies })
      for (const listener of listeners) listener(namespace)
    }
    const adopt = (set: NetworkPolicy.PolicySet) =>
      Effect.suspend(() => {
        if (set.version <= (sets.get(set.namespace)?.version ?? 0)) return Effect.succeed(false)
        sets.set(set.namespace, set)
        lastVersion = Math.max(lastVersion, set.version)
        return save.pipe(Effect.as(true))
      })

    const apply = (policies: ReadonlyArray<NetworkPolicy.Policy>) =>
      Effect.gen(function* () {
        const before = new Map(sets)
        const touched = new Set(policies.map((p) => p.namespace))
        for (const namespace of touched) {
          const names = new Set(
            policies.filter((p) => p.namespace === namespace).map((p) => p.name),
          )
          const kept = (sets.get(namespace)?.policies ?? []).filter((p) => !names.has(p.name))
          put(namespace, [...kept, ...policies.filter((p) => p.namespace === namespace)])
        }
        const restore = Effect.sync(() => {
          for (const namespace of touched) {
            const previous = before.get(namespace)
            // A restored set is a change too: it gets a new version.
            put(namespace, previous?.policies ?? [])
          }
        }).pipe(Effect.andThen(save), Effect.ignore)
        yield* save.pipe(Effect.onError(() => restore))
        return restore
      })

    const remove = (namespace: string, name: string) =>
      Effect.gen(function* () {
        const current = sets.get(namespace)?.policies ?? []
        if (!current.some((p) => p.name === name))
          return yield* new NetworkPolicyNotFound({ namespace, name })
        put(
          namespace,
          current.filter((p) => p.name !== name),
        )
        yield* save
      })

    return NetworkPolicies.of({
      apply,
      list: () => Effect.sync(() => [...sets.values()].flatMap((set) => set.policies)),
      remove,
      forNamespace: (namespace) => sets.get(namespace) ?? { namespace, version: 0, policies: [] },
      adopt,
      onChange: (listener) => {
        listeners.push(listener)
      },
    })
  })
}
