/**
 * The multi-host benchmark's workload, run by Node inside app containers (the image is built by
 * image.ts). Plain JavaScript: it runs in the container as is, with no bundling.
 *
 *   serve <port>                          TCP server on 127.0.0.1:<port>; the first byte of a
 *                                         connection picks the mode: E echo, S sink (read to the
 *                                         end, answer the byte count), H hello (answer
 *                                         "host <BENCH_HOST>" and close)
 *   idle                                  wait for SIGTERM (a client pod whose app does nothing)
 *   rtt <port> <samples> <bytes>          one connection, <samples> echo round trips of <bytes>
 *   connect <port> <samples>              <samples> new connections, each one hello
 *   upload <port> <MiB>                   one connection, <MiB> sent, until the count comes back
 *   watch <port> <ms> <timeoutMs> <gapMs> hellos one after another for <ms>, each bounded
 * Client modes print one JSON line on stdout: times in ms, wall-clock starts (Date.now()).
 */
import { connect, createServer } from "node:net"

const [mode, ...args] = process.argv.slice(2)
const n = (i) => Number(args[i])
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`)
process.on("SIGTERM", () => process.exit(0))

const serve = (port) => {
  const host = process.env.BENCH_HOST ?? "unknown"
  createServer((socket) => {
    let mode
    let count = 0
    socket.on("error", () => socket.destroy())
    socket.on("data", (chunk) => {
      let data = chunk
      if (mode === undefined) {
        mode = String.fromCharCode(data[0])
        data = data.subarray(1)
        if (mode === "H") return socket.end(`host ${host}\n`)
      }
      if (mode === "E") socket.write(data)
      else count += data.length
    })
    socket.on("end", () => {
      if (mode === "S") socket.end(`${count}\n`)
      else socket.end()
    })
  }).listen(port, "127.0.0.1")
}

/** Connects, sends `first`, resolves with the socket once connected. */
const open = (port, first) =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, noDelay: true }, () => {
      socket.write(first)
      resolve(socket)
    })
    socket.once("error", reject)
  })

/** Everything the peer sends until it ends the connection. */
const readAll = (socket) =>
  new Promise((resolve, reject) => {
    const chunks = []
    socket.on("data", (c) => chunks.push(c))
    socket.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    socket.once("error", reject)
    socket.once("close", (hadError) => hadError || resolve(Buffer.concat(chunks).toString("utf8")))
  })

const rtt = async (port, samples, bytes) => {
  const socket = await open(port, "E")
  const payload = Buffer.alloc(bytes, 0x61)
  const times = []
  let received = 0
  let done
  socket.on("data", (c) => {
    received += c.length
    if (received >= bytes) {
      received -= bytes
      done()
    }
  })
  for (let i = 0; i < samples; i++) {
    const started = performance.now()
    await new Promise((resolve) => {
      done = resolve
      socket.write(payload)
    })
    times.push(performance.now() - started)
  }
  socket.destroy()
  print({ samplesMs: times })
}

const hello = async (port, timeoutMs) => {
  const startedAt = Date.now()
  const started = performance.now()
  let socket
  const timer = new Promise((_, reject) =>
    setTimeout(() => reject(new Error("timeout")), timeoutMs).unref(),
  )
  try {
    socket = await Promise.race([open(port, "H"), timer])
    const answer = await Promise.race([readAll(socket), timer])
    const host = /^host (\S+)/.exec(answer)?.[1] ?? null
    return { at: startedAt, ms: performance.now() - started, host }
  } catch (error) {
    return { at: startedAt, ms: performance.now() - started, host: null, error: error.message }
  } finally {
    socket?.destroy()
  }
}

const connectSamples = async (port, samples) => {
  const times = []
  const failures = []
  for (let i = 0; i < samples; i++) {
    const result = await hello(port, 10_000)
    if (result.host === null) failures.push(result.error ?? "no answer")
    else times.push(result.ms)
  }
  print({ samplesMs: times, failures })
}

const upload = async (port, mib) => {
  const started = performance.now()
  const socket = await open(port, "S")
  const chunk = Buffer.alloc(64 * 1024, 0x62)
  const total = mib * 1024 * 1024
  const answer = readAll(socket)
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve))
  }
  socket.end()
  const count = Number((await answer).trim())
  print({ ms: performance.now() - started, bytes: count, expected: total })
}

const watch = async (port, durationMs, timeoutMs, gapMs) => {
  const until = Date.now() + durationMs
  const calls = []
  while (Date.now() < until) {
    calls.push(await hello(port, timeoutMs))
    await new Promise((resolve) => setTimeout(resolve, gapMs))
  }
  print({ calls })
}

const modes = {
  serve: () => serve(n(0)),
  idle: () => setInterval(() => undefined, 1 << 30),
  rtt: () => rtt(n(0), n(1), n(2)),
  connect: () => connectSamples(n(0), n(1)),
  upload: () => upload(n(0), n(1)),
  watch: () => watch(n(0), n(1), n(2), n(3)),
}
if (modes[mode] === undefined) {
  process.stderr.write(`unknown mode ${mode}; one of ${Object.keys(modes).join(", ")}\n`)
  process.exit(2)
}
modes[mode]()
