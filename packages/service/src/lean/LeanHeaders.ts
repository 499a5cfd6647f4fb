/**
 * The fetch standard's `Headers`, as much of it as hono and the agent's routes use: names are
 * case-insensitive, values are trimmed, repeated names combine with ", " (except `set-cookie`,
 * kept one value each), iteration is sorted by lower-case name. Node's own class lives in its
 * bundled undici, which costs a process megabytes the first time any of these globals is touched.
 */

/** What `new Headers(init)` takes: another Headers, `[name, value]` pairs, or a record. */
export type LeanHeadersInit =
  | { readonly forEach: (callback: (value: string, name: string) => void) => void }
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | ReadonlyArray<string>>>

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const FORBIDDEN_VALUE = /[\0\r\n]/
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g
const SET_COOKIE = "set-cookie"

const normalizeName = (name: string): string => {
  const text = String(name)
  if (!TOKEN.test(text)) throw new TypeError(`"${text}" is not a valid HTTP header name`)
  return text.toLowerCase()
}

const normalizeValue = (name: string, value: string): string => {
  const text = String(value).replace(EDGE_WHITESPACE, "")
  if (FORBIDDEN_VALUE.test(text))
    throw new TypeError(`the value of header ${name} has a NUL, CR or LF character`)
  return text
}

const isIterable = (value: object): value is Iterable<readonly [string, string]> =>
  Symbol.iterator in value

export class LeanHeaders {
  // Lower-case name → its values in the order appended.
  readonly #values = new Map<string, Array<string>>()

  constructor(init?: LeanHeadersInit | null) {
    if (init === undefined || init === null) return
    if (typeof init !== "object") throw new TypeError("Headers takes an object, pairs or Headers")
    if (init instanceof LeanHeaders) {
      for (const [name, values] of init.#values) this.#values.set(name, [...values])
    } else if (isIterable(init)) {
      for (const pair of init) {
        if (pair.length !== 2)
          throw new TypeError("each header pair must be [name, value], exactly two items")
        this.append(pair[0], pair[1])
      }
    } else {
      for (const name of Object.keys(init)) {
        const value = (init as Readonly<Record<string, string | ReadonlyArray<string>>>)[name]
        if (Array.isArray(value)) for (const v of value) this.append(name, v)
        else this.append(name, String(value))
      }
    }
  }

  append(name: string, value: string): void {
    const key = normalizeName(name)
    const normalized = normalizeValue(key, value)
    const values = this.#values.get(key)
    if (values === undefined) this.#values.set(key, [normalized])
    else values.push(normalized)
  }

  set(name: string, value: string): void {
    const key = normalizeName(name)
    this.#values.set(key, [normalizeValue(key, value)])
  }

  get(name: string): string | null {
    return this.#values.get(normalizeName(name))?.join(", ") ?? null
  }

  has(name: string): boolean {
    return this.#values.has(normalizeName(name))
  }

  delete(name: string): void {
    this.#values.delete(normalizeName(name))
  }

  getSetCookie(): Array<string> {
    return [...(this.#values.get(SET_COOKIE) ?? [])]
  }

  forEach(callback: (value: string, name: string, headers: LeanHeaders) => void, self?: unknown) {
    for (const [name, value] of this.entries()) callback.call(self, value, name, this)
  }

  *entries(): IterableIterator<[string, string]> {
    const names = [...this.#values.keys()].sort()
    for (const name of names) {
      const values = this.#values.get(name)
      if (values === undefined) continue
      if (name === SET_COOKIE) for (const value of values) yield [name, value]
      else yield [name, values.join(", ")]
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()
  }

  get [Symbol.toStringTag](): string {
    return "Headers"
  }
}

/**
 * Node's `writeHead` form of any Headers (lean or Node's own): a key per name, `set-cookie` as an
 * array of its values.
 */
export const outgoingHeaders = (headers: {
  readonly forEach: (callback: (value: string, name: string) => void) => void
}): Record<string, string | Array<string>> => {
  const out: Record<string, string | Array<string>> = {}
  headers.forEach((value, name) => {
    if (name === SET_COOKIE) {
      const previous = out[name]
      out[name] = Array.isArray(previous) ? [...previous, value] : [value]
    } else out[name] = value
  })
  return out
}
