import { createConnection, createServer, type Socket } from "node:net"
import { Effect } from "effect"

/** A port nothing listens on right now (the node that takes it starts right after). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        resolve(typeof address === "object" && address !== null ? address.port : 0),
      )
    })
  })

/**
 * A TCP relay on 127.0.0.1 that delays every chunk by `delayMs` in each direction: in front of a
 * node (announced instead of its own address) it gives the in-process mesh a network's latency,
 * which makes DHT walks wait on round trips the way they do between hosts. Chunks keep their
 * order (timers of equal delay fire in the order they were set). `silence()` makes it drop every
 * byte from then on without closing anything: the node behind it looks like a host whose cable
 * was pulled (peers see silence, not resets).
 */
export const delayRelay = (delayMs: number) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{
          port: number
          target: (port: number) => void
          silence: () => void
          close: () => void
        }>((resolve) => {
          let targetPort: number | undefined
          let silent = false
          const sockets = new Set<Socket>()
          const pipeDelayed = (from: Socket, to: Socket) => {
            from.on("data", (chunk) => {
              if (!silent) setTimeout(() => to.writable && !silent && to.write(chunk), delayMs)
            })
            from.on("end", () => setTimeout(() => to.end(), delayMs))
          }
          const server = createServer((client) => {
            if (targetPort === undefined) return client.destroy()
            const upstream = createConnection({ host: "127.0.0.1", port: targetPort })
            for (const socket of [client, upstream]) {
              sockets.add(socket)
              socket.on("error", () => {
                client.destroy()
                upstream.destroy()
              })
              socket.on("close", () => sockets.delete(socket))
            }
            pipeDelayed(client, upstream)
            pipeDelayed(upstream, client)
          })
          server.listen(0, "127.0.0.1", () => {
            const address = server.address()
            resolve({
              port: typeof address === "object" && address !== null ? address.port : 0,
              target: (port) => {
                targetPort = port
              },
              silence: () => {
                silent = true
              },
              close: () => {
                server.close()
                for (const socket of sockets) socket.destroy()
              },
            })
          })
        }),
    ),
    (relay) => Effect.sync(relay.close),
  )
