/**
 * Network validation: the host checks (`beemesh-agent doctor`) and the failure that stops the
 * agent before it starts anything. `doctor` also checks, for a rootless user, that `podman
 * unshare` works (rootless volumes need it).
 */
import { netnsLayer, Preflight, type PreflightCheck, type PreflightReport } from "@beemesh/netns"
import { Data, Effect } from "effect"
import { API_SOCKET_CHECK_NAME, type ApiSocketCheck, checkApiSocket } from "./ApiSocketCheck"
import type { AgentConfig } from "./Config"
import { runCommand } from "./deployer/CommandRunner"
import { checkUnshare, UNSHARE_CHECK_NAME, type UnshareCheck } from "./UnshareCheck"

/** What the agent learns about its process once, in main.ts. */
export interface Environment {
  readonly containerHost: string | undefined
  readonly xdgRuntimeDir: string | undefined
  readonly uid: number
  readonly user: string
}

/** What `doctor` reports: the network checks, and the agent's own. */
export interface DoctorReport extends Omit<PreflightReport, "checks"> {
  readonly checks: ReadonlyArray<PreflightCheck | UnshareCheck | ApiSocketCheck>
}

type AnyCheck = DoctorReport["checks"][number]

/** A failed check's fix, when it names one. */
const hintOf = (c: AnyCheck) =>
  c.name === UNSHARE_CHECK_NAME || c.name === API_SOCKET_CHECK_NAME
    ? c.hint
    : c.error !== undefined && "hint" in c.error
      ? String(c.error.hint)
      : undefined

/** The fix after a failed check's detail, unless the detail (an error's message) names it. */
const fix = (c: AnyCheck) => {
  const hint = hintOf(c)
  return hint === undefined || c.detail.includes(hint) ? "" : ` — fix: ${hint}`
}

export class ValidationFailed extends Data.TaggedError("ValidationFailed")<{
  readonly report: DoctorReport
}> {
  override get message() {
    const failed = this.report.checks.filter((c) => !c.ok)
    return [
      "network validation failed; the agent does not start:",
      ...failed.map((c) => `  ✗ ${c.name}: ${c.detail}${fix(c)}`),
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

/** The host checks' report with the agent's own start checks (see ApiSocketCheck.ts) added. */
export const withAgentChecks = (
  report: PreflightReport,
  config: AgentConfig,
  environment: Environment,
): DoctorReport => {
  const socket = checkApiSocket(config.slirp, environment.uid, environment.xdgRuntimeDir)
  return socket === undefined
    ? report
    : { ...report, ok: report.ok && socket.ok, checks: [...report.checks, socket] }
}

/** Runs the host checks on their own (the `doctor` command); rootless, `podman unshare` too. */
export const doctor = (config: AgentConfig, environment: Environment) =>
  Effect.gen(function* () {
    const network = withAgentChecks(
      yield* check(config, environment).pipe(Effect.provide(netnsLayer())),
      config,
      environment,
    )
    if (environment.uid === 0) return network
    const unshare = yield* checkUnshare(runCommand, environment.user)
    return {
      ...network,
      ok: network.ok && unshare.ok,
      checks: [...network.checks, unshare],
    } satisfies DoctorReport
  })

/** The report for people: a failed check with its fix. */
export const renderReport = (report: DoctorReport) =>
  [
    `host validation: ${report.ok ? "ok" : "FAILED"}`,
    ...report.checks.map(
      (c) => `  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}${c.ok ? "" : fix(c)}`,
    ),
  ].join("\n")
