/**
 * The `/beemesh/proxy/1.0.0` wire protocol.
 *
 * After libp2p has negotiated the protocol id on a new stream, the opener sends one request frame
 * naming the target, the acceptor answers with one status frame, and from then on the stream carries
 * the raw bytes of one TCP connection in both directions.
 *
 * ```
 * request  = version(1) kind(1) body
 *            kind 1 (service): length(1) utf8-name(length)     name is 1..255 bytes
 *            kind 2 (port):    port(2, big endian)             1..65535
 * status   = code(1) length(1) utf8-reason(length)
 * ```
 *
 * `/beemesh/proxy/1.1.0` ({@link PROXY_PROTOCOL_REUSABLE}) has the same request and status, but
 * after an Ok each direction carries segments instead of raw bytes, so that the end of one TCP
 * connection does not end the stream:
 *
 * ```
 * segment  = kind(1) length(3, big endian) payload(length)
 *            kind 0 (data): 1..16777215 bytes of the connection
 *            kind 1 (end):  length 0; the sender's side of the connection is finished (its FIN)
 * ```
 *
 * Once both directions have sent their end, the stream is idle: the opener may send the next
 * request on it (the acceptor waits for one as on a new stream) or close it. A reset connection
 * resets the stream; a refusal ends it as in 1.0.0.
 */

/** The libp2p protocol id; bump the last segment for incompatible changes to the frames below. */
export const PROXY_PROTOCOL = "/beemesh/proxy/1.0.0"

/** The same frames, then segments: a stream carries one connection after another (see above). */
export const PROXY_PROTOCOL_REUSABLE = "/beemesh/proxy/1.1.0"

/** Bytes before every segment's payload. */
export const SEGMENT_HEADER_BYTES = 4

/** Largest payload of one data segment. */
export const MAX_SEGMENT_BYTES = 0xffffff

export const SegmentKind = { Data: 0, End: 1 } as const

/** Version byte at the start of every request, so a future frame layout can be told apart. */
export const REQUEST_VERSION = 1

/** Largest possible frame (request with a 255-byte name), used to reject garbage early. */
export const MAX_FRAME_BYTES = 3 + 255

/** What the opener of a stream asks to be connected to. */
export type ProxyTarget =
  | { readonly _tag: "Service"; readonly name: string }
  | { readonly _tag: "Port"; readonly port: number }

export const StatusCode = {
  /** Connected to the target; raw bytes follow. */
  Ok: 0,
  /** The acceptor exposes no such service or port. */
  UnknownTarget: 1,
  /** The target is exposed but its TCP listener did not accept the connection. */
  TargetUnreachable: 2,
  /** The acceptor is at its limit of concurrent streams. */
  Overloaded: 3,
  /** The request frame was malformed. */
  BadRequest: 4,
  /** The acceptor's door refused the caller: not a member, or no policy lets it reach the target. */
  Denied: 5,
} as const
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode]

export interface ProxyStatus {
  readonly code: StatusCode
  readonly reason: string
}

/** Result of decoding a frame from a prefix of the bytes received so far. */
export type Decoded<A> =
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Complete"; readonly value: A; readonly consumed: number }

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const incomplete: Decoded<never> = { _tag: "Incomplete" }
const invalid = (reason: string): Decoded<never> => ({ _tag: "Invalid", reason })

export const targetToString = (target: ProxyTarget): string =>
  target._tag === "Service" ? `service ${JSON.stringify(target.name)}` : `port ${target.port}`

/** Throws a RangeError for names or ports that cannot be encoded (a programming error). */
export const encodeRequest = (target: ProxyTarget): Uint8Array => {
  if (target._tag === "Port") {
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new RangeError(`port must be an integer in 1..65535, got ${target.port}`)
    }
    return Uint8Array.of(REQUEST_VERSION, 2, target.port >> 8, target.port & 0xff)
  }
  const name = encoder.encode(target.name)
  if (name.byteLength < 1 || name.byteLength > 255) {
    throw new RangeError(`service name must be 1..255 UTF-8 bytes, got ${name.byteLength}`)
  }
  const frame = new Uint8Array(3 + name.byteLength)
  frame[0] = REQUEST_VERSION
  frame[1] = 1
  frame[2] = name.byteLength
  frame.set(name, 3)
  return frame
}

export const decodeRequest = (bytes: Uint8Array): Decoded<ProxyTarget> => {
  if (bytes.byteLength < 2) return incomplete
  if (bytes[0] !== REQUEST_VERSION) return invalid(`unsupported request version ${bytes[0]}`)
  const kind = bytes[1]
  if (kind === 2) {
    if (bytes.byteLength < 4) return incomplete
    const port = (bytes[2]! << 8) | bytes[3]!
    if (port === 0) return invalid("port 0 is not a valid target")
    return { _tag: "Complete", value: { _tag: "Port", port }, consumed: 4 }
  }
  if (kind === 1) {
    if (bytes.byteLength < 3) return incomplete
    const length = bytes[2]!
    if (length === 0) return invalid("empty service name")
    if (bytes.byteLength < 3 + length) return incomplete
    const name = decodeUtf8(bytes.subarray(3, 3 + length))
    if (name === undefined) return invalid("service name is not valid UTF-8")
    return { _tag: "Complete", value: { _tag: "Service", name }, consumed: 3 + length }
  }
  return invalid(`unknown request kind ${kind}`)
}

export const encodeStatus = (status: ProxyStatus): Uint8Array => {
  // Reasons are informational; cut them to fit the one-byte length without splitting a character.
  let reason = encoder.encode(status.reason)
  if (reason.byteLength > 255) reason = encoder.encode(truncateUtf8(status.reason, 255))
  const frame = new Uint8Array(2 + reason.byteLength)
  frame[0] = status.code
  frame[1] = reason.byteLength
  frame.set(reason, 2)
  return frame
}

const knownCodes = new Set<number>(Object.values(StatusCode))

export const decodeStatus = (bytes: Uint8Array): Decoded<ProxyStatus> => {
  if (bytes.byteLength < 2) return incomplete
  const code = bytes[0]!
  if (!knownCodes.has(code)) return invalid(`unknown status code ${code}`)
  const length = bytes[1]!
  if (bytes.byteLength < 2 + length) return incomplete
  const reason = decodeUtf8(bytes.subarray(2, 2 + length))
  if (reason === undefined) return invalid("status reason is not valid UTF-8")
  return { _tag: "Complete", value: { code: code as StatusCode, reason }, consumed: 2 + length }
}

const decodeUtf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

const truncateUtf8 = (text: string, maxBytes: number): string => {
  let out = ""
  let used = 0
  for (const char of text) {
    const size = encoder.encode(char).byteLength
    if (used + size > maxBytes) break
    out += char
    used += size
  }
  return out
}

/** The header of a data segment of `length` bytes (1..{@link MAX_SEGMENT_BYTES}). */
export const encodeDataHeader = (length: number): Uint8Array =>
  Uint8Array.of(SegmentKind.Data, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)

/** The end segment: the sender's side of the connection is finished. */
export const END_SEGMENT: Uint8Array = Uint8Array.of(SegmentKind.End, 0, 0, 0)
