/**
 * Rootless only: `podman unshare` must work for the agent's user, since the agent makes a rootless
 * pod's volumes as root of its Podman's user namespace (PodVolumes' `userNamespace`). `doctor`
 * runs the command once; what it gave is classified here, with the fix for each known cause.
 */
import { Effect } from "effect"
import type { CommandOutcome, CommandRunner } from "./deployer/ReplicaProbes"

export const UNSHARE_CHECK_NAME = "podman-unshare"
/** The command the check runs: the smallest thing that needs the user namespace. */
export const UNSHARE_ARGV: readonly [string, ...Array<string>] = ["podman", "unshare", "true"]
/** A first `podman unshare` makes the user namespace and its pause process: seconds, not more. */
export const UNSHARE_TIMEOUT_MS = 30_000

export interface UnshareCheck {
  readonly name: typeof UNSHARE_CHECK_NAME
  readonly ok: boolean
  readonly detail: string
  /** How to fix a failure. */
  readonly hint?: string
}

const TAIL = 300

/** The causes Podman names on stderr, most specific first, with their fix. */
const causes = (user: string): ReadonlyArray<readonly [RegExp, string]> => [
  [
    /no subuid ranges|no subgid ranges|cannot find UID\/GID|not enough (?:available )?IDs/i,
    `give ${user} subordinate IDs (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}), then run \`podman system migrate\` as ${user}`,
  ],
  [
    /newuidmap|newgidmap/i,
    "install the setuid newuidmap/newgidmap helpers (apt-get install uidmap); they must be owned by root with the setuid bit",
  ],
  [
    /XDG_RUNTIME_DIR|runtime dir|rundir/i,
    `set XDG_RUNTIME_DIR to a directory ${user} owns (e.g. /run/user/<uid>: loginctl enable-linger ${user})`,
  ],
  [
    /user namespaces? (?:are |is )?not (?:enabled|permitted|supported)|max_user_namespaces|unprivileged_userns_clone/i,
    "allow unprivileged user namespaces (sysctl user.max_user_namespaces=28633, kernel.unprivileged_userns_clone=1 where it exists)",
  ],
]

/** What `podman unshare true` gave, for `user`, as a doctor check. */
export const classifyUnshare = (outcome: CommandOutcome, user: string): UnshareCheck => {
  const command = UNSHARE_ARGV.join(" ")
  if (outcome.timedOut)
    return {
      name: UNSHARE_CHECK_NAME,
      ok: false,
      detail: `\`${command}\` did not finish within ${UNSHARE_TIMEOUT_MS / 1000}s`,
      hint: `run \`${command}\` as ${user} to see where it hangs; \`podman system migrate\` restarts a stuck pause process`,
    }
  if (outcome.exitCode === 0)
    return {
      name: UNSHARE_CHECK_NAME,
      ok: true,
      detail: `${user} enters its Podman's user namespace (rootless volumes)`,
    }
  const output = outcome.output.trim().slice(-TAIL)
  if (outcome.exitCode === undefined)
    return {
      name: UNSHARE_CHECK_NAME,
      ok: false,
      detail: `could not run \`${command}\`${output === "" ? "" : `: ${output}`}`,
      hint: "install Podman (tooling/scripts/host-setup.sh) and put it on the agent's PATH",
    }
  const known = causes(user).find(([pattern]) => pattern.test(output))
  return {
    name: UNSHARE_CHECK_NAME,
    ok: false,
    detail: `\`${command}\` exited with code ${outcome.exitCode}${output === "" ? "" : `: ${output}`}`,
    hint:
      known?.[1] ??
      `run \`${command}\` as ${user} to see why; rootless pods cannot have volumes until it works`,
  }
}

/** Runs the check as the current user. */
export const checkUnshare = (runCommand: CommandRunner, user: string) =>
  runCommand(UNSHARE_ARGV, UNSHARE_TIMEOUT_MS).pipe(
    Effect.map((outcome) => classifyUnshare(outcome, user)),
  )
