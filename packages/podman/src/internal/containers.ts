/** The `containers` part of the client: lifecycle, exec, logs, healthcheck, listening ports. */
import { appendFile, readFile } from "node:fs/promises"
import { Effect } from "effect"
import { RuntimeFailure } from "../Errors.js"
import type { PodmanClientShape } from "../PodmanClient.js"
import type { ContainerCreateRequest, LabelFilter, LogOptions } from "../Requests.js"
import * as R from "../Responses.js"
import { removeRetryingExitRaces } from "./failures.js"
import { logsQuery, makeFollowLogs } from "./logs.js"
import { demultiplex, listeningPortsOf } from "./multiplex.js"
import { API_PREFIX, labelFilters, qs, seg } from "./query.js"
import type { Transport } from "./transport.js"

export const makeContainers = (t: Transport): PodmanClientShape["containers"] => {
  const { call, decode, json, ctr } = t

  const execIn = Effect.fn("PodmanClient.containers.exec")(function* (
    name: string,
    cmd: ReadonlyArray<string>,
    opts?: { readonly user?: string },
  ) {
    const created = yield* call(
      "exec create",
      ctr(name),
      {
        method: "POST",
        path: `${API_PREFIX}/containers/${seg(name)}/exec`,
        ...json({
          AttachStdout: true,
          AttachStderr: true,
          Cmd: cmd,
          ...(opts?.user ? { User: opts.user } : {}),
        }),
      },
      [201],
    )
    const id = (yield* decode(R.IdResponse, "exec create", created)).Id
    const started = yield* call(
      "exec start",
      { kind: "exec", name: id },
      {
        method: "POST",
        path: `${API_PREFIX}/exec/${id}/start`,
        ...json({ Detach: false, Tty: false }),
      },
      [200],
    )
    const inspected = yield* call(
      "exec inspect",
      { kind: "exec", name: id },
      { method: "GET", path: `${API_PREFIX}/exec/${id}/json` },
      [200],
    )
    const { ExitCode } = yield* decode(R.ExecInspect, "exec inspect", inspected)
    return { exitCode: ExitCode, ...demultiplex(started.body) }
  })

  const removeOnce = (
    name: string,
    opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
  ) =>
    Effect.gen(function* () {
      const res = yield* call(
        "container remove",
        ctr(name),
        {
          method: "DELETE",
          path: `${API_PREFIX}/containers/${seg(name)}${qs({ force: opts?.force, timeout: opts?.timeoutSeconds })}`,
        },
        [200, 204],
      )
      if (res.status === 204) return
      const reports = (yield* decode(R.RemoveReports, "container remove", res)) ?? []
      const errs = reports.flatMap((r) => (r.Err ? [r.Err] : []))
      if (errs.length > 0) {
        return yield* Effect.fail(
          new RuntimeFailure({
            operation: "container remove",
            status: res.status,
            podmanMessage: errs.map(String).join("; "),
          }),
        )
      }
    })

  const containers: PodmanClientShape["containers"] = {
    create: Effect.fn("PodmanClient.containers.create")(function* (req: ContainerCreateRequest) {
      const res = yield* call(
        "container create",
        { kind: "container", name: req.name, image: req.image },
        { method: "POST", path: `${API_PREFIX}/containers/create`, ...json(req) },
        [201],
      )
      return (yield* decode(R.IdResponse, "container create", res)).Id
    }),
    init: Effect.fn("PodmanClient.containers.init")(function* (name: string) {
      yield* call(
        "container init",
        ctr(name),
        { method: "POST", path: `${API_PREFIX}/containers/${seg(name)}/init` },
        [204, 304],
      )
    }),
    start: Effect.fn("PodmanClient.containers.start")(function* (name: string) {
      yield* call(
        "container start",
        ctr(name),
        { method: "POST", path: `${API_PREFIX}/containers/${seg(name)}/start` },
        [204, 304],
      )
    }),
    stop: Effect.fn("PodmanClient.containers.stop")(function* (
      name: string,
      opts?: { readonly timeoutSeconds?: number },
    ) {
      yield* call(
        "container stop",
        ctr(name),
        {
          method: "POST",
          path: `${API_PREFIX}/containers/${seg(name)}/stop${qs({ timeout: opts?.timeoutSeconds })}`,
        },
        [204, 304],
      )
    }),
    remove: Effect.fn("PodmanClient.containers.remove")(function* (
      name: string,
      opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
    ) {
      yield* removeRetryingExitRaces(removeOnce(name, opts))
    }),
    inspect: Effect.fn("PodmanClient.containers.inspect")(function* (name: string) {
      const res = yield* call(
        "container inspect",
        ctr(name),
        { method: "GET", path: `${API_PREFIX}/containers/${seg(name)}/json` },
        [200],
      )
      return yield* decode(R.ContainerInspect, "container inspect", res)
    }),
    list: Effect.fn("PodmanClient.containers.list")(function* (
      filter?: LabelFilter & { readonly pod?: string },
    ) {
      const filters = JSON.stringify({
        label: labelFilters(filter?.labels),
        ...(filter?.pod === undefined ? {} : { pod: [filter.pod] }),
      })
      const res = yield* call(
        "container list",
        ctr("-"),
        { method: "GET", path: `${API_PREFIX}/containers/json${qs({ all: true, filters })}` },
        [200],
      )
      return (yield* decode(R.ContainerList, "container list", res)) ?? []
    }),
    exec: execIn,
    logs: Effect.fn("PodmanClient.containers.logs")(function* (name: string, opts?: LogOptions) {
      const res = yield* call(
        "container logs",
        ctr(name),
        {
          method: "GET",
          path: `${API_PREFIX}/containers/${seg(name)}/logs${logsQuery(opts, false)}`,
        },
        [200],
      )
      return demultiplex(res.body)
    }),
    followLogs: makeFollowLogs(t),
    healthcheck: Effect.fn("PodmanClient.containers.healthcheck")(function* (name: string) {
      const res = yield* call(
        "container healthcheck",
        ctr(name),
        { method: "GET", path: `${API_PREFIX}/containers/${seg(name)}/healthcheck` },
        [200],
      )
      return (yield* decode(R.HealthcheckResult, "container healthcheck", res)).Status
    }),
    listeningPorts: Effect.fn("PodmanClient.containers.listeningPorts")(function* (name: string) {
      const info = yield* containers.inspect(name)
      if (!info.State.Running || info.State.Pid <= 0) return []
      const pid = info.State.Pid
      const tables = yield* Effect.promise(() =>
        Promise.all(
          ["tcp", "tcp6"].map((t) => readFile(`/proc/${pid}/net/${t}`, "utf8").catch(() => "")),
        ),
      )
      return [...new Set(tables.flatMap(listeningPortsOf))].sort((a, b) => a - b)
    }),
    addHosts: Effect.fn("PodmanClient.containers.addHosts")(function* (
      name: string,
      entries: ReadonlyArray<{ readonly name: string; readonly address: string }>,
    ) {
      const info = yield* containers.inspect(name)
      const path = info.HostsPath
      const failed = (reason: string) =>
        new RuntimeFailure({ operation: "container hosts", status: 0, podmanMessage: reason })
      if (path === undefined || path === "")
        return yield* Effect.fail(failed(`container ${name} has no hosts file`))
      if (entries.length === 0) return
      const lines = entries.map((e) => `${e.address}\t${e.name}\n`).join("")
      yield* Effect.tryPromise({
        try: () => appendFile(path, lines),
        catch: (e) => failed(`adding to ${path}: ${(e as Error).message}`),
      })
    }),
  }

  return containers
}
