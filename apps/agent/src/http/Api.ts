/**
 * The agent's HTTP API (hono). Effects run here, at the edge; every failure is a tagged error
 * mapped to a status by one `onError`, answered as JSON `{error, message}` that says what to fix.
 *
 *   GET    /health                            liveness + the network validation report
 *   GET    /metrics                           Prometheus text
 *   POST   /v1/workloads                      operator: Pod/Deployment/StatefulSet, ConfigMap/Secret
 *   GET    /v1/workloads                      operator
 *   GET    /v1/workloads/:namespace/:name     operator
 *   DELETE /v1/workloads/:namespace/:name     operator
 *   GET    /v1/configs                        operator: ConfigMaps and Secrets (keys, never values)
 *   DELETE /v1/configs/:kind/:namespace/:name operator: kind configmaps or secrets; refused in use
 *   PUT    /v1/pods/:pod/services             pod token: register or renew the pod's services
 *   DELETE /v1/pods/:pod/services             pod token: unregister
 *   GET    /v1/services/:namespace/:service   pod or operator token: resolve providers
 *   PUT    /v1/manifests/:namespace/:name     operator: store a (valid) manifest in the DHT (no Secret)
 *   GET    /v1/manifests/:namespace/:name     operator: the newest stored version, from any agent
 * and the `routes` given by the agent: pod logs, peers, the services list, traffic (see their
 * modules). A registration may carry the sidecar's traffic report (@beemesh/contract Traffic).
 */
import { Registration, Resolution } from "@beemesh/contract"
import { Cause, Effect, Exit, Schema } from "effect"
import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import type { ServiceDirectory } from "../Directory"
import { defaultManifestOptions, type ManifestOptions, parseApply } from "../Manifest"
import type { ServiceTraffic } from "../ServiceTraffic"
import { constantTimeEqual, type PodIdentity, verifyPodToken } from "../Tokens"
import type { WorkloadManager } from "../Workloads"
import { ApiError, httpStatusOf, RegistrationInvalid } from "./ErrorStatus"

export { RegistrationInvalid }

/** Manifests kept in the DHT (newest version wins), readable from every agent of the mesh. */
export interface ManifestStore {
  readonly put: (
    namespace: string,
    name: string,
    content: string,
  ) => Effect.Effect<StoredManifest, { readonly _tag: string; readonly message: string }>
  readonly get: (
    namespace: string,
    name: string,
  ) => Effect.Effect<StoredManifest, { readonly _tag: string; readonly message: string }>
}

export interface StoredManifest {
  readonly namespace: string
  readonly name: string
  readonly publisher: string
  readonly issuedAt: number
  readonly sequence: number
  readonly content: string
}

export interface ApiOptions {
  readonly workloads: WorkloadManager["Service"]
  readonly manifests: ManifestStore
  readonly directory: ServiceDirectory["Service"]
  /** Where the sidecars' traffic reports go (sent with registrations and renewals). */
  readonly traffic?: ServiceTraffic
  readonly operatorToken: string
  readonly podTokenKey: string
  readonly health: () => Promise<{ readonly ok: boolean } & Record<string, unknown>>
  readonly metrics: () => Promise<string>
  readonly manifestOptions?: ManifestOptions
  /** Largest accepted workload body (default 1 MiB). */
  readonly maxManifestBytes?: number
  /**
   * How a pod reaches a provider address (default: unchanged). The host's loopback is the pod's
   * own inside a pod; the agent maps it to the slirp4netns host-loopback gateway.
   */
  readonly addressForPods?: (multiaddr: string) => string
  /**
   * Further operator routes, each `[prefix, sub-app]` from its own module (LogsRoutes,
   * PeersRoutes, ServicesRoutes …), mounted after the routes above.
   */
  readonly routes?: ReadonlyArray<readonly [string, Hono]>
  /**
   * What a registering sidecar gets with its lease for membership: its chain
   * (`Lease.certificates`, renewed with every renewal) and the revocation list in force. Absent:
   * leases carry neither.
   */
  readonly certify?: (
    identity: PodIdentity,
    peerId: string,
    renewAfterSeconds: number,
  ) => Effect.Effect<
    Pick<Registration.Lease, "certificates" | "revocations">,
    { readonly _tag: string; readonly message: string }
  >
  /** Runs effects at the edge (default: Effect.runPromiseExit); the agent passes its logger's context. */
  readonly runExit?: <A, E>(effect: Effect.Effect<A, E>) => Promise<Exit.Exit<A, E>>
}

/** What a defect is answered with; the cause goes to the agent's log. */
export const INTERNAL_ERROR =
  "the agent failed while handling this request (not a problem with the request); the agent's log has the details"

/** Turns an effect's exit into its value; a typed failure becomes an ApiError, a defect a 500. */
export const settle = <A, E extends { readonly _tag: string; readonly message: string }>(
  exit: Exit.Exit<A, E>,
): A => {
  if (Exit.isSuccess(exit)) return exit.value
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure?._tag === "Fail") {
    throw new ApiError(httpStatusOf(failure.error), failure.error._tag, failure.error.message)
  }
  throw new ApiError(500, "InternalError", INTERNAL_ERROR, Cause.pretty(exit.cause))
}

const bearer = (header: string | undefined): string | undefined =>
  header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined

type Caller =
  | { readonly kind: "operator" }
  | { readonly kind: "pod"; readonly identity: PodIdentity }

export const makeApi = (options: ApiOptions) => {
  const manifestOptions = options.manifestOptions ?? defaultManifestOptions
  const runExit =
    options.runExit ?? (<A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect))
  const run = async <A, E extends { readonly _tag: string; readonly message: string }>(
    effect: Effect.Effect<A, E>,
  ): Promise<A> => settle(await runExit(effect))

  const caller = (authorization: string | undefined): Caller => {
    const token = bearer(authorization)
    if (token === undefined) {
      throw new ApiError(
        401,
        "Unauthorized",
        "send Authorization: Bearer <token> (operator token or pod token)",
      )
    }
    if (constantTimeEqual(token, options.operatorToken)) return { kind: "operator" }
    const identity = verifyPodToken(options.podTokenKey, token)
    if (identity !== undefined) return { kind: "pod", identity }
    throw new ApiError(401, "Unauthorized", "the bearer token is not valid for this agent")
  }
  const operator = (authorization: string | undefined) => {
    if (caller(authorization).kind !== "operator") {
      throw new ApiError(
        403,
        "Forbidden",
        "workload endpoints need the operator token, not a pod token",
      )
    }
  }
  const pod = (authorization: string | undefined, podName: string): PodIdentity => {
    const who = caller(authorization)
    if (who.kind !== "pod") {
      throw new ApiError(403, "Forbidden", "service registration needs the pod's own token")
    }
    if (who.identity.pod !== podName) {
      throw new ApiError(
        403,
        "Forbidden",
        `this pod token belongs to pod ${who.identity.pod}, not ${podName}`,
      )
    }
    return who.identity
  }

  const tooLarge = (limit: number) =>
    bodyLimit({
      maxSize: limit,
      onError: () => {
        throw new ApiError(413, "PayloadTooLarge", `the body exceeds ${limit} bytes`)
      },
    })

  const workloads = new Hono()
    .use(async (c, next) => {
      operator(c.req.header("authorization"))
      await next()
    })
    .post("/", tooLarge(options.maxManifestBytes ?? 1024 * 1024), async (c) => {
      const text = await c.req.text()
      const parsed = await run(parseApply(text, manifestOptions))
      const statuses = await run(options.workloads.apply(parsed.workloads, parsed.configs))
      const configs = parsed.configs.map(({ kind, namespace, name, data }) => ({
        kind,
        namespace,
        name,
        keys: Object.keys(data).sort(),
      }))
      return c.json({ workloads: statuses, configs }, 201)
    })
    .get("/", async (c) =>
      c.json({
        workloads: await run(options.workloads.list()),
        orphans: await run(options.workloads.orphans()),
      }),
    )
    .get("/:namespace/:name", async (c) =>
      c.json(await run(options.workloads.get(c.req.param("namespace"), c.req.param("name")))),
    )
    .delete("/:namespace/:name", async (c) => {
      await run(options.workloads.remove(c.req.param("namespace"), c.req.param("name")))
      return c.body(null, 204)
    })

  const configKind = (path: string) => {
    if (path === "configmaps") return "ConfigMap" as const
    if (path === "secrets") return "Secret" as const
    throw new ApiError(404, "NotFound", `no kind ${path}; use configmaps or secrets`)
  }
  const configs = new Hono()
    .use(async (c, next) => {
      operator(c.req.header("authorization"))
      await next()
    })
    .get("/", async (c) => c.json({ configs: await run(options.workloads.configs()) }))
    .delete("/:kind/:namespace/:name", async (c) => {
      await run(
        options.workloads.removeConfig(
          configKind(c.req.param("kind")),
          c.req.param("namespace"),
          c.req.param("name"),
        ),
      )
      return c.body(null, 204)
    })

  const pods = new Hono()
    .put("/:pod/services", tooLarge(Registration.MAX_REGISTRATION_BYTES), async (c) => {
      const identity = pod(c.req.header("authorization"), c.req.param("pod"))
      const raw: unknown = await c.req.json().catch(() => {
        throw new ApiError(400, "BadRequest", "the body must be JSON")
      })
      const body = await run(
        Schema.decodeUnknownEffect(Registration.Registration)(raw).pipe(
          Effect.mapError((error) => new RegistrationInvalid({ reason: error.message })),
        ),
      )
      if (
        body.namespace !== identity.namespace ||
        body.workload !== identity.workload ||
        body.pod !== identity.pod
      ) {
        throw new ApiError(
          403,
          "Forbidden",
          `this pod token is for ${identity.namespace}/${identity.workload}/${identity.pod}; the body names ${body.namespace}/${body.workload}/${body.pod}`,
        )
      }
      const workload = await run(options.workloads.get(identity.namespace, identity.workload))
      for (const service of body.services) {
        const declared = workload.services.find((s) => s.name === service.name)
        if (declared === undefined || declared.port !== service.port) {
          throw new ApiError(
            403,
            "Forbidden",
            `workload ${identity.namespace}/${identity.workload} may register only its own services (${
              workload.services.map((s) => `${s.name}=${s.port}`).join(", ") || "none"
            }), not ${service.name}=${service.port}`,
          )
        }
      }
      // Registered means serving: a pod whose app is down is refused; an update waits for this.
      await run(options.workloads.registered(identity, true))
      const lease = await run(
        options.directory.register({
          identity,
          peerId: body.peerId,
          multiaddrs: body.multiaddrs,
          services: body.services,
        }),
      )
      if (body.traffic !== undefined) options.traffic?.report(identity, body.peerId, body.traffic)
      const membership =
        options.certify === undefined
          ? {}
          : await run(options.certify(identity, body.peerId, lease.renewAfterSeconds))
      return c.json(
        { ...lease, ...membership } satisfies Registration.Lease,
        Registration.REGISTERED,
      )
    })
    .delete("/:pod/services", async (c) => {
      const identity = pod(c.req.header("authorization"), c.req.param("pod"))
      await run(options.directory.unregister(identity))
      await run(options.workloads.registered(identity, false).pipe(Effect.ignore))
      options.traffic?.forget(identity)
      return c.body(null, Registration.UNREGISTERED)
    })

  const services = new Hono().get("/:namespace/:service", async (c) => {
    const who = caller(c.req.header("authorization"))
    const providers = await run(
      options.directory.resolve(c.req.param("namespace"), c.req.param("service")),
    )
    const rewrite = who.kind === "pod" ? options.addressForPods : undefined
    return c.json(
      {
        providers:
          rewrite === undefined
            ? providers
            : providers.map((p) => ({ ...p, multiaddrs: p.multiaddrs.map(rewrite) })),
      } satisfies Resolution.ResolveResponse,
      Resolution.RESOLVED,
    )
  })

  const manifests = new Hono()
    .use(async (c, next) => {
      operator(c.req.header("authorization"))
      await next()
    })
    .put("/:namespace/:name", tooLarge(options.maxManifestBytes ?? 1024 * 1024), async (c) => {
      const text = await c.req.text()
      const parsed = await run(parseApply(text, manifestOptions))
      // The DHT is readable by every agent of the mesh, and records are not encrypted.
      const secret = parsed.configs.find((object) => object.kind === "Secret")
      if (secret !== undefined)
        throw new ApiError(
          400,
          "ManifestInvalid",
          `Secret ${secret.namespace}/${secret.name} cannot be stored in the DHT, which every agent of the mesh reads unencrypted; apply Secrets to each agent with POST /v1/workloads`,
        )
      const stored = await run(
        options.manifests.put(c.req.param("namespace"), c.req.param("name"), text),
      )
      return c.json(stored)
    })
    .get("/:namespace/:name", async (c) =>
      c.json(await run(options.manifests.get(c.req.param("namespace"), c.req.param("name")))),
    )

  const app = new Hono()
    .get("/health", async (c) => {
      const report = await options.health()
      return c.json(report, report.ok ? 200 : 503)
    })
    .get("/metrics", async (c) =>
      c.text(await options.metrics(), 200, { "content-type": "text/plain; version=0.0.4" }),
    )
    .route("/v1/workloads", workloads)
    .route("/v1/configs", configs)
    .route("/v1/pods", pods)
    .route("/v1/services", services)
    .route("/v1/manifests", manifests)
  for (const [prefix, routes] of options.routes ?? []) app.route(prefix, routes)
  return app
    .notFound((c) =>
      c.json({ error: "NotFound", message: `no route ${c.req.method} ${c.req.path}` }, 404),
    )
    .onError((error, c) => {
      const logged = (detail: string) =>
        void runExit(Effect.logError(`${c.req.method} ${c.req.path} failed: ${detail}`))
      if (error instanceof ApiError) {
        if (error.detail !== undefined) logged(error.detail)
        // The rest of an oversize body is never read: close the connection rather than reuse it.
        if (error.status === 413) c.header("connection", "close")
        return c.json({ error: error.tag, message: error.message }, error.status)
      }
      logged(error.stack ?? error.message)
      return c.json({ error: "InternalError", message: INTERNAL_ERROR }, 500)
    })
}
