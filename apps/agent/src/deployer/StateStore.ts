/**
 * The desired workloads kept across restarts, in one versioned JSON file in the data directory.
 *
 * Reading: a missing file is a first start (`found: false`); a file that cannot be read or decoded
 * (empty, `{}`, cut short, another version) is StateFileInvalid, which stops the agent at start:
 * guessing "nothing is wanted" would make adoption remove every pod the agent owns.
 * Writing: a temporary file next to it is written and fsynced, renamed over the state file, and
 * the directory fsynced, so a crash leaves either the old state or the new one, never a torn file.
 */
import { open, readFile, rename, rm } from "node:fs/promises"
import { dirname } from "node:path"
import { Context, Data, Effect, Layer, Schema } from "effect"
import type { Workload } from "../Manifest"
import { STATE_VERSION, StateFile, toWorkload } from "./StateSchema"

export interface SavedState {
  /** False when there was no state file: nothing is known about what the owned pods are for. */
  readonly found: boolean
  readonly workloads: ReadonlyArray<Workload>
  /** Pod names kept as orphans (see WorkloadManager's adoption rule). */
  readonly orphans: ReadonlyArray<string>
  /** The revision of each workload by `namespace/name` (none in a file from before revisions). */
  readonly revisions?: Readonly<Record<string, string>> | undefined
}

/** The state file exists but is not a state this agent can trust; the agent must not start. */
export class StateFileInvalid extends Data.TaggedError("StateFileInvalid")<{
  readonly file: string
  readonly reason: string
}> {
  override get message() {
    return `state file ${this.file} is unusable: ${this.reason}; fix: restore it from a backup, or move it away to start with no desired workloads (owned pods are then kept as orphans, not removed)`
  }
}

export class StateWriteFailed extends Data.TaggedError("StateWriteFailed")<{
  readonly file: string
  readonly reason: string
}> {
  override get message() {
    return `writing the state file ${this.file} failed: ${this.reason}; check the data directory's free space and permissions`
  }
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

const decode = Schema.decodeUnknownEffect(StateFile)

const readState = (file: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (error) => error as NodeJS.ErrnoException,
    }).pipe(
      Effect.catchIf(
        (error) => error.code === "ENOENT",
        () => Effect.succeed(undefined),
      ),
      Effect.mapError((error) => new StateFileInvalid({ file, reason: errorText(error) })),
    )
    if (text === undefined) return { found: false, workloads: [], orphans: [] } as SavedState
    if (text.trim() === "") return yield* new StateFileInvalid({ file, reason: "it is empty" })
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new StateFileInvalid({ file, reason: `not JSON: ${errorText(error)}` }),
    })
    const state = yield* decode(json).pipe(
      Effect.mapError(
        (error) =>
          new StateFileInvalid({
            file,
            reason: `not a version ${STATE_VERSION} state ({ "version": ${STATE_VERSION}, "workloads": [...] }): ${error.message}`,
          }),
      ),
    )
    return {
      found: true,
      workloads: state.workloads.map(toWorkload),
      orphans: state.orphans ?? [],
      revisions: state.revisions,
    } satisfies SavedState
  })

/** Writes `content` so that a crash leaves the old file or the new one (mode 0600). */
export const writeDurably = async (file: string, content: string) => {
  const temporary = `${file}.tmp`
  const handle = await open(temporary, "w", 0o600)
  try {
    await handle.writeFile(content)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, file).catch(async (error: unknown) => {
    await rm(temporary, { force: true })
    throw error
  })
  // The rename is durable only once the directory entry is.
  const directory = await open(dirname(file), "r")
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}

export class StateStore extends Context.Service<
  StateStore,
  {
    readonly file: string
    readonly load: () => Effect.Effect<SavedState, StateFileInvalid>
    readonly save: (state: {
      readonly workloads: ReadonlyArray<Workload>
      readonly orphans: ReadonlyArray<string>
      readonly revisions?: Readonly<Record<string, string>>
    }) => Effect.Effect<void, StateWriteFailed>
  }
>()("@beemesh/agent/StateStore") {
  static readonly layer = (file: string) =>
    Layer.succeed(StateStore, {
      file,
      load: Effect.fn("StateStore.load")(() => readState(file)),
      save: Effect.fn("StateStore.save")((state) => {
        const content: StateFile = {
          version: STATE_VERSION,
          workloads: state.workloads,
          orphans: state.orphans,
          ...(state.revisions === undefined ? {} : { revisions: state.revisions }),
        }
        return Effect.tryPromise({
          try: () => writeDurably(file, `${JSON.stringify(content, null, 2)}\n`),
          catch: (error) => new StateWriteFailed({ file, reason: errorText(error) }),
        })
      }),
    })
}
