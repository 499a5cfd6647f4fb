import {
  DhtOperationFailed,
  InvalidName,
  ManifestNotFound,
  PublishRejected,
  RecordRejected,
  RecordTooLarge,
} from "@beemesh/registry"
import { Data } from "effect"
import { describe, expect, it } from "vitest"
import { DirectoryUnavailable } from "../Directory"
import { ManifestInvalid } from "../Manifest"
import {
  DeployFailed,
  PodNameTaken,
  ReplicaNotReady,
  WorkloadNotFound,
  WorkloadNotRemoved,
} from "../Workloads"
import { ApiError, httpStatusOf } from "./ErrorStatus"

const deployFailed = (fault: "client" | "server") =>
  new DeployFailed({ namespace: "shop", name: "web", reason: "x", fault })

describe("httpStatusOf", () => {
  it.each([
    ["a bad manifest", new ManifestInvalid({ document: 0, reason: "x" }), 400],
    [
      "a manifest the API server calls invalid (a Service port name used twice)",
      new ManifestInvalid({ document: 0, reason: "x", unprocessable: true }),
      422,
    ],
    ["a bad name", new InvalidName({ field: "namespace", value: "A", reason: "x" }), 400],
    ["an unknown workload", new WorkloadNotFound({ namespace: "shop", name: "web" }), 404],
    ["an unknown manifest", new ManifestNotFound({ namespace: "shop", name: "web" }), 404],
    ["an oversize record", new RecordTooLarge({ bytes: 9000, limit: 8192 }), 413],
    [
      "a pod name another workload holds",
      new PodNameTaken({ pod: "bm-shop-web-0", wanted: "Pod shop/web-0", holder: "x" }),
      409,
    ],
    ["a deployment the request made impossible", deployFailed("client"), 422],
    ["a deployment the host failed", deployFailed("server"), 500],
    [
      "a removal Podman could not finish",
      new WorkloadNotRemoved({
        namespace: "shop",
        name: "web",
        failures: [{ pod: "bm-shop-web-0", reason: "busy" }],
      }),
      500,
    ],
    ["no directory", new DirectoryUnavailable({ reason: "x" }), 503],
    [
      "a sidecar whose pod is not whole",
      new ReplicaNotReady({ pod: "bm-shop-web-0", reason: "x" }),
      503,
    ],
    ["a put no peer took", new PublishRejected({ key: "k", rejections: 2, firstError: "x" }), 503],
    [
      "this agent's own certificate refused",
      new RecordRejected({ reason: "revoked", detail: "x" }),
      503,
    ],
    ["a failed DHT query", new DhtOperationFailed({ operation: "get", key: "k", cause: "x" }), 503],
    ["the adapter's own refusal", new ApiError(403, "Forbidden", "x"), 403],
  ])("answers %s with its status", (_, error, status) => {
    expect(httpStatusOf(error)).toBe(status)
  })

  it("answers 500 for an error it does not know, even one with a known tag", () => {
    class Foreign extends Data.TaggedError("WorkloadNotFound")<{ readonly name: string }> {}
    expect(httpStatusOf(new Foreign({ name: "web" }))).toBe(500)
    expect(httpStatusOf({ _tag: "ManifestInvalid", message: "x" })).toBe(500)
  })
})
