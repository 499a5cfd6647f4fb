/** Integration tests need Podman, slirp4netns and runc; they fail (not skip) naming what is missing. */
import { execFileSync } from "node:child_process"

const has = (cmd: string) => {
  try {
    execFileSync("sh", ["-c", 'command -v "$0"', cmd], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

export const requirePrerequisites = () => {
  const missing = ["podman", "slirp4netns", "runc", "tar"].filter((c) => !has(c))
  if (missing.length > 0) {
    throw new Error(
      `missing prerequisite(s): ${missing.join(", ")}; install them with tooling/scripts/host-setup.sh (as root)`,
    )
  }
}
