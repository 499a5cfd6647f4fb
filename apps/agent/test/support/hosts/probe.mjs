// Run inside a simulated host's network namespace: one TCP connection attempt to HOST:PORT,
// optionally writing a payload; prints {"outcome": "open"|"refused"|"timeout"|"error", "data"}
// where data is what the peer sent before closing or the deadline (at most 64 KiB).
// Usage: node probe.mjs <host> <port> <timeout ms> [payload]
import { connect } from "node:net"

const [host, port, timeoutMs, payload] = process.argv.slice(2)
let data = ""
let opened = false
const finish = (outcome) => {
  process.stdout.write(`${JSON.stringify({ outcome, data: data.slice(0, 65536) })}\n`)
  process.exit(0)
}
const socket = connect({ host, port: Number(port) })
const timer = setTimeout(() => finish(opened ? "open" : "timeout"), Number(timeoutMs))
socket.on("connect", () => {
  opened = true
  if (payload !== undefined) socket.write(payload)
})
socket.on("data", (chunk) => {
  data += chunk.toString("latin1")
})
socket.on("close", () => {
  clearTimeout(timer)
  finish(opened ? "open" : "error")
})
socket.on("error", (error) => {
  clearTimeout(timer)
  finish(error.code === "ECONNREFUSED" ? "refused" : opened ? "open" : "error")
})
