import type { Connection, Stream } from "@libp2p/interface"

export interface ReadyStreamsOptions {
  /** Ready streams kept per provider peer; 0 disables the pool. */
  readonly size: number
  /** A ready stream unused for this long is closed (the acceptor would time it out). */
  readonly maxAgeMs: number
  /** Streams given back after their connection (see `giveBack`): 0 keeps none. */
  readonly maxIdle: number
  /** Opens and negotiates one stream on a connection. */
  readonly open: (connection: Connection) => Promise<Stream>
}

interface Ready {
  readonly stream: Stream
  readonly connection: Connection
  readonly timer: NodeJS.Timeout
}

/**
 * Streams opened ahead of need, per provider peer: each has been created and has completed
 * multistream-select, so taking one skips that round trip (and the stream's setup work) on a new
 * connection's path. The caller refills the pool (`refill`) once the connection that took a
 * stream no longer waits on the provider, and gives a stream back (`giveBack`) when its
 * connection ended and it can carry the next one (`/beemesh/proxy/1.1.0`); an unused stream is
 * closed after `maxAgeMs` and not replaced, so an idle caller holds no streams.
 */
export class ReadyStreams {
  private readonly pools = new Map<string, Ready[]>()
  private readonly opening = new Map<string, number>()
  private closed = false

  constructor(private readonly options: ReadyStreamsOptions) {}

  /**
   * A ready stream to `peer` on `connection`, if one is still usable. One on another connection
   * (the provider's connection closed and was dialled again) is not: it is closed.
   */
  take(peer: string, connection: Connection): Stream | undefined {
    const pool = this.pools.get(peer)
    let taken: Stream | undefined
    while (pool !== undefined && pool.length > 0 && taken === undefined) {
      const ready = pool.shift() as Ready
      clearTimeout(ready.timer)
      if (ready.connection === connection && usable(ready.stream)) taken = ready.stream
      else discard(ready.stream)
    }
    return taken
  }

  /**
   * Tops the pool of `peer` up on `connection`, in the background. Called once a connection's
   * handshake is over rather than when it takes a stream: the new streams' frames (a SYN and a
   * protocol proposal each) would otherwise reach the provider with the request, or before it,
   * and be handled first on the path of every new connection.
   */
  refill(peer: string, connection: Connection): void {
    if (this.options.size <= 0 || this.closed) return
    const pool = this.poolOf(peer)
    const pending = this.opening.get(peer) ?? 0
    const missing = this.options.size - pool.length - pending
    if (missing <= 0 || connection.status !== "open") return
    this.opening.set(peer, pending + missing)
    for (let i = 0; i < missing; i++) {
      this.options
        .open(connection)
        .then(
          (stream) => this.keep(peer, pool, stream, connection, this.options.size),
          // A stream that could not be opened is not an error of any caller: the next
          // connection opens its own stream and reports the failure if there is one.
          () => {},
        )
        .finally(() => {
          const left = (this.opening.get(peer) ?? 1) - 1
          if (left > 0) this.opening.set(peer, left)
          else this.opening.delete(peer)
        })
    }
  }

  /**
   * A stream whose connection ended cleanly, for the next connection to `peer`: kept (up to
   * `size` or `maxIdle` streams, whichever is more) if it is still usable, else closed. With
   * `maxIdle` 0 none is kept.
   */
  giveBack(peer: string, connection: Connection, stream: Stream): void {
    const keep = this.options.maxIdle > 0 && !this.closed && connection.status === "open"
    if (!keep || !usable(stream)) {
      discard(stream)
      return
    }
    this.keep(
      peer,
      this.poolOf(peer),
      stream,
      connection,
      Math.max(this.options.size, this.options.maxIdle),
    )
  }

  /** Closes every ready stream and stops refilling. */
  close(): void {
    this.closed = true
    for (const pool of this.pools.values()) {
      for (const ready of pool) {
        clearTimeout(ready.timer)
        discard(ready.stream)
      }
    }
    this.pools.clear()
  }

  private poolOf(peer: string): Ready[] {
    let pool = this.pools.get(peer)
    if (pool === undefined) {
      pool = []
      this.pools.set(peer, pool)
    }
    return pool
  }

  private keep(
    peer: string,
    pool: Ready[],
    stream: Stream,
    connection: Connection,
    limit: number,
  ): void {
    if (this.closed || this.pools.get(peer) !== pool || pool.length >= limit) {
      discard(stream)
      return
    }
    const ready: Ready = {
      stream,
      connection,
      timer: setTimeout(() => {
        const index = pool.indexOf(ready)
        if (index >= 0) pool.splice(index, 1)
        discard(stream)
        // Providers come and go: forget a peer whose pool ran empty while idle.
        if (pool.length === 0 && !this.opening.has(peer) && this.pools.get(peer) === pool) {
          this.pools.delete(peer)
        }
      }, this.options.maxAgeMs).unref(),
    }
    pool.push(ready)
  }
}

/** Open both ways and nothing received: the acceptor is still waiting for the request. */
const usable = (stream: Stream): boolean =>
  stream.status === "open" &&
  stream.writeStatus === "writable" &&
  stream.remoteWriteStatus === "writable" &&
  stream.readBufferLength === 0

/** Closes an unused stream (a FIN: the acceptor sees it end before any byte). */
const discard = (stream: Stream): void => {
  if (stream.status !== "open") return
  stream.close().catch(() => stream.abort(new Error("unused ready stream")))
}
