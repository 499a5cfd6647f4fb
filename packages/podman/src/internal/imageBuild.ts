/** Image builds through the libpod build endpoint, from a local context directory. */
import { Effect, Result, Schema } from "effect"
import { execa } from "execa"
import { type PodmanError, type PodmanUnavailable, RuntimeFailure } from "../Errors.js"
import type { ImageBuildRequest, ImageBuildResult } from "../Requests.js"
import * as R from "../Responses.js"
import { errorText, safeJson } from "./failures.js"
import { request } from "./http.js"
import { API_PREFIX, qs } from "./query.js"

/**
 * Builds through the libpod build endpoint: the context directory is tarred by the system `tar`
 * (argument array, streamed into the request), the answer is a stream of JSON lines.
 */
export const buildImage = (
  socketPath: string,
  req: ImageBuildRequest,
  timeoutMs: number,
  unavailable: (reason: string) => PodmanUnavailable,
): Effect.Effect<ImageBuildResult, PodmanError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const tar = yield* Effect.acquireRelease(
        Effect.sync(() =>
          execa("tar", ["-C", req.contextDir, "-cf", "-", "."], {
            stdout: "pipe",
            stderr: "pipe",
            reject: false,
            buffer: { stdout: false, stderr: true },
          }),
        ),
        (p) => Effect.sync(() => p.kill("SIGKILL")),
      )
      const path = `${API_PREFIX}/build${qs({
        dockerfile: req.containerfile ?? "Containerfile",
        t: req.tag,
        labels: req.labels ? JSON.stringify(req.labels) : undefined,
        rm: true,
      })}`
      const res = yield* request(socketPath, {
        method: "POST",
        path,
        body: tar.stdout!,
        contentType: "application/x-tar",
        idleTimeoutMs: timeoutMs,
      }).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))
      const tarResult = yield* Effect.promise(() => tar)
      if (tarResult.exitCode !== 0) {
        return yield* Effect.fail(
          new RuntimeFailure({
            operation: "image build (tar of the context)",
            status: 0,
            podmanMessage: `tar -C ${req.contextDir} failed: ${String(tarResult.stderr).trim() || tarResult.shortMessage}`,
          }),
        )
      }
      const lines = res.body
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => Schema.decodeUnknownResult(R.BuildLine)(safeJson(l)))
        .flatMap((r) => (Result.isSuccess(r) ? [r.success] : []))
      const output = lines.map((l) => l.stream ?? "").join("")
      const error = lines.find((l) => l.error !== undefined)?.error
      if (res.status !== 200 || error !== undefined) {
        return yield* Effect.fail(
          new RuntimeFailure({
            operation: `image build ${req.tag}`,
            status: res.status,
            podmanMessage: error ?? errorText(res.body).message,
          }),
        )
      }
      const id = output.trim().split("\n").at(-1)?.trim() ?? ""
      return { tag: req.tag, id, output }
    }),
  )
