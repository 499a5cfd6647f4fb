// Run inside a simulated host's network namespace: serves a unix socket (reachable from any
// namespace, since it lives in the file system) and pipes each connection to HOST:PORT there.
// Usage: node relay.mjs <socket path> <host> <port>
import { rmSync } from "node:fs"
import { createConnection, createServer } from "node:net"

const [path, host, port] = process.argv.slice(2)
rmSync(path, { force: true })
const server = createServer((client) => {
  const upstream = createConnection({ host, port: Number(port) })
  const close = () => {
    client.destroy()
    upstream.destroy()
  }
  client.pipe(upstream).pipe(client)
  for (const socket of [client, upstream]) {
    socket.on("error", close)
    socket.on("close", close)
  }
})
server.listen(path, () => console.log(`relay: ${path} -> ${host}:${port}`))
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    rmSync(path, { force: true })
    process.exit(0)
  })
}
