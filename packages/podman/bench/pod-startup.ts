/**
 * Create + start of an isolated pod (holder + sidecar + app, slirp4netns with the default options,
 * sidecar port published; through the REST API) versus `podman run -d` of the same image (one
 * container, CLI), side by side in one run; and the enforced pod (egress rules in force before the
 * sidecar and the app start) now versus before user namespaces: the earlier shape (a pod with an
 * infra container, every container in the host's user namespace, the rules alone) is built from
 * the same requests with the isolation fields taken out. Prints a table, writes
 * bench-results/pod-startup.json. Run as root (nftables):
 *   pnpm --filter @beemesh/podman bench [-- --iterations 10]
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  defaultSlirpOptions,
  Egress,
  gatewayAddress,
  HostTools,
  renderPodmanNetworkFlag,
  renderPodmanNetworkOptions,
  sidecarOnly,
} from "@beemesh/netns"
import { Effect, Layer } from "effect"
import { execa } from "execa"
import {
  allocateHostPort,
  containerCreateRequest,
  createEnforcedPod,
  createIsolatedPod,
  decodePodSpec,
  destroyEnforcedPod,
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

const benchSpec = (name: string, image: string): PodSpecInput => ({
  name,
  labels: testLabels(run),
  containers: [
    { name: "sidecar", role: "sidecar", image, user: "1337", command: ["/bin/sh", "-c", SERVE] },
    {
      name: "app",
      role: "app",
      image,
      command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
    },
  ],
  stopTimeoutSeconds: 1,
})

const enforcedPodOnce = (image: string) =>
  Effect.gen(function* () {
    const name = uniqueName("bench-enf")
    const start = process.hrtime.bigint()
    yield* Effect.acquireRelease(
      createEnforcedPod(benchSpec(name, image), { owner: "podman-bench" }),
      (pod) => destroyEnforcedPod(pod, 1).pipe(Effect.ignore),
    )
    return ms(start)
  }).pipe(Effect.scoped)

/** The enforced pod as it was built before apps had user namespaces of their own. */
const enforcedPodBeforeOnce = (image: string) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const egress = yield* Egress
    const name = uniqueName("bench-old")
    const spec = yield* decodePodSpec(benchSpec(name, image))
    const labels = testLabels(run)
    const hostPort = yield* allocateHostPort("127.0.0.1")
    const start = process.hrtime.bigint()
    yield* Effect.acquireRelease(
      client.pods.create({
        name,
        labels,
        netns: { nsmode: "slirp4netns" },
        network_options: { slirp4netns: renderPodmanNetworkOptions(spec.network) },
        hostadd: [`host.containers.internal:${gatewayAddress(spec.network)}`],
        portmappings: [
          { host_ip: "127.0.0.1", host_port: hostPort, container_port: 8080, protocol: "tcp" },
        ],
      }),
      () => removePod(name, 1),
    )
    for (const c of spec.containers) {
      const {
        netns: _n,
        utsns: _u,
        userns: _s,
        idmappings: _i,
        cap_drop: _c,
        ...before
      } = containerCreateRequest(spec, c, labels)
      yield* client.containers.create(before)
    }
    const infra = (yield* client.pods.inspect(name)).InfraContainerID ?? ""
    yield* client.containers.start(infra)
    const pid = (yield* client.containers.inspect(infra)).State.Pid
    yield* egress.install({ pid }, sidecarOnly([8080]))
    yield* client.pods.start(name)
    return ms(start)
  }).pipe(Effect.scoped)

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
    "enforced pod now (holder, app userns, nft + port sysctl)": () => enforcedPodOnce(image),
    "enforced pod before (infra, host userns, nft)": () => enforcedPodBeforeOnce(image),
    "isolated pod (REST: pod + holder + sidecar + app, slirp4netns)": () => isolatedPodOnce(image),
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
  const [now, before] = rows
  const change = ((now!.median - before!.median) / before!.median) * 100
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
        enforcedMedianChangePercent: change,
        samples,
      },
      null,
      2,
    ),
  )
  console.log(
    `\nenforced pod, median now vs before: ${change >= 0 ? "+" : ""}${change.toFixed(1)} %`,
  )
  console.log(`written: ${out}`)
})

const layer = Layer.mergeAll(
  PodmanClient.layer({}),
  Egress.layer.pipe(Layer.provide(HostTools.layer())),
)

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exit(1)
})
