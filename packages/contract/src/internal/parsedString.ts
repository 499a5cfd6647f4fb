import { Result, Schema, SchemaGetter } from "effect"

/**
 * A Schema from a string form to a value, built from a parser that returns the value or a reason
 * and a formatter for the way back. The reason becomes the Schema failure's message as it is, so
 * callers see "port 0 is outside 1-65535" rather than a generic "invalid value".
 */
export const parsedString = <T>(
  to: Schema.Codec<T, T>,
  parse: (input: string) => Result.Result<T, string>,
  format: (value: T) => string,
): Schema.Codec<T, string> =>
  Schema.String.pipe(
    Schema.check(
      Schema.makeFilter((s: string) => {
        const r = parse(s)
        return Result.isFailure(r) ? r.failure : undefined
      }),
    ),
    Schema.decodeTo(to, {
      decode: SchemaGetter.transform((s: string) => Result.getOrThrow(parse(s))),
      encode: SchemaGetter.transform(format),
    }),
  )
