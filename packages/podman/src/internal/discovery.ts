/** Finding a Podman API that answers: the configured and default sockets, else an embedded service. */
import { Effect, type Scope } from "effect"
import { startEmbeddedService } from "../EmbeddedService.js"
import { PodmanUnavailable } from "../Errors.js"
import type { PodmanClientOptions, PodmanClientShape } from "../PodmanClient.js"
import { makeApi } from "./client.js"
import { request } from "./http.js"
import { API_PREFIX } from "./query.js"
import { parseContainerHost, type SocketCandidate, socketCandidates } from "./socket.js"

const answers = (path: string) =>
  request(path, { method: "GET", path: `${API_PREFIX}/_ping`, idleTimeoutMs: 3000 }).pipe(
    Effect.map((r) => (r.status === 200 ? undefined : `HTTP ${r.status}`)),
    Effect.catch((e) => Effect.succeed(`${e.code}`)),
  )

/**
 * Finds a socket that answers, or starts the embedded service (scoped) when allowed.
 * Fails with PodmanUnavailable naming every socket tried.
 */
export const makePodmanClient = (
  options: PodmanClientOptions = {},
): Effect.Effect<PodmanClientShape, PodmanUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const mode = options.embedded ?? "fallback"
    const timeoutMs = options.requestTimeoutMs ?? 120_000
    const tried: Array<SocketCandidate & { reason: string }> = []
    if (mode !== "always") {
      const candidates = socketCandidates({
        socketPath: options.socketPath,
        containerHost: options.containerHost,
        uid: options.uid ?? process.getuid?.() ?? 0,
        xdgRuntimeDir: options.xdgRuntimeDir,
        searchDefaults: options.searchDefaults,
      })
      if (
        options.containerHost !== undefined &&
        parseContainerHost(options.containerHost) === undefined
      ) {
        tried.push({
          path: options.containerHost,
          source: "CONTAINER_HOST",
          reason: "unsupported scheme (only unix:// sockets)",
        })
      }
      for (const candidate of candidates) {
        const reason = yield* answers(candidate.path)
        if (reason === undefined) return makeApi(candidate.path, false, timeoutMs)
        tried.push({ ...candidate, reason })
      }
      if (mode === "never") {
        return yield* Effect.fail(
          new PodmanUnavailable({
            socketsTried: tried,
            hint: "start one (podman system service --time=0 unix://<path>, or systemctl start podman.socket) or allow the embedded service",
          }),
        )
      }
    }
    const service = yield* startEmbeddedService(options.embeddedOptions).pipe(
      Effect.mapError(
        (e) => new PodmanUnavailable({ socketsTried: [...tried, ...e.socketsTried], hint: e.hint }),
      ),
    )
    return makeApi(service.socketPath, true, timeoutMs)
  })
