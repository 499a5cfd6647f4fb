/**
 * beemesh-agent: the composition root. Reads the configuration once, then runs `doctor`, `mesh …` or the
 * agent's layers (AgentLayers.ts) until SIGINT/SIGTERM. Exit codes: 0 ok, 1 failure at run time,
 * 2 bad configuration or an unusable state file.
 */
import { readFile } from "node:fs/promises"
import { userInfo } from "node:os"
import { MeshKeyError } from "@beemesh/p2p"
import { Libp2pNode } from "@beemesh/registry"
import { ExitCode, runMain } from "@beemesh/service"
import { Context, Effect, Layer, Logger, References } from "effect"
import { AgentApi, agentLayer } from "./AgentLayers"
import {
  AGENT_VERSION,
  ConfigInvalid,
  HELP,
  type LogFormat,
  type LogLevel,
  parseCommand,
} from "./Config"
import { applyCpuPriority } from "./CpuPriority"
import { doctor, type Environment, renderReport } from "./Doctor"
import { ConfigStoreInvalid } from "./deployer/ConfigStore"
import { StateFileInvalid } from "./deployer/StateStore"
import { meshCertify, meshInit, meshRevoke } from "./MeshCommands"

const LEVELS: Record<LogLevel, "Debug" | "Info" | "Warn" | "Error"> = {
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
}

const environment: Environment = {
  containerHost: process.env.CONTAINER_HOST,
  xdgRuntimeDir: process.env.XDG_RUNTIME_DIR,
  uid: process.getuid?.() ?? 0,
  user: userInfo().username,
}

const program = Effect.gen(function* () {
  const command = yield* parseCommand({
    argv: process.argv.slice(2),
    env: process.env,
    readFile: (path) => readFile(path, "utf8"),
    isRoot: environment.uid === 0,
    home: process.env.HOME ?? userInfo().homedir,
  })
  switch (command._tag) {
    case "Help":
      process.stdout.write(HELP)
      return ExitCode.ok
    case "Version":
      process.stdout.write(`${AGENT_VERSION}\n`)
      return ExitCode.ok
    case "Doctor": {
      const report = yield* doctor(command.config, environment)
      process.stdout.write(
        command.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`,
      )
      return report.ok ? ExitCode.ok : ExitCode.failure
    }
    case "MeshInit":
      process.stdout.write(yield* meshInit(command.path, command.authorityKeyPath))
      return ExitCode.ok
    case "MeshCertify":
      process.stdout.write(
        yield* meshCertify(command.authorityKey, command.peerId, command.days, command.out),
      )
      return ExitCode.ok
    case "MeshRevoke":
      process.stdout.write(
        yield* meshRevoke(
          command.authorityKey,
          command.peerIds,
          command.serials,
          command.list,
          command.out,
        ),
      )
      return ExitCode.ok
    case "Run":
      return yield* Effect.gen(function* () {
        // Before anything is started: the embedded Podman service has a session of its own.
        yield* applyCpuPriority(command.config.nice, process.getuid?.())
        const agent = yield* Layer.build(agentLayer(command.config, environment))
        const { apiUrl } = Context.get(agent, AgentApi)
        const { peerId } = Context.get(agent, Libp2pNode)
        yield* Effect.addFinalizer(() =>
          Effect.logInfo("stopping (pods keep running; a restarted agent adopts them)"),
        )
        yield* Effect.logInfo(`agent ${peerId} ready at ${apiUrl}`)
        return yield* Effect.never
      }).pipe(
        Effect.provideService(References.MinimumLogLevel, LEVELS[command.config.logLevel]),
        Effect.provide(loggerFor(command.config.logFormat)),
      )
  }
})

/** logfmt or JSON, one line per event either way, never colours: journald keeps lines as written. */
const loggerFor = (format: LogFormat) =>
  Logger.layer([format === "json" ? Logger.consoleJson : Logger.consoleLogFmt])

runMain(program.pipe(Effect.provide(loggerFor("text"))), {
  name: "beemesh-agent",
  // A bad state file (or configs file, secrets key or mesh key file) is the operator's to fix,
  // like a bad configuration.
  exitCode: (error) =>
    error instanceof ConfigInvalid ||
    error instanceof StateFileInvalid ||
    error instanceof ConfigStoreInvalid ||
    error instanceof MeshKeyError
      ? ExitCode.usage
      : ExitCode.failure,
})
