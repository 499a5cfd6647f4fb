/**
 * Network validation: the host checks (`beemesh-agent doctor`) and the failure that stops the
 * agent before it starts anything.
 */
import { netnsLayer, Preflight, type PreflightReport } from "@beemesh/netns"
import { Data, Effect } from "effect"
import type { AgentConfig } from "./Config"

/** What the agent learns about its process once, in main.ts. */
export interface Environment {
  readonly containerHost: string | undefined
  readonly xdgRuntimeDir: string | undefined
  readonly uid: number
  readonly user: string
}

export class ValidationFailed extends Data.TaggedError("ValidationFailed")<{
  readonly report: PreflightReport
}> {
  override get message() {
    const failed = this.report.checks.filter((c) => !c.ok)
    return [
      "network validation failed; the agent does not start:",
      ...failed.map(
        (c) =>
          `  ✗ ${c.name}: ${c.detail}${c.error && "hint" in c.error ? ` — fix: ${String(c.error.hint)}` : ""}`,
      ),
      "Run `beemesh-agent doctor` for the whole report.",
    ].join("\n")
  }
}

const rootlessCheck = (environment: Environment) =>
  environment.uid === 0 ? {} : { rootless: { user: environment.user, uid: environment.uid } }

/** Runs the host checks with the Preflight in context. */
export const check = (config: AgentConfig, environment: Environment) =>
  Effect.gen(function* () {
    const preflight = yield* Preflight
    return yield* preflight.check({ slirpOptions: config.slirp, ...rootlessCheck(environment) })
  })

/** Runs the host checks on their own (the `doctor` command). */
export const doctor = (config: AgentConfig, environment: Environment) =>
  check(config, environment).pipe(Effect.provide(netnsLayer()))

/** The report for people. */
export const renderReport = (report: PreflightReport) =>
  [
    `network validation: ${report.ok ? "ok" : "FAILED"}`,
    ...report.checks.map((c) => `  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}`),
  ].join("\n")
