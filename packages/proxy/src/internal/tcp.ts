import * as net from "node:net"
import { Effect } from "effect"

/**
 * Connects to host:port (half-open allowed, as the bridge needs); rejects after `timeoutMs`, and
 * destroys the socket on failure or once `signal` aborts. A plain promise, its timer its own:
 * this runs once per inbound connection.
 */
export const connectTcp = (
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true })
    const cleanup = () => {
      clearTimeout(timer)
      socket.off("error", onError)
      socket.off("connect", onConnect)
      signal.removeEventListener("abort", onAbort)
    }
    const onError = (error: Error) => {
      cleanup()
      socket.destroy()
      reject(error)
    }
    const onConnect = () => {
      cleanup()
      resolve(socket)
    }
    const onAbort = () => onError(signal.reason)
    const timer = setTimeout(
      () => onError(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    )
    socket.once("error", onError)
    socket.once("connect", onConnect)
    if (signal.aborted) onAbort()
    else signal.addEventListener("abort", onAbort, { once: true })
  })

/** Starts listening; resolves with the bound port (useful with port 0). */
export const listenTcp = (
  server: net.Server,
  host: string,
  port: number,
): Effect.Effect<number, Error> =>
  Effect.callback<number, Error>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(error))
    server.once("error", onError)
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off("error", onError)
      const address = server.address()
      resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
    })
  })

/** Stops accepting and waits until the listening socket is closed (open connections are separate). */
export const closeServer = (server: net.Server): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    server.close(() => resume(Effect.void))
  })
