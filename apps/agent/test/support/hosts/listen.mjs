// Run inside a simulated host's network namespace: counting listeners for the adversarial tests,
// TCP and UDP on one port at each address given (IPv4 and IPv6). A TCP peer gets an HTTP answer
// ("reached-test-listener"); a UDP datagram gets a TFTP DATA block 1 carrying the same text, which
// completes a busybox `tftp -g` and is an answer a plain UDP client can read.
// Prints "LISTENING <port>" once every socket is bound, then "HIT tcp|udp <address> <from>" for
// each connection or datagram.
// Usage: node listen.mjs <address> [address...]
import { createSocket } from "node:dgram"
import { createServer } from "node:net"

const addresses = process.argv.slice(2)
const TEXT = "reached-test-listener"
const HTTP = `HTTP/1.0 200 OK\r\nContent-Length: ${TEXT.length}\r\n\r\n${TEXT}`
const TFTP_DATA = Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from(TEXT)])

const tcp = (address, port) =>
  new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      console.log(`HIT tcp ${address} ${socket.remoteAddress}`)
      socket.once("data", () => socket.end(HTTP))
      socket.on("error", () => undefined)
    })
    server.once("error", reject)
    server.listen({ host: address, port, ipv6Only: address.includes(":") }, () =>
      resolve(server.address().port),
    )
  })

const udp = (address, port) =>
  new Promise((resolve, reject) => {
    const socket = createSocket(address.includes(":") ? "udp6" : "udp4")
    socket.on("message", (_, from) => {
      console.log(`HIT udp ${address} ${from.address}`)
      socket.send(TFTP_DATA, from.port, from.address)
    })
    socket.once("error", reject)
    socket.bind(port, address, () => resolve())
  })

let port = 0
for (const address of addresses) port = await tcp(address, port)
for (const address of addresses) await udp(address, port)
console.log(`LISTENING ${port}`)
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0))
