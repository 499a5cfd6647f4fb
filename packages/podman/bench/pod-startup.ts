/**
 * Create + start of an isolated pod (infra + sidecar + app, slirp4netns with the default options,
 * sidecar port published; through the REST API) versus `podman run -d` of the same image (one
 * container, CLI), side by side in one run. Prints a table, writes bench-results/pod-startup.json.
 *   pnpm --filter @beemesh/podman bench [-- --iterations 5]
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { defaultSlirpOptions, renderPodmanNetworkFlag } from "@beemesh/netns"
import { Effect } from "effect"
import { execa } from "execa"
import {
  allocateHostPort,
  createIsolatedPod,
  PodmanClient,
  type PodSpecInput,
  removePod,
} from "../src/index.js"
import { containerLimits } from "../src/internal/limits.js"
import { ensureTestImages } from "../test/support/images.js"
import { testLabels, uniqueName } from "../test/support/pods.js"

const iterationsArg = process.argv.indexOf("--iterations")
const ITERATIONS = iterationsArg > 0 ? Number(process.argv[iterationsArg + 1]) : 5
const SERVE = "trap 'exit 0' TERM; httpd -f -p 8080 -h / & wait"
const run = uniqueName("bench")

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6

const isolatedPodOnce = (image: string) =>
  Effect.gen(function* () {
    const name = uniqueName("bench-pod")
    const spec: PodSpecInput = {
      name,
      labels: testLabels(run),
      containers: [
        { name: "sidecar", role: "sidecar", image, command: ["/bin/sh", "-c", SERVE] },
        {
          name: "app",
          role: "app",
          image,
          command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
        },
      ],
      stopTimeoutSeconds: 1,
    }
    const start = process.hrtime.bigint()
    yield* Effect.acquireRelease(createIsolatedPod(spec, { owner: "podman-bench" }), () =>
      removePod(name, 1),
    )
    return ms(start)
  }).pipe(Effect.scoped)

const podmanRunOnce = (image: string, network: "default" | "slirp4netns") =>
  Effect.gen(function* () {
    const name = uniqueName("bench-run")
    const { nofile, nproc } = containerLimits()
    const port = yield* allocateHostPort("127.0.0.1")
    const args = [
      "run",
      "-d",
      "--name",
      name,
      "--label",
      "io.beemesh.test=1",
      "--label",
      `io.beemesh.test-run=${run}`,
      "--runtime",
      "runc",
      "--ulimit",
      `nofile=${nofile}:${nofile}`,
      "--ulimit",
      `nproc=${nproc}:${nproc}`,
      "--stop-timeout",
      "1",
      ...(network === "slirp4netns"
        ? ["--network", renderPodmanNetworkFlag(defaultSlirpOptions)]
        : []),
      "-p",
      `127.0.0.1:${port}:8080`,
      image,
      "/bin/sh",
      "-c",
      SERVE,
    ]
    const start = process.hrtime.bigint()
    yield* Effect.acquireRelease(
      Effect.promise(() => execa("podman", args)),
      () => Effect.promise(() => execa("podman", ["rm", "-f", "-t", "0", name], { reject: false })),
    )
    return ms(start)
  }).pipe(Effect.scoped)

const stats = (samples: ReadonlyArray<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  const median =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
  return { n: sorted.length, min: sorted[0]!, median, mean, max: sorted.at(-1)! }
}

const program = Effect.gen(function* () {
  const client = yield* PodmanClient
  const images = yield* ensureTestImages(process.execPath)
  const image = images.busybox
  const cases = {
    "isolated pod (REST: pod + infra + sidecar + app, slirp4netns)": () => isolatedPodOnce(image),
    "podman run -d (CLI, default network)": () => podmanRunOnce(image, "default"),
    "podman run -d (CLI, slirp4netns default options)": () => podmanRunOnce(image, "slirp4netns"),
  }
  const samples: Record<string, Array<number>> = Object.fromEntries(
    Object.keys(cases).map((k) => [k, []]),
  )
  // Warm-up (image layers, pause image, caches), not counted.
  for (const f of Object.values(cases)) yield* f()
  // Interleaved so drift (load from other work) hits every case alike.
  for (let i = 0; i < ITERATIONS; i++) {
    for (const [label, f] of Object.entries(cases)) samples[label]!.push(yield* f())
  }
  const rows = Object.entries(samples).map(([label, s]) => ({ case: label, ...stats(s) }))
  const fmt = (n: number) => n.toFixed(1).padStart(8)
  console.log(
    `\ncreate + start, ms (${ITERATIONS} iterations each, interleaved; podman ${client.socketPath})`,
  )
  console.log(
    `${"case".padEnd(64)}${"n".padStart(4)}${"min".padStart(9)}${"median".padStart(9)}${"mean".padStart(9)}${"max".padStart(9)}`,
  )
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(64)}${String(r.n).padStart(4)} ${fmt(r.min)} ${fmt(r.median)} ${fmt(r.mean)} ${fmt(r.max)}`,
    )
  }
  const out = join(
    dirname(fileURLToPath(import.meta.url)),
    "..",
    "bench-results",
    "pod-startup.json",
  )
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(
    out,
    JSON.stringify(
      {
        benchmark: "pod-startup",
        unit: "ms",
        iterations: ITERATIONS,
        image,
        at: new Date().toISOString(),
        rows,
        samples,
      },
      null,
      2,
    ),
  )
  console.log(`\nwritten: ${out}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(PodmanClient.layer({})))).catch(
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e)
    process.exit(1)
  },
)
