import { randomBytes } from "node:crypto"
import type { PodSpecInput } from "../../src/index.js"
import type { TestImages } from "./images.js"

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`

/** Labels every test pod carries: test-owned, and this run's id (to list what a test created). */
export const testLabels = (run: string) => ({ "io.beemesh.test": "1", "io.beemesh.test-run": run })

/** A Node sidecar answering `sidecar:<pod>` on 8080; it exits on SIGTERM (it is PID 1). */
export const SIDECAR_JS = [
  'const http = require("node:http")',
  'const s = http.createServer((q, r) => r.end("sidecar:" + process.env.POD_NAME))',
  's.listen(8080, "0.0.0.0", () => console.log("sidecar listening"))',
  'process.on("SIGTERM", () => process.exit(0))',
].join("\n")

/** A busybox app serving `app` on 127.0.0.1:9000 (pod-local only). */
export const APP_SH =
  "trap 'exit 0' TERM; mkdir -p /tmp/www && echo app > /tmp/www/index.html && httpd -f -p 127.0.0.1:9000 -h /tmp/www & wait"

export const testPodSpec = (
  name: string,
  images: TestImages,
  run: string,
  extra: Partial<PodSpecInput> = {},
): PodSpecInput => ({
  name,
  labels: testLabels(run),
  containers: [
    {
      name: "sidecar",
      role: "sidecar",
      image: images.node,
      command: ["/usr/local/bin/node", "-e", SIDECAR_JS],
      env: { POD_NAME: name },
      user: "1337",
      // The app is checked from the sidecar: Podman cannot exec into an app's own user namespace.
      healthcheck: {
        command: [
          "/usr/local/bin/node",
          "-e",
          'fetch("http://127.0.0.1:9000/").then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))',
        ],
        intervalSeconds: 60,
      },
    },
    {
      name: "app",
      role: "app",
      image: images.busybox,
      command: ["/bin/sh", "-c", APP_SH],
    },
  ],
  stopTimeoutSeconds: 2,
  ...extra,
})

export { slirpProcessesFor } from "../../src/SlirpProcesses.js"
