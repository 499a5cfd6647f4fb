/**
 * The data-plane benchmark's image, `localhost/beemesh/bench-tools:1`, built offline on the sidecar
 * image's Node runtime (the only Node image there is offline) with the host's Debian binaries:
 * busybox (httpd serving a 612-byte page, like nginx's default one; it closes every connection),
 * a Node HTTP server that keeps connections open (busybox httpd cannot), a bare Node forwarder,
 * `hey` (HTTP load) and `iperf3` (bulk), each with the shared libraries it links, found with ldd.
 * Runs as root, like most images. Needs `apt-get install busybox-static hey iperf3`
 * (tooling/scripts/host-setup.sh).
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { build } from "../../demo/images"
import { SIDECAR_IMAGE } from "../../test/e2e/support"

export const TOOLS_IMAGE = "localhost/beemesh/bench-tools:1"
const BINARIES = {
  "/bin/busybox": "busybox-static",
  "/usr/bin/hey": "hey",
  "/usr/bin/iperf3": "iperf3",
}
const PAGE = `<!DOCTYPE html>\n<html><head><title>bench</title></head><body>${"x".repeat(540)}</body></html>\n`

/** Port 8000: the same page on connections kept open (Node's default keep-alive). */
const KEEPALIVE_SERVER = `import { createServer } from "node:http"
const page = ${JSON.stringify(PAGE)}
createServer((_, res) => res.end(page)).listen(8000)
`

/**
 * A bare forwarder, the cheapest Node proxy there is (`bench:dataplane --forwarders`): each
 * argument `LISTEN=TARGET` (an address is `host:port` or an absolute unix socket path) pipes
 * every connection to its target, no encryption, no multiplexing, no buffering of its own.
 */
const FORWARDER = `import { unlinkSync } from "node:fs"
import { connect, createServer } from "node:net"
const address = (a) => {
  if (a.startsWith("/")) return { path: a }
  const colon = a.lastIndexOf(":")
  return { host: a.slice(0, colon), port: Number(a.slice(colon + 1)) }
}
for (const arg of process.argv.slice(2)) {
  const [listen, target] = arg.split("=").map(address)
  const server = createServer((c) => {
    const u = connect(target)
    c.setNoDelay(true)
    u.setNoDelay(true)
    c.pipe(u).pipe(c)
    c.on("error", () => u.destroy())
    u.on("error", () => c.destroy())
  })
  if (listen.path !== undefined) {
    try { unlinkSync(listen.path) } catch {}
    server.listen(listen.path)
  } else server.listen(listen.port, listen.host)
}
`

const librariesOf = (binary: string) =>
  (spawnSync("ldd", [binary], { encoding: "utf8" }).stdout.match(/\s(\/\S+)/g) ?? []).map((m) =>
    m.trim(),
  )

export const buildToolsImage = () => {
  const missing = Object.entries(BINARIES).filter(([path]) => !existsSync(path))
  if (missing.length > 0)
    throw new Error(
      `missing ${missing.map(([path]) => path).join(", ")}: apt-get install ${missing.map(([, pkg]) => pkg).join(" ")} (tooling/scripts/host-setup.sh)`,
    )
  const files: Record<string, { content?: string; copyFrom?: string; mode?: number }> = {
    "www/index.html": { content: PAGE },
    "bench/keepalive.mjs": { content: KEEPALIVE_SERVER },
    "bench/forward.mjs": { content: FORWARDER },
    // iperf3 keeps its stream buffer in a temporary file.
    "rootfs/tmp/.keep": { content: "" },
  }
  for (const path of new Set([
    ...Object.keys(BINARIES),
    ...Object.keys(BINARIES).flatMap(librariesOf),
  ]))
    files[`rootfs${path}`] = { copyFrom: path, mode: 0o755 }
  build(
    TOOLS_IMAGE,
    files,
    `FROM ${SIDECAR_IMAGE}\nUSER 0:0\nENTRYPOINT []\nCOPY rootfs/ /\nCOPY www/ /www/\nCOPY bench/ /bench/\n`,
  )
}
