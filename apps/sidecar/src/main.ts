/**
 * The sidecar's composition root: read the environment once, stack the layers, run until
 * SIGTERM/SIGINT (or until the agent refuses the pod), then shut down within 2 s. A standby
 * sidecar (its environment holds a standby token) first waits for its claim (StandbyClaim.ts),
 * warming its code meanwhile (StandbyWarmUp.ts).
 *
 *   node sidecar.mjs              run the sidecar
 *   node sidecar.mjs healthcheck  ask the running sidecar's /readyz (exit 0 when ready)
 */
// First, for its side effect: signal handlers in place before the rest of the bundle is evaluated.
import "./EarlyTermination"
import { SidecarEnvironment, SidecarPorts, SidecarShutdown, UpstreamList } from "@beemesh/contract"
import { ExitCode, runMain } from "@beemesh/service"
import { Deferred, Effect } from "effect"
import { releaseCompileCache } from "./CompileCacheRelease"
import { handOverSignals } from "./EarlyTermination"
import { runHealthcheck } from "./HealthServer"
import { limitHeapGrowth } from "./HeapGrowth"
import { SIDECAR_NODE_FLAGS } from "./NodeFlags"
import { Registrar } from "./Registrar"
import { decodeSettings } from "./SidecarConfig"
import { sidecarLayer } from "./SidecarLayers"
import { startingEnvironment } from "./StandbyClaim"
import { standingBy } from "./StandbyWarmUp"

const program = Effect.gen(function* () {
  const start = yield* startingEnvironment(process.env, {}, standingBy())
  if (start._tag === "Retired") return ExitCode.ok
  const settings = yield* decodeSettings(start.env)
  yield* Effect.logInfo(
    `sidecar ${settings.namespace}/${settings.workload}/${settings.pod}: services ${settings.services.map((s) => `${s.name}→${s.port}`).join(",") || "none"}, upstreams ${settings.upstreams.map((u) => `${UpstreamList.describe(u)}←${u.port}`).join(",") || "none"}`,
  )
  const missing = SIDECAR_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag))
  if (missing.length > 0) {
    yield* Effect.logWarning(
      `node was started without ${missing.join(" ")}: V8's young generation then grows to 16 MiB, resident for the process's life (the image's entrypoint passes them: node ${SIDECAR_NODE_FLAGS.join(" ")} sidecar.mjs)`,
    )
  }
  const refusal = yield* Effect.gen(function* () {
    const registrar = yield* Registrar
    yield* Effect.logInfo("sidecar started")
    // Started: the bundle's code cache is no longer needed, and V8 flags may change (an invalid
    // environment exits before this, which is how image/compileCache.ts writes the cache).
    yield* Effect.sync(releaseCompileCache)
    yield* Effect.sync(limitHeapGrowth)
    return yield* Deferred.await(registrar.refused)
  }).pipe(Effect.provide(sidecarLayer(settings)))
  return yield* Effect.fail(refusal)
})

const run = () => {
  runMain(program, {
    name: "sidecar",
    exitCode: (error) =>
      error instanceof SidecarEnvironment.SidecarEnvironmentInvalid
        ? ExitCode.usage
        : ExitCode.failure,
    // After a signal the process exits by this deadline even if a release step hangs (the agent's
    // stop timeout for the sidecar container is a little longer).
    hardExitMs: SidecarShutdown.HARD_EXIT_MS,
  })
  // runMain has installed its signal handlers (synchronously): a SIGTERM during loading goes to them.
  handOverSignals()
}

const healthcheck = async () => {
  const host = process.env.BEEMESH_HEALTH_HOST ?? "127.0.0.1"
  const port = Number(process.env.BEEMESH_HEALTH_PORT ?? SidecarPorts.HEALTH_PORT)
  process.exit(await runHealthcheck(host, port))
}

if (process.argv[2] === "healthcheck") void healthcheck()
else run()
