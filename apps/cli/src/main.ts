/**
 * beemesh: the composition root of the CLI. Reads the command line, the environment and the
 * context file once, then runs one command against the agent. Exit codes: 0 ok, 1 the command
 * failed, 2 bad usage.
 */
import { readFile } from "node:fs/promises"
import { homedir } from "node:os"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { ExitCode, runMain } from "@beemesh/service"
import { Effect } from "effect"
import { type Invocation, parseInvocation } from "./Cli"
import { makeClient } from "./Client"
import { contextFilePath, DEFAULT_TOKEN_FILE, loadContexts, resolveTarget } from "./Contexts"
import { apply } from "./commands/Apply"
import { context } from "./commands/Context"
import { remove } from "./commands/Delete"
import { describe } from "./commands/Describe"
import { get } from "./commands/Get"
import { logs } from "./commands/Logs"
import { top } from "./commands/Top"
import { exitCodeOf } from "./Errors"
import { CLI_VERSION, COMMAND_HELP, MAIN_HELP } from "./Help"
import type { Io } from "./Io"

const io: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Array<Buffer> = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString("utf8")
  },
  pipeOut: (body) =>
    pipeline(Readable.fromWeb(body as import("node:stream/web").ReadableStream), process.stdout, {
      end: false,
    }),
  env: process.env,
  home: process.env.HOME ?? homedir(),
  now: () => Date.now(),
  interactive: process.stdout.isTTY === true,
}

const AGENT_COMMANDS = { apply, get, describe, delete: remove, logs, top } as const

const program = Effect.gen(function* () {
  const invocation: Invocation = yield* parseInvocation(process.argv.slice(2))
  const { command, values } = invocation
  if (values.version === true) {
    io.out(`${CLI_VERSION}\n`)
    return ExitCode.ok
  }
  if (command === undefined || values.help === true) {
    io.out(command === undefined ? MAIN_HELP : (COMMAND_HELP[command] ?? MAIN_HELP))
    return command === undefined && values.help !== true ? ExitCode.usage : ExitCode.ok
  }
  const path = contextFilePath(io.env, io.home)
  if (command === "context") return yield* context(invocation, path, io)
  const target = yield* resolveTarget({
    flags: {
      context: values.context as string | undefined,
      server: values.server as string | undefined,
      token: values.token as string | undefined,
    },
    env: io.env,
    file: yield* loadContexts(path),
    path,
    readDefaultToken: () =>
      readFile(DEFAULT_TOKEN_FILE, "utf8").then(
        (t) => t.trim(),
        () => undefined,
      ),
  })
  const run = AGENT_COMMANDS[command as keyof typeof AGENT_COMMANDS]
  return yield* run(invocation, makeClient(target), io)
})

runMain(program, { name: "beemesh", exitCode: exitCodeOf })
