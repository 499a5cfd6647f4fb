/**
 * The sidecar's composition root: read the environment once, stack the layers, run until
 * SIGTERM/SIGINT (or until the agent refuses the pod), then shut down within 2 s.
 *
 *   node sidecar.mjs              run the sidecar
 *   node sidecar.mjs healthcheck  ask the running sidecar's /readyz (exit 0 when ready)
 */
import { SidecarPorts } from "@beemesh/contract"
import { proxyNodeFlags } from "@beemesh/proxy"
import { Cause, Deferred, Effect, Exit } from "effect"
import { runHealthcheck } from "./HealthServer"
import { Registrar } from "./Registrar"
import { decodeSettings } from "./SidecarConfig"
import { sidecarLayer } from "./SidecarLayers"

/** After a signal the process exits by this deadline even if a release step hangs. */
const HARD_EXIT_MS = 1900

const program = Effect.gen(function* () {
  const settings = yield* decodeSettings(process.env)
  yield* Effect.logInfo(
    `sidecar ${settings.namespace}/${settings.workload}/${settings.pod}: services ${settings.services.map((s) => `${s.name}→${s.port}`).join(",") || "none"}, upstreams ${settings.upstreams.map((u) => `${u.service}←${u.port}`).join(",") || "none"}`,
  )
  const missing = proxyNodeFlags.filter((flag) => !process.execArgv.includes(flag))
  if (missing.length > 0) {
    yield* Effect.logWarning(
      `node was started without ${missing.join(" ")}: bridged traffic then costs about 1.5× the CPU per MiB (the image's entrypoint passes it: node ${proxyNodeFlags.join(" ")} sidecar.mjs)`,
    )
  }
  const refusal = yield* Effect.gen(function* () {
    const registrar = yield* Registrar
    yield* Effect.logInfo("sidecar started")
    return yield* Deferred.await(registrar.refused)
  }).pipe(Effect.provide(sidecarLayer(settings)))
  return yield* Effect.fail(refusal)
})

const run = () => {
  const fiber = Effect.runFork(program)
  let signalled = false
  const stop = (signal: string) => {
    if (signalled) return
    signalled = true
    process.stderr.write(`sidecar: ${signal}, shutting down\n`)
    setTimeout(() => {
      process.stderr.write(`sidecar: shutdown did not finish within ${HARD_EXIT_MS} ms, exiting\n`)
      process.exit(1)
    }, HARD_EXIT_MS).unref()
    fiber.interruptUnsafe()
  }
  process.on("SIGTERM", () => stop("SIGTERM"))
  process.on("SIGINT", () => stop("SIGINT"))
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) process.exit(0)
    const error = Cause.findErrorOption(exit.cause)
    const text =
      error._tag === "Some" && error.value instanceof Error
        ? error.value.message
        : Cause.pretty(exit.cause)
    process.stderr.write(`sidecar: ${text}\n`)
    // 2 = bad configuration, 1 = anything else that stopped the sidecar.
    process.exit(
      error._tag === "Some" &&
        (error.value as { _tag?: string })._tag === "SidecarEnvironmentInvalid"
        ? 2
        : 1,
    )
  })
}

const healthcheck = async () => {
  const host = process.env.BEEMESH_HEALTH_HOST ?? "127.0.0.1"
  const port = Number(process.env.BEEMESH_HEALTH_PORT ?? SidecarPorts.HEALTH_PORT)
  process.exit(await runHealthcheck(host, port))
}

if (process.argv[2] === "healthcheck") void healthcheck()
else run()
