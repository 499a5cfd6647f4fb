/**
 * The ConfigMaps and Secrets the agent holds, kept across restarts in one JSON file next to the
 * state file. A Secret's data is sealed with AES-256-GCM under the agent's key (a file of 32 random
 * bytes, mode 0600, created at first start), bound to the Secret's namespace and name; so neither
 * this file nor the state file ever holds a secret's value in plaintext. The key also keys the
 * hash of referenced content in workload revisions (ConfigObjects.configHash). The same file
 * keeps the `v1 Service` objects (ServiceObjects.ts), which hold nothing secret.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto"
import { open, readFile, stat } from "node:fs/promises"
import { Context, Data, Effect, Layer, Schema } from "effect"
import { type ConfigObject, configKey, type Lookup } from "../ConfigObjects"
import { type ServiceObject, serviceKey } from "../ServiceObjects"
import { StateWriteFailed, writeDurably } from "./StateStore"

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16

/** The config file or the key cannot be read or trusted; the agent must not start. */
export class ConfigStoreInvalid extends Data.TaggedError("ConfigStoreInvalid")<{
  readonly file: string
  readonly reason: string
}> {
  override get message() {
    return `${this.file} is unusable: ${this.reason}; fix: restore the data directory's configs.json and secrets.key together from a backup, or move both away to start without ConfigMaps and Secrets`
  }
}

const StoredObject = Schema.Struct({
  kind: Schema.Literals(["ConfigMap", "Secret"]),
  namespace: Schema.String,
  name: Schema.String,
  /** A ConfigMap's data (base64 values). */
  data: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** A Secret's data, sealed: base64 of IV, tag and ciphertext of its JSON. */
  sealed: Schema.optional(Schema.String),
})
const Port = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 65535 }))
const StoredService = Schema.Struct({
  namespace: Schema.String,
  name: Schema.String,
  selector: Schema.Record(Schema.String, Schema.String),
  port: Port,
  targetPort: Schema.Union([Port, Schema.String]),
  /** A Service of several ports (absent in files written before they were supported). */
  ports: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        port: Port,
        targetPort: Schema.Union([Port, Schema.String]),
      }),
    ),
  ),
})
const ConfigFile = Schema.Struct({
  version: Schema.Literal(1),
  objects: Schema.Array(StoredObject),
  /** Absent in files written before Services. */
  services: Schema.optional(Schema.Array(StoredService)),
})
type StoredObject = typeof StoredObject.Type

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))
const label = (object: Pick<ConfigObject, "kind" | "namespace" | "name">) =>
  Buffer.from(`${object.kind}/${object.namespace}/${object.name}`)

export const seal = (key: Uint8Array, object: ConfigObject): string => {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(label(object))
  const body = Buffer.concat([cipher.update(JSON.stringify(object.data), "utf8"), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")
}

export const unseal = (
  key: Uint8Array,
  stored: Pick<ConfigObject, "kind" | "namespace" | "name">,
  sealed: string,
): Record<string, string> => {
  const bytes = Buffer.from(sealed, "base64")
  const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES))
    .setAAD(label(stored))
    .setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
  const text = Buffer.concat([
    decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
    decipher.final(),
  ]).toString("utf8")
  return JSON.parse(text) as Record<string, string>
}

/** Reads the key, or creates it (never overwriting one another process made meanwhile). */
const loadKey = async (file: string): Promise<Uint8Array> => {
  const created = await open(file, "wx", 0o600).then(
    async (handle) => {
      try {
        await handle.writeFile(randomBytes(KEY_BYTES))
        await handle.sync()
      } finally {
        await handle.close()
      }
      return true
    },
    (error: NodeJS.ErrnoException) => {
      if (error.code === "EEXIST") return false
      throw error
    },
  )
  const info = await stat(file)
  if (!created && (info.mode & 0o077) !== 0)
    throw new Error(`its mode is ${(info.mode & 0o777).toString(8)}; it must be 600 (chmod 600)`)
  const key = await readFile(file)
  if (key.length !== KEY_BYTES) throw new Error(`it holds ${key.length} bytes, not ${KEY_BYTES}`)
  return key
}

const loadObjects = async (
  file: string,
  key: Uint8Array,
): Promise<{ objects: Array<ConfigObject>; services: ReadonlyArray<ServiceObject> }> => {
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined
    throw error
  })
  if (text === undefined) return { objects: [], services: [] }
  const decoded = Schema.decodeUnknownSync(ConfigFile)(JSON.parse(text))
  const objects = decoded.objects.map((stored) => ({
    kind: stored.kind,
    namespace: stored.namespace,
    name: stored.name,
    data: stored.kind === "Secret" ? unseal(key, stored, stored.sealed ?? "") : (stored.data ?? {}),
  }))
  return { objects, services: decoded.services ?? [] }
}

export interface ConfigStoreOptions {
  /** The JSON file of objects. */
  readonly file: string
  /** The agent's secret key (created when missing). */
  readonly keyFile: string
}

export class ConfigStore extends Context.Service<
  ConfigStore,
  {
    /** The objects by `configKey`; the workload manager changes it under its lock, then saves. */
    readonly objects: Map<string, ConfigObject>
    /** The Services by `serviceKey`; changed and saved as `objects` are. */
    readonly services: Map<string, ServiceObject>
    /** The key of `configHash` (derived from the agent's key, never the key itself). */
    readonly hashKey: Uint8Array
    /** Writes every object, Secrets sealed. */
    readonly save: () => Effect.Effect<void, StateWriteFailed>
  }
>()("@beemesh/agent/ConfigStore") {
  static readonly layer = (options: ConfigStoreOptions) =>
    Layer.effect(
      ConfigStore,
      Effect.gen(function* () {
        const key = yield* Effect.tryPromise({
          try: () => loadKey(options.keyFile),
          catch: (error) =>
            new ConfigStoreInvalid({ file: options.keyFile, reason: errorText(error) }),
        })
        const loaded = yield* Effect.tryPromise({
          try: () => loadObjects(options.file, key),
          catch: (error) =>
            new ConfigStoreInvalid({ file: options.file, reason: errorText(error) }),
        })
        const objects = new Map(
          loaded.objects.map((o) => [configKey(o.kind, o.namespace, o.name), o]),
        )
        const services = new Map(loaded.services.map((s) => [serviceKey(s.namespace, s.name), s]))
        const save = Effect.fn("ConfigStore.save")(() =>
          Effect.tryPromise({
            try: () => {
              const stored = [...objects.values()].map(
                (o): StoredObject =>
                  o.kind === "Secret"
                    ? { kind: o.kind, namespace: o.namespace, name: o.name, sealed: seal(key, o) }
                    : { kind: o.kind, namespace: o.namespace, name: o.name, data: o.data },
              )
              const content = JSON.stringify(
                {
                  version: 1,
                  objects: stored,
                  ...(services.size === 0 ? {} : { services: [...services.values()] }),
                },
                null,
                2,
              )
              return writeDurably(options.file, `${content}\n`)
            },
            catch: (error) =>
              new StateWriteFailed({ file: options.file, reason: errorText(error) }),
          }),
        )
        const hashKey = createHmac("sha256", key).update("beemesh config hash").digest()
        return { objects, services, hashKey, save }
      }),
    )
}

/** The objects of one namespace, as ConfigObjects' functions look them up. */
export const lookupIn =
  (objects: ReadonlyMap<string, ConfigObject>, namespace: string): Lookup =>
  (kind, name) =>
    objects.get(configKey(kind, namespace, name))
