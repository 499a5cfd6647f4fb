/** Validation of slirp4netns options given as data (the agent's config, a pod spec). */
import { Effect, Result, Schema } from "effect"
import { KEYS, type Key } from "./internal/slirpKeys.js"
import { checkSemantics, invalid, SCHEMA_NAMES } from "./internal/slirpRules.js"
import { SlirpOptions, SlirpOptionsInvalid } from "./SlirpOptions.js"

/** Checks the rules that span fields or need arithmetic (CIDR room, MTU with IPv6, addresses). */
export const validateSlirpOptions = (
  options: SlirpOptions,
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> =>
  Effect.fromResult(checkSemantics(options, SCHEMA_NAMES))

const decodeField = (key: Key, value: unknown) =>
  Schema.decodeUnknownResult(SlirpOptions.fields[key])(value)

const decodeObject = (input: unknown): Result.Result<SlirpOptions, SlirpOptionsInvalid> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Result.fail(
      new SlirpOptionsInvalid({
        option: "(options)",
        value: JSON.stringify(input) ?? String(input),
        allowed: `an object with keys ${KEYS.join(", ")}`,
        reason: "not an object",
      }),
    )
  }
  for (const [key, value] of Object.entries(input)) {
    if (!(KEYS as ReadonlyArray<string>).includes(key)) {
      return Result.fail(
        new SlirpOptionsInvalid({
          option: key,
          value: JSON.stringify(value) ?? String(value),
          allowed: `one of the keys ${KEYS.join(", ")}`,
          reason: "unknown option",
        }),
      )
    }
    if (Result.isFailure(decodeField(key as Key, value))) {
      return Result.fail(invalid(key, value, key as Key, "wrong type"))
    }
  }
  const decoded = Schema.decodeUnknownResult(SlirpOptions)(input)
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new SlirpOptionsInvalid({
        option: "(options)",
        value: JSON.stringify(input),
        allowed: `an object with keys ${KEYS.join(", ")}`,
        reason: decoded.failure.message,
      }),
    )
  }
  return checkSemantics(decoded.success, SCHEMA_NAMES)
}

/** Decodes options from JSON-like input (agent config): defaults filled in, every rule checked. */
export const decodeSlirpOptions = (
  input: unknown,
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> => Effect.fromResult(decodeObject(input))

/** Synchronous twin of {@link decodeSlirpOptions}, for callers outside Effect. */
