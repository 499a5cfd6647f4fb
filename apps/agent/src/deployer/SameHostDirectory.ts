/**
 * The host's same-host socket directory (see @beemesh/contract SameHostSockets): created by the
 * agent, mounted into every sidecar container and nothing else, and kept free of the sockets of
 * pods that are gone (a sidecar removes its own socket when it stops, but not when it is killed).
 *
 * Mode 1733: the sidecars (UID 1337, whichever host ID that is: 1337 rootful, a subordinate ID
 * rootless) are "others" of the agent's directory and may create and connect sockets in it, but
 * not list it; the sticky bit keeps them from removing what they did not create, and the agent
 * (its owner) may remove any of them. Apps never see it: it is not mounted into their containers.
 */
import { chmod, mkdir, readdir, unlink } from "node:fs/promises"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { Effect } from "effect"

export const SAME_HOST_DIRECTORY_MODE = 0o1733

/** The directory under the agent's data directory. */
export const sameHostDirectoryOf = (dataDir: string) => join(dataDir, "samehost")

/** Creates the directory (or resets its mode). */
export const prepareSameHostDirectory = (directory: string) =>
  Effect.promise(async () => {
    await mkdir(directory, { recursive: true, mode: 0o700 })
    // mkdir's mode passes through the umask; the sidecars need their bits exactly.
    await chmod(directory, SAME_HOST_DIRECTORY_MODE)
  })

const remove = (directory: string, names: ReadonlyArray<string>) =>
  Effect.forEach(
    names,
    (name) => Effect.promise(() => unlink(join(directory, name)).catch(() => undefined)),
    { discard: true },
  )

const list = (directory: string) =>
  Effect.promise(() => readdir(directory).catch((): Array<string> => []))

/** Removes the sockets of one pod (its replica name in its namespace). */
export const removeSocketsOf = (directory: string, namespace: string, pod: string) =>
  list(directory).pipe(
    Effect.flatMap((names) =>
      remove(
        directory,
        names.filter((n) => SameHostSockets.isSocketOfPod(n, namespace, pod)),
      ),
    ),
  )

/**
 * Removes every socket that belongs to none of the pods `livePods` lists. The directory is read
 * before the pods are listed: a pod exists before its sidecar creates a socket, so a socket seen
 * here belongs to a pod the listing includes unless that pod is gone.
 */
export const sweepSockets = <E, R>(
  directory: string,
  livePods: Effect.Effect<
    ReadonlyArray<{ readonly namespace: string; readonly pod: string }>,
    E,
    R
  >,
) =>
  Effect.gen(function* () {
    const names = yield* list(directory)
    if (names.length === 0) return 0
    const live = new Set(
      (yield* livePods).map((p) => SameHostSockets.socketPrefix(p.namespace, p.pod)),
    )
    const stale = names.filter((n) => !live.has(n.slice(0, n.indexOf("."))))
    yield* remove(directory, stale)
    return stale.length
  })
