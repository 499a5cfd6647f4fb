/** The client's API over one socket: system, pods and images here; containers and events beside. */
import { Effect, Result, Schema } from "effect"
import type { PodmanClientShape } from "../PodmanClient.js"
import type { ImageBuildRequest, LabelFilter, PodCreateRequest } from "../Requests.js"
import * as R from "../Responses.js"
import { makeContainers } from "./containers.js"
import { makeEvents } from "./events.js"
import { classifyFailure, removeRetryingExitRaces, safeJson } from "./failures.js"
import { buildImage } from "./imageBuild.js"
import { API_PREFIX, labelFilters, qs, seg } from "./query.js"
import { makeTransport } from "./transport.js"

export const makeApi = (
  socketPath: string,
  embedded: boolean,
  timeoutMs: number,
): PodmanClientShape => {
  const t = makeTransport(socketPath, embedded, timeoutMs)
  const { call, decode, json, actionErrors, pod, unavailable } = t

  const system: PodmanClientShape["system"] = {
    ping: Effect.fn("PodmanClient.system.ping")(function* () {
      yield* call(
        "ping",
        { kind: "pod", name: "_ping" },
        { method: "GET", path: `${API_PREFIX}/_ping` },
        [200],
      )
    }),
    version: Effect.fn("PodmanClient.system.version")(function* () {
      const res = yield* call(
        "version",
        pod("-"),
        { method: "GET", path: `${API_PREFIX}/version` },
        [200],
      )
      return yield* decode(R.VersionResponse, "version", res)
    }),
    info: Effect.fn("PodmanClient.system.info")(function* () {
      const res = yield* call(
        "info",
        pod("-"),
        { method: "GET", path: `${API_PREFIX}/info` },
        [200],
      )
      return yield* decode(R.InfoResponse, "info", res)
    }),
  }

  const pods: PodmanClientShape["pods"] = {
    create: Effect.fn("PodmanClient.pods.create")(function* (req: PodCreateRequest) {
      const res = yield* call(
        "pod create",
        pod(req.name),
        { method: "POST", path: `${API_PREFIX}/pods/create`, ...json(req) },
        [201],
      )
      return (yield* decode(R.IdResponse, "pod create", res)).Id
    }),
    start: Effect.fn("PodmanClient.pods.start")(function* (name: string) {
      const res = yield* call(
        "pod start",
        pod(name),
        { method: "POST", path: `${API_PREFIX}/pods/${seg(name)}/start` },
        [200, 304, 409, 500],
      )
      if (res.status === 304) return
      if (res.status !== 200) {
        const report = Schema.decodeUnknownResult(R.PodActionReport)(
          safeJson(res.body.toString("utf8")),
        )
        if (Result.isFailure(report) || (report.success.Errs ?? []).length === 0) {
          return yield* Effect.fail(classifyFailure("pod start", res.status, res.body, pod(name)))
        }
      }
      yield* actionErrors("pod start", res)
    }),
    stop: Effect.fn("PodmanClient.pods.stop")(function* (
      name: string,
      opts?: { readonly timeoutSeconds?: number },
    ) {
      const res = yield* call(
        "pod stop",
        pod(name),
        {
          method: "POST",
          path: `${API_PREFIX}/pods/${seg(name)}/stop${qs({ t: opts?.timeoutSeconds })}`,
        },
        [200, 304],
      )
      if (res.status === 200) yield* actionErrors("pod stop", res)
    }),
    remove: Effect.fn("PodmanClient.pods.remove")(function* (
      name: string,
      opts?: { readonly force?: boolean; readonly timeoutSeconds?: number },
    ) {
      const once = Effect.gen(function* () {
        const res = yield* call(
          "pod remove",
          pod(name),
          {
            method: "DELETE",
            path: `${API_PREFIX}/pods/${seg(name)}${qs({ force: opts?.force, t: opts?.timeoutSeconds })}`,
          },
          [200],
        )
        yield* actionErrors("pod remove", res)
      })
      yield* removeRetryingExitRaces(once)
    }),
    inspect: Effect.fn("PodmanClient.pods.inspect")(function* (name: string) {
      const res = yield* call(
        "pod inspect",
        pod(name),
        { method: "GET", path: `${API_PREFIX}/pods/${seg(name)}/json` },
        [200],
      )
      return yield* decode(R.PodInspect, "pod inspect", res)
    }),
    exists: Effect.fn("PodmanClient.pods.exists")(function* (name: string) {
      const res = yield* call(
        "pod exists",
        pod(name),
        { method: "GET", path: `${API_PREFIX}/pods/${seg(name)}/exists` },
        [204, 404],
      )
      return res.status === 204
    }),
    list: Effect.fn("PodmanClient.pods.list")(function* (filter?: LabelFilter) {
      const filters = JSON.stringify({ label: labelFilters(filter?.labels) })
      const res = yield* call(
        "pod list",
        pod("-"),
        { method: "GET", path: `${API_PREFIX}/pods/json${qs({ filters })}` },
        [200],
      )
      return (yield* decode(R.PodList, "pod list", res)) ?? []
    }),
  }

  const images: PodmanClientShape["images"] = {
    exists: Effect.fn("PodmanClient.images.exists")(function* (ref: string) {
      const res = yield* call(
        "image exists",
        { kind: "image", name: ref },
        { method: "GET", path: `${API_PREFIX}/images/${ref}/exists` },
        [204, 404],
      )
      return res.status === 204
    }),
    inspect: Effect.fn("PodmanClient.images.inspect")(function* (ref: string) {
      const res = yield* call(
        "image inspect",
        { kind: "image", name: ref },
        { method: "GET", path: `${API_PREFIX}/images/${ref}/json` },
        [200],
      )
      return yield* decode(R.ImageInspect, "image inspect", res)
    }),
    build: Effect.fn("PodmanClient.images.build")(function* (req: ImageBuildRequest) {
      return yield* buildImage(socketPath, req, timeoutMs, unavailable)
    }),
    remove: Effect.fn("PodmanClient.images.remove")(function* (
      ref: string,
      opts?: { readonly force?: boolean },
    ) {
      yield* call(
        "image remove",
        { kind: "image", name: ref },
        { method: "DELETE", path: `${API_PREFIX}/images/${ref}${qs({ force: opts?.force })}` },
        [200],
      )
    }),
  }

  const containers = makeContainers(t)
  const events = makeEvents(t)

  return { socketPath, embedded, system, pods, containers, images, events }
}
