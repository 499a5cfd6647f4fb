/**
 * Resolution's watch (`GET /v1/services/{namespace}/{service}?wait=<version>`): an answer names its
 * provider set by a version; a caller holding that version is answered when the set differs, or
 * after the hold with the same version. A sidecar so learns of a new replica or a withdrawn one as
 * it happens, instead of when a cached answer runs out.
 */
import { createHash } from "node:crypto"
import type { Resolution } from "@beemesh/contract"
import { Clock, Effect } from "effect"
import type { Provider, ServiceDirectory } from "./Directory"

/** The version of a provider set: the same providers, in the same order, the same version. */
export const providersVersion = (providers: ReadonlyArray<Provider>): string =>
  createHash("sha256").update(JSON.stringify(providers)).digest("base64url").slice(0, 22)

/**
 * The providers of a service, as `present` shows them to this caller, with their version. With
 * `wait` equal to that version, holds until the set differs or `holdMs` passed. A directory without
 * change signals answers at once and without a version (the caller polls).
 */
export const resolveWatched = (
  directory: ServiceDirectory["Service"],
  namespace: string,
  service: string,
  present: (providers: ReadonlyArray<Provider>) => ReadonlyArray<Provider>,
  wait: string | undefined,
  holdMs: number,
) =>
  Effect.gen(function* () {
    const changes = directory.changes
    if (changes === undefined)
      return { providers: present(yield* directory.resolve(namespace, service)) }
    const deadline = (yield* Clock.currentTimeMillis) + holdMs
    for (;;) {
      // Taken before resolving: a change while the resolve runs wakes the wait below at once.
      const since = changes.generation(namespace, service)
      const providers = present(yield* directory.resolve(namespace, service))
      const version = providersVersion(providers)
      const left = deadline - (yield* Clock.currentTimeMillis)
      if (wait !== version || left <= 0)
        return { providers, version } satisfies Resolution.ResolveResponse
      yield* changes.awaitChange(namespace, service, since, Math.min(left, changes.recheckMs))
    }
  })
