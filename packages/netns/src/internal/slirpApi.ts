import { createConnection } from "node:net"
import { Effect } from "effect"

/**
 * One request on slirp4netns' API socket: it reads a JSON object, answers with one JSON object
 * and closes the connection.
 */
export const slirpApiCall = (
  socketPath: string,
  request: unknown,
  timeoutMs: number,
): Effect.Effect<unknown, string> =>
  Effect.callback<unknown, string>((resume) => {
    const socket = createConnection({ path: socketPath })
    const chunks: Array<Buffer> = []
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(`no answer within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on("connect", () => socket.end(JSON.stringify(request)))
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(error.message))
    })
    socket.on("end", () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString()
      try {
        resume(Effect.succeed(JSON.parse(text)))
      } catch {
        resume(Effect.fail(`not JSON: ${text}`))
      }
      socket.destroy()
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })
