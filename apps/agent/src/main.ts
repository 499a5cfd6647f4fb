/**
 * beemesh-agent: the composition root. Reads the configuration once, then runs `doctor` or the
 * agent until SIGINT/SIGTERM. Exit codes: 0 ok, 1 failure at run time, 2 bad configuration.
 */
import { readFile } from "node:fs/promises"
import { userInfo } from "node:os"
import { Cause, Effect, Exit, Logger, References } from "effect"
import { doctor, type Environment, renderReport, startAgent } from "./Agent"
import { AGENT_VERSION, HELP, type LogLevel, parseCommand } from "./Config"

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

const waitForSignal = Effect.callback<string>((resume) => {
  const on = (signal: NodeJS.Signals) => resume(Effect.succeed(signal))
  process.once("SIGINT", on)
  process.once("SIGTERM", on)
  return Effect.sync(() => {
    process.off("SIGINT", on)
    process.off("SIGTERM", on)
  })
})

const program = Effect.gen(function* () {
  const command = yield* parseCommand({
    argv: process.argv.slice(2),
    env: process.env,
    readFile: (path) => readFile(path, "utf8"),
    isRoot: environment.uid === 0,
    home: process.env.HOME ?? userInfo().homedir,
  }).pipe(
    Effect.catchTag("ConfigInvalid", (error) =>
      Effect.sync(() => {
        process.stderr.write(`beemesh-agent: ${error.message}\n`)
        process.exit(2)
      }).pipe(Effect.andThen(Effect.never)),
    ),
  )
  switch (command._tag) {
    case "Help":
      process.stdout.write(HELP)
      return 0
    case "Version":
      process.stdout.write(`${AGENT_VERSION}\n`)
      return 0
    case "Doctor": {
      const report = yield* doctor(command.config, environment)
      process.stdout.write(
        command.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`,
      )
      return report.ok ? 0 : 1
    }
    case "Run": {
      return yield* Effect.scoped(
        Effect.gen(function* () {
          const agent = yield* startAgent(command.config, environment)
          yield* Effect.logInfo(`agent ${agent.peerId} ready at ${agent.apiUrl}`)
          const signal = yield* waitForSignal
          yield* Effect.logInfo(
            `${signal}: stopping (pods keep running; a restarted agent adopts them)`,
          )
          return 0
        }),
      ).pipe(Effect.provideService(References.MinimumLogLevel, LEVELS[command.config.logLevel]))
    }
  }
})

Effect.runPromiseExit(program.pipe(Effect.provide(Logger.layer([Logger.consoleLogFmt])))).then(
  (exit) => {
    if (Exit.isSuccess(exit)) {
      process.exit(exit.value)
    }
    const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    process.stderr.write(
      `beemesh-agent: ${failure?._tag === "Fail" ? (failure.error as Error).message : Cause.pretty(exit.cause)}\n`,
    )
    process.exit(1)
  },
)
