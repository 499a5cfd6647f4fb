/**
 * The demo's two workload images, built offline from busybox-static (nothing is pulled):
 *   localhost/beemesh/demo-orders:1  busybox httpd on 127.0.0.1:80 answering /cgi-bin/orders
 *                                    (with "on host $DEMO_HOST" when the manifest sets it)
 *   localhost/beemesh/demo-web:1     a loop that asks orders through its sidecar's upstream port
 *                                    and tries to reach the agent directly (which must fail)
 * Run: `tsx demo/images.ts` (the `demo:images` script). (busybox 1.35 wget segfaults with -T: the
 * demo bounds it with `busybox timeout` instead.)
 */
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const ORDERS_IMAGE = "localhost/beemesh/demo-orders:1"
export const WEB_IMAGE = "localhost/beemesh/demo-web:1"
const BUSYBOX = "/bin/busybox"

const ORDERS_CGI = `#!/bin/busybox sh
echo "Content-Type: text/plain"
echo
echo "orders: 3 open orders, answered by pod $(/bin/busybox hostname)\${DEMO_HOST:+ on host $DEMO_HOST}"
`

/** The web app's loop; AGENT_PORT comes from its manifest's env. */
export const WEB_SCRIPT = `trap 'exit 0' TERM
while true; do
  answer=$(/bin/busybox timeout 5 /bin/busybox wget -q -O - http://127.0.0.1:9001/cgi-bin/orders 2>&1) || answer="no answer ($answer)"
  echo "web: orders said: $answer"
  if /bin/busybox timeout 3 /bin/busybox wget -q -O /dev/null "http://10.0.2.2:\${AGENT_PORT:-8080}/health" 2>/dev/null; then
    echo "web: reached the agent directly at 10.0.2.2:\${AGENT_PORT:-8080} (egress NOT enforced)"
  else
    echo "web: direct connection to the agent at 10.0.2.2:\${AGENT_PORT:-8080} blocked"
  fi
  /bin/busybox sleep "\${WEB_INTERVAL:-3}" & wait $!
done
`

const build = (
  tag: string,
  files: Record<string, { content?: string; copyFrom?: string; mode?: number }>,
  containerfile: string,
) => {
  const context = mkdtempSync(join(tmpdir(), "beemesh-demo-image-"))
  try {
    for (const [path, file] of Object.entries(files)) {
      const target = join(context, path)
      mkdirSync(join(target, ".."), { recursive: true })
      if (file.copyFrom !== undefined) copyFileSync(file.copyFrom, target)
      else writeFileSync(target, file.content ?? "")
      chmodSync(target, file.mode ?? 0o644)
    }
    writeFileSync(join(context, "Containerfile"), containerfile)
    const result = spawnSync(
      "podman",
      [
        "build",
        "--timestamp",
        "0",
        "--label",
        "io.beemesh.demo=1",
        "-t",
        tag,
        "-f",
        join(context, "Containerfile"),
        context,
      ],
      { encoding: "utf8" },
    )
    if (result.error !== undefined)
      throw new Error(
        `podman could not start (${result.error.message}); run tooling/scripts/host-setup.sh as root`,
      )
    if (result.status !== 0) throw new Error(`podman build ${tag} failed:\n${result.stderr}`)
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

export const buildDemoImages = () => {
  if (!existsSync(BUSYBOX))
    throw new Error(
      `${BUSYBOX} is missing: apt-get install busybox-static (tooling/scripts/host-setup.sh)`,
    )
  build(
    ORDERS_IMAGE,
    {
      "bin/busybox": { copyFrom: BUSYBOX, mode: 0o755 },
      "www/cgi-bin/orders": { content: ORDERS_CGI, mode: 0o755 },
    },
    `FROM scratch
COPY bin/busybox /bin/busybox
COPY www/ /www/
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:80", "-h", "/www"]
`,
  )
  build(
    WEB_IMAGE,
    {
      "bin/busybox": { copyFrom: BUSYBOX, mode: 0o755 },
      "web.sh": { content: WEB_SCRIPT, mode: 0o755 },
    },
    `FROM scratch
COPY bin/busybox /bin/busybox
COPY web.sh /web.sh
ENTRYPOINT ["/bin/busybox", "sh", "/web.sh"]
`,
  )
  // A rebuild with changed contents leaves the previous image untagged; only this file makes
  // images with this label. Best effort: one still used by a container stays until it is gone.
  const dangling = spawnSync(
    "podman",
    ["images", "--quiet", "--filter=dangling=true", "--filter=label=io.beemesh.demo=1"],
    { encoding: "utf8" },
  )
  const ids = (dangling.stdout ?? "").split("\n").filter((id) => id !== "")
  if (ids.length > 0) spawnSync("podman", ["rmi", ...ids], { stdio: "ignore" })
  return { orders: ORDERS_IMAGE, web: WEB_IMAGE }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(buildDemoImages())
}
