/**
 * Reads a poller's answers from its container's log file (Podman's k8s-file driver): each line is
 * `<RFC 3339 time with nanoseconds> stdout F <text>`, stamped by conmon when the line arrived. The
 * benchmark times an answer by that stamp, not by when it happened to read the file, so how often
 * it reads does not change the figure, and both sides are timed the same way.
 */
import { readFileSync } from "node:fs"
import { type AgentProcess, api, podman } from "../../test/e2e/support"

export interface Answer {
  /** Milliseconds since the epoch (conmon's clock: this host's). */
  readonly at: number
  /** Who answered ("answered by pod <hostname>"). */
  readonly by: string
}

const LINE = /^(\S+) stdout [FP] answer: .*answered by pod (\S+)/

/** Parses the poller's answer lines of a k8s-file log. */
export const parseAnswers = (log: string): ReadonlyArray<Answer> =>
  log.split("\n").flatMap((line) => {
    const match = LINE.exec(line)
    if (match === null) return []
    const at = Date.parse(match[1]!)
    return Number.isFinite(at) ? [{ at, by: match[2]! }] : []
  })

export const logPathOf = (container: string) => {
  const path = podman("inspect", container, "--format", "{{.HostConfig.LogConfig.Path}}")
  if (path === "")
    throw new Error(
      `container ${container} has no log file: the benchmark needs Podman's k8s-file log driver`,
    )
  return path
}

/**
 * Polls the log until `distinct` different replicas answered at or after `since`; returns the
 * stamp of the answer that completed the set, and the stamp of the first one.
 */
export const awaitAnswers = async (
  logPath: string,
  since: number,
  distinct: number,
  timeoutMs = 60_000,
): Promise<{ readonly first: number; readonly all: number }> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const seen = new Map<string, number>()
    let first: number | undefined
    for (const answer of parseAnswers(readFileSync(logPath, "utf8"))) {
      if (answer.at < since) continue
      first ??= answer.at
      if (!seen.has(answer.by)) seen.set(answer.by, answer.at)
      if (seen.size >= distinct) return { first: first, all: answer.at }
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${distinct} replicas to answer in ${logPath} (saw ${seen.size})`,
      )
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export const hasStarted = (logPath: string, marker: string) =>
  readFileSync(logPath, "utf8").includes(marker)

/** A workload's first replica's pod name in Podman (a claimed standby pod's is not the replica's). */
export const podmanPodOf = async (agent: AgentProcess, namespace: string, name: string) => {
  const status = await api(agent, "GET", `/v1/workloads/${namespace}/${name}`)
  const [pod] = (status.json?.pods ?? []) as Array<{ pod: string; podmanPod?: string }>
  if (pod === undefined) throw new Error(`${namespace}/${name} has no pod`)
  return pod.podmanPod ?? pod.pod
}
