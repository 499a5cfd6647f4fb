/**
 * A fresh npm project outside the workspace that installs packed tarballs the way a user would
 * (npm, the registry for third-party dependencies), type-checks strictly against the shipped
 * declarations and runs files under plain Node.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { execa } from "execa"

/** Bounds npm: a cold cache downloads a few hundred packages; a warm one takes seconds. */
const NPM_INSTALL_TIMEOUT_MS = 300_000
const TSC_TIMEOUT_MS = 120_000

/** How a strict consumer compiles: Node's own module rules and no unchecked declarations. */
export const CONSUMER_TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: "es2024",
    lib: ["es2024"],
    module: "nodenext",
    moduleResolution: "nodenext",
    types: ["node"],
    noEmit: true,
    // Node runs the examples by stripping types: only syntax it can strip is allowed.
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true,
    // Two copies of uint8arraylist inside the libp2p family conflict in their own declarations;
    // the libraries' declarations are still checked wherever the example uses them.
    skipLibCheck: true,
  },
  include: ["*.ts"],
}

export interface ConsumerProject {
  readonly dir: string
  readonly install: (specs: ReadonlyArray<string>) => Promise<void>
  readonly write: (file: string, text: string) => void
  readonly typecheck: () => Promise<{ readonly ok: boolean; readonly output: string }>
  readonly run: (
    file: string,
    timeoutMs: number,
  ) => Promise<{ readonly exitCode: number | undefined; readonly output: string }>
}

export const makeConsumerProject = (dir: string, npmCache: string): ConsumerProject => {
  mkdirSync(dir, { recursive: true })
  const write = (file: string, text: string) => writeFileSync(join(dir, file), text)
  write(
    "package.json",
    `${JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2)}\n`,
  )
  write("tsconfig.json", `${JSON.stringify(CONSUMER_TSCONFIG, null, 2)}\n`)
  // npm's own `#!/usr/bin/env node` must find this Node (24), not the machine's older one.
  const env = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` }
  return {
    dir,
    write,
    install: async (specs) => {
      const result = await execa(
        "npm",
        [
          "install",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          "--loglevel=error",
          `--cache=${npmCache}`,
          "--fetch-timeout=60000",
          "--fetch-retries=2",
          ...specs,
        ],
        { cwd: dir, env, all: true, reject: false, timeout: NPM_INSTALL_TIMEOUT_MS },
      )
      if (result.exitCode !== 0) {
        throw new Error(
          `npm install ${specs.join(" ")} failed in ${dir} (exit ${result.exitCode}${result.timedOut ? `, timed out after ${NPM_INSTALL_TIMEOUT_MS} ms` : ""}):\n${result.all}`,
        )
      }
    },
    typecheck: async () => {
      const result = await execa(
        process.execPath,
        [join(dir, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")],
        { cwd: dir, all: true, reject: false, timeout: TSC_TIMEOUT_MS },
      )
      return { ok: result.exitCode === 0, output: result.all ?? "" }
    },
    run: async (file, timeoutMs) => {
      const result = await execa(process.execPath, [file], {
        cwd: dir,
        env,
        all: true,
        reject: false,
        timeout: timeoutMs,
      })
      return { exitCode: result.exitCode, output: result.all ?? "" }
    },
  }
}
