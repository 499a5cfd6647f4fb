import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

/**
 * An HTTP server on the host's loopback that the test owns (what a pod's "blocked" is proved
 * against), counting the paths it was asked for; closed with the scope.
 */
export const countingHostServer = Effect.gen(function* () {
  const requests: Array<string> = []
  const server = yield* Effect.acquireRelease(
    Effect.callback<Server>((resume) => {
      const server = createServer((req, res) => {
        requests.push(req.url ?? "")
        res.end("host")
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void))),
  )
  return { port: (server.address() as AddressInfo).port, requests }
})
