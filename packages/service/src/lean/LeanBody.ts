/**
 * The body half of the lean Request and Response: what a body may be made of (text, bytes, a
 * stream), reading it once (`text`, `json`, `arrayBuffer`, `bytes`, `blob`), and `body` as a
 * minimal stream (`getReader().read()`, async iteration), which is what hono's bodyLimit reads.
 * Text and bytes stay as given until someone reads them, so the node:http adapter writes them
 * as they are.
 */

/** One read of a body reader, as the streams standard has it. */
export type ChunkRead =
  | { readonly done: false; readonly value: Uint8Array }
  | { readonly done: true; readonly value?: undefined }

export interface ChunkReader {
  read(): Promise<ChunkRead>
  cancel(reason?: unknown): Promise<void>
  releaseLock(): void
}

/** A web ReadableStream (or anything with its `getReader`). */
export interface ReadableLike {
  getReader(): ChunkReader
}

/** What a body holds: nothing, text, bytes, or chunks read once (a stream, a node request). */
export type BodySource = null | string | Uint8Array | ReadableLike | AsyncIterable<Uint8Array>

/** What `new Request/Response(…, { body })` takes. */
export type LeanBodyInit =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | ReadableLike
  | AsyncIterable<Uint8Array>
  | null

const TEXT_CONTENT_TYPE = "text/plain;charset=UTF-8"
const BOM = 0xfeff

const unusable = () => new TypeError("Body is unusable: Body has already been read")

const copyBytes = (view: ArrayBufferView | ArrayBuffer): Uint8Array =>
  view instanceof ArrayBuffer
    ? new Uint8Array(view.slice(0))
    : new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength))

const isReadable = (value: object): value is ReadableLike =>
  typeof (value as Partial<ReadableLike>).getReader === "function"

const isAsyncIterable = (value: object): value is AsyncIterable<Uint8Array> =>
  Symbol.asyncIterator in value

/** The stored form of a body init, and the content type it implies (text for strings). */
export const bodySourceOf = (
  init: LeanBodyInit | undefined,
): { readonly source: BodySource; readonly contentType?: string } => {
  if (init === undefined || init === null) return { source: null }
  if (typeof init === "string") return { source: init, contentType: TEXT_CONTENT_TYPE }
  if (typeof init !== "object")
    throw new TypeError(`a body must be text, bytes or a stream, not ${typeof init}`)
  if (init instanceof LeanBodyStream) return { source: init.take() }
  if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) return { source: copyBytes(init) }
  if (isReadable(init) || isAsyncIterable(init)) return { source: init }
  throw new TypeError(
    "a body must be a string, an ArrayBuffer, a typed array, a ReadableStream or null (the lean adapter reads no FormData, Blob or URLSearchParams)",
  )
}

/** Reads a chunk source to its end. */
const readAll = async (source: ReadableLike | AsyncIterable<Uint8Array>): Promise<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  if (isReadable(source)) {
    const reader = source.getReader()
    for (;;) {
      const read = await reader.read()
      if (read.done) break
      chunks.push(read.value)
      size += read.value.byteLength
    }
  } else {
    for await (const chunk of source) {
      chunks.push(chunk)
      size += chunk.byteLength
    }
  }
  if (chunks.length === 1) return chunks[0]!
  const all = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    all.set(chunk, offset)
    offset += chunk.byteLength
  }
  return all
}

/** A reader over any non-empty body source (the adapter writes streams through it). */
export const readerOf = (source: Exclude<BodySource, null>): ChunkReader => {
  if (typeof source === "string" || source instanceof Uint8Array) {
    let sent = false
    return {
      read: async () => {
        if (sent) return { done: true }
        sent = true
        const bytes = typeof source === "string" ? new TextEncoder().encode(source) : source
        return bytes.byteLength === 0 ? { done: true } : { done: false, value: bytes }
      },
      cancel: async () => {
        sent = true
      },
      releaseLock: () => {},
    }
  }
  if (isReadable(source)) return source.getReader()
  const iterator = source[Symbol.asyncIterator]()
  return {
    read: async () => {
      const next = await iterator.next()
      return next.done === true ? { done: true } : { done: false, value: next.value }
    },
    cancel: async () => {
      await iterator.return?.()
    },
    releaseLock: () => {},
  }
}

/**
 * A body as a stream: one reader, or async iteration. Not a web ReadableStream (that would load
 * Node's web streams): what hono reads (`getReader().read()`) and what the adapter writes.
 */
export class LeanBodyStream {
  #source: Exclude<BodySource, null> | undefined
  readonly #onTaken: () => void

  constructor(source: Exclude<BodySource, null>, onTaken: () => void) {
    this.#source = source
    this.#onTaken = onTaken
  }

  get locked(): boolean {
    return this.#source === undefined
  }

  /** The source, once: the stream is locked (and its body used) afterwards. */
  take(): Exclude<BodySource, null> {
    const source = this.#source
    if (source === undefined) throw new TypeError("the body stream is locked or already read")
    this.#source = undefined
    this.#onTaken()
    return source
  }

  getReader(): ChunkReader {
    return readerOf(this.take())
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const reader = this.getReader()
    for (;;) {
      const read = await reader.read()
      if (read.done) return
      yield read.value
    }
  }
}

/** The fetch standard's Body mixin over a BodySource. */
export class LeanBody {
  #source: BodySource
  #used = false
  #stream: LeanBodyStream | ReadableLike | null | undefined

  constructor(source: BodySource) {
    this.#source = source
  }

  get bodyUsed(): boolean {
    return this.#used
  }

  get body(): LeanBodyStream | ReadableLike | null {
    if (this.#stream !== undefined) return this.#stream
    const source = this.#source
    if (source === null) this.#stream = null
    else if (typeof source === "object" && isReadable(source)) this.#stream = source
    else
      this.#stream = new LeanBodyStream(source, () => {
        this.#used = true
      })
    return this.#stream
  }

  /**
   * The source for the node:http adapter or a new Request/Response, once; null when empty.
   * Text and bytes come back as they are, so they are written without a copy.
   */
  takeSource(): BodySource {
    if (this.#used) throw unusable()
    const source = this.#stream instanceof LeanBodyStream ? this.#stream.take() : this.#source
    if (source !== null) this.#used = true
    return source
  }

  async #consume(): Promise<string | Uint8Array> {
    const source = this.takeSource()
    if (source === null) return new Uint8Array(0)
    if (typeof source === "string" || source instanceof Uint8Array) return source
    return readAll(source)
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  }

  async bytes(): Promise<Uint8Array> {
    const content = await this.#consume()
    return typeof content === "string" ? new TextEncoder().encode(content) : content
  }

  async text(): Promise<string> {
    const content = await this.#consume()
    // As the standard's UTF-8 decode (TextDecoder's default): a leading byte order mark is dropped.
    if (typeof content !== "string") return new TextDecoder().decode(content)
    return content.charCodeAt(0) === BOM ? content.slice(1) : content
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.bytes()])
  }

  async formData(): Promise<never> {
    throw new TypeError(
      "the lean fetch classes read no form data; read the body with text(), json() or arrayBuffer()",
    )
  }
}
