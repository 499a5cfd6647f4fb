import { connect, createServer, type Server } from "node:net"

/** A port on 127.0.0.1 that was free a moment ago (the kernel may hand it out again). */
export const freePort = async (): Promise<number> => {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r))
  const port = (s.address() as { port: number }).port
  await closeServer(s)
  return port
}

export const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()))

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export const waitFor = async <A>(
  what: string,
  check: () => A | undefined | Promise<A | undefined>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** For `waitFor`: true once something accepts TCP connections on 127.0.0.1:`port`. */
export const accepting = (port: number) => (): Promise<true | undefined> =>
  new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy()
      resolve(true)
    })
    s.on("error", () => resolve(undefined))
  })
