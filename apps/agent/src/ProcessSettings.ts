/**
 * What the agent's process must be started with, and the launcher (launch.ts) supplies when
 * missing by re-executing itself: settings read once, when the process starts, before any of the
 * agent's code could set them.
 */
import { AGENT_NODE_OPTIONS, AGENT_V8_FLAGS } from "./NodeOptions"

/** glibc's malloc arenas unless the operator set MALLOC_ARENA_MAX (see launch.ts). */
export const MALLOC_ARENAS = "2"

export interface ProcessStart {
  readonly execArgv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
}

/** A flag's name: `--no-x=1`, `--x` and `--x_y` all name `x`/`x-y`, so an operator's choice wins. */
const flagName = (flag: string) =>
  flag.replace(/^--/, "").replace(/^no-/, "").split("=")[0]!.replaceAll("_", "-")

/**
 * The process start the agent needs, or undefined when this one already is: the agent's Node and
 * V8 options that are not given (a given one, whatever its value, is kept) appended, and
 * `MALLOC_ARENA_MAX` when unset.
 */
export const wantedStart = (current: ProcessStart): ProcessStart | undefined => {
  const given = new Set(current.execArgv.filter((a) => a.startsWith("--")).map(flagName))
  const missing = [...AGENT_NODE_OPTIONS, ...AGENT_V8_FLAGS].filter((f) => !given.has(flagName(f)))
  const arenas = current.env.MALLOC_ARENA_MAX === undefined
  if (missing.length === 0 && !arenas) return undefined
  return {
    execArgv: [...current.execArgv, ...missing],
    env: arenas ? { ...current.env, MALLOC_ARENA_MAX: MALLOC_ARENAS } : current.env,
  }
}
