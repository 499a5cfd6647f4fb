/**
 * The agent's HTTP API (hono). Effects run here, at the edge; every failure is a tagged error
 * mapped to a status by one `onError`, answered as JSON `{error, message}` that says what to fix.
 *
 *   GET    /health                            anyone: ok and the peer id; operator token: the
 *                                             network validation report and addresses too
 *   GET    /metrics                           metrics or operator token: Prometheus text
 *   POST   /v1/workloads                      operator: Pod/Deployment/StatefulSet, ConfigMap/Secret,
 *                                             Service, NetworkPolicy
 *   GET    /v1/workloads                      operator
 *   GET    /v1/workloads/:namespace/:name     operator
 *   DELETE /v1/workloads/:namespace/:name     operator
 *   GET    /v1/configs                        operator: ConfigMaps and Secrets (keys, never values),
 *                                             Services (with the workloads they select)
 *   DELETE /v1/configs/:kind/:namespace/:name operator: kind configmaps, secrets (refused in use)
 *                                             or services (the workloads it selected roll)
 *   GET    /v1/networkpolicies                operator: the NetworkPolicies held
 *   DELETE /v1/networkpolicies/:namespace/:name operator
 *   PUT    /v1/pods/:pod/services             pod token: register or renew the pod's services at
 *                                             the addresses the agent gave the pod
 *   DELETE /v1/pods/:pod/services             pod token: unregister
 *   POST   /v1/pods/:pod/probes/exec          pod token: run the pod's exec probe once
 *   POST   /v1/pods/:pod/probes/failures      pod token: a liveness/startup probe failed: restart
 *   GET    /v1/services/:namespace/:service   pod or operator token: resolve providers (?wait=: watch)
 *   PUT    /v1/manifests/:namespace/:name     operator: store a (valid) manifest in the DHT (no Secret)
 *   GET    /v1/manifests/:namespace/:name     operator: the newest stored version, from any agent
 * and the `routes` given by the agent: pod logs, peers, the services list, traffic (see their
 * modules). A registration may carry the sidecar's traffic report (@beemesh/contract Traffic).
 * A pod token counts only while its pod runs at the generation it was issued for (Tokens.ts).
 */
import { ProbeReport, Registration, Resolution } from "@beemesh/contract"
import { Cause, Effect, Exit, Schema } from "effect"
import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import type { ServiceDirectory } from "../Directory"
import { resolveWatched } from "../DirectoryWatch"
import type { ReplicaProbes } from "../deployer/ReplicaProbes"
import { defaultManifestOptions, type ManifestOptions, parseApply } from "../Manifest"
import type { NetworkPolicies } from "../NetworkPolicies"
import { POLICY_RECORD } from "../PolicySync"
import { type AddressRules, addressProblem } from "../RegistrationAddresses"
import type { ServiceTraffic } from "../ServiceTraffic"
import type { PodIdentity } from "../Tokens"
import type { WorkloadManager } from "../Workloads"
import { makeCallers } from "./Callers"
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
  /** Exec probes and probe failures of the sidecars (absent: those routes answer 404). */
  readonly probes?: ReplicaProbes["Service"]
  /** Where applied NetworkPolicies go; without it, a request with one is refused (501). */
  readonly networkPolicies?: NetworkPolicies["Service"]
  readonly manifests: ManifestStore
  readonly directory: ServiceDirectory["Service"]
  /** Where the sidecars' traffic reports go (sent with registrations and renewals). */
  readonly traffic?: ServiceTraffic
  readonly operatorToken: string
  readonly podTokenKey: string
  /** Where the agent publishes pods: what a sidecar may register (RegistrationAddresses.ts). */
  readonly addresses: AddressRules
  /**
   * Reads /metrics and nothing else, for a scraper (Prometheus) that should not hold the operator
   * token. Absent: only the operator token reads /metrics.
   */
  readonly metricsToken?: string
  /** The full report (operator token); without a token only `ok` and `peerId` are answered. */
  readonly health: () => Promise<
    { readonly ok: boolean; readonly peerId?: string } & Record<string, unknown>
  >
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
  /** How long a watch on a service's providers is held unchanged (default Resolution.HOLD_MS). */
  readonly watchHoldMs?: number
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

export const makeApi = (options: ApiOptions) => {
  const manifestOptions = options.manifestOptions ?? defaultManifestOptions
  const runExit =
    options.runExit ?? (<A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect))
  const run = async <A, E extends { readonly _tag: string; readonly message: string }>(
    effect: Effect.Effect<A, E>,
  ): Promise<A> => settle(await runExit(effect))

  const { caller, operator, pod, isOperator, mayReadMetrics } = makeCallers({
    operatorToken: options.operatorToken,
    podTokenKey: options.podTokenKey,
    ...(options.metricsToken === undefined ? {} : { metricsToken: options.metricsToken }),
    live: (identity) => run(options.workloads.live(identity)),
  })

  const tooLarge = (limit: number) =>
    bodyLimit({
      maxSize: limit,
      onError: () => {
        throw new ApiError(413, "PayloadTooLarge", `the body exceeds ${limit} bytes`)
      },
    })

  const workloads = new Hono()
    .use(async (c, next) => {
      await operator(c.req.header("authorization"))
      await next()
    })
    .post("/", tooLarge(options.maxManifestBytes ?? 1024 * 1024), async (c) => {
      const text = await c.req.text()
      const parsed = await run(parseApply(text, manifestOptions))
      const policies = options.networkPolicies
      if (parsed.policies.length > 0 && policies === undefined)
        throw new ApiError(501, "NotImplemented", "this agent does not hold NetworkPolicies")
      // All or nothing: the policies are put back as they were if the workloads fail.
      const undo =
        parsed.policies.length > 0 && policies !== undefined
          ? await run(policies.apply(parsed.policies))
          : undefined
      const statuses =
        parsed.workloads.length + parsed.configs.length + parsed.services.length === 0
          ? []
          : await run(
              options.workloads.apply(parsed.workloads, parsed.configs, parsed.services),
            ).catch(async (error: unknown) => {
              if (undo !== undefined) await runExit(undo)
              throw error
            })
      const configs = parsed.configs.map(({ kind, namespace, name, data }) => ({
        kind,
        namespace,
        name,
        keys: Object.keys(data).sort(),
      }))
      const networkPolicies = parsed.policies.map(({ namespace, name }) => ({ namespace, name }))
      return c.json(
        { workloads: statuses, configs, services: parsed.services, networkPolicies },
        201,
      )
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
    if (path === "services") return "Service" as const
    throw new ApiError(404, "NotFound", `no kind ${path}; use configmaps, secrets or services`)
  }
  const configs = new Hono()
    .use(async (c, next) => {
      await operator(c.req.header("authorization"))
      await next()
    })
    .get("/", async (c) =>
      c.json({
        configs: await run(options.workloads.configs()),
        services: await run(options.workloads.services()),
      }),
    )
    .delete("/:kind/:namespace/:name", async (c) => {
      const kind = configKind(c.req.param("kind"))
      const [namespace, name] = [c.req.param("namespace"), c.req.param("name")]
      if (kind === "Service") await run(options.workloads.removeService(namespace, name))
      else await run(options.workloads.removeConfig(kind, namespace, name))
      return c.body(null, 204)
    })

  const networkPolicies = new Hono()
    .use(async (c, next) => {
      operator(c.req.header("authorization"))
      await next()
    })
    .get("/", async (c) =>
      c.json({
        networkPolicies:
          options.networkPolicies === undefined ? [] : await run(options.networkPolicies.list()),
      }),
    )
    .delete("/:namespace/:name", async (c) => {
      if (options.networkPolicies === undefined)
        throw new ApiError(501, "NotImplemented", "this agent does not hold NetworkPolicies")
      await run(options.networkPolicies.remove(c.req.param("namespace"), c.req.param("name")))
      return c.body(null, 204)
    })

  const pods = new Hono()
    .put("/:pod/services", tooLarge(Registration.MAX_REGISTRATION_BYTES), async (c) => {
      const { identity, replica } = await pod(c.req.header("authorization"), c.req.param("pod"))
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
      const workload = await run(
        options.workloads.offered?.(identity.namespace, identity.workload) ??
          options.workloads.get(identity.namespace, identity.workload),
      )
      // During an update, an old replica renews the services its version declared.
      const allowed = workload.registrable ?? workload.services
      for (const service of body.services) {
        if (!allowed.some((s) => s.name === service.name && s.port === service.port)) {
          throw new ApiError(
            403,
            "Forbidden",
            `workload ${identity.namespace}/${identity.workload} may register only its own services (${
              workload.services.map((s) => `${s.name}=${s.port}`).join(", ") || "none"
            }), not ${service.name}=${service.port}`,
          )
        }
      }
      const misaddressed = addressProblem(body.multiaddrs, options.addresses, {
        hostPort: replica.hostPort,
        peerId: body.peerId,
        namespace: identity.namespace,
        pod: identity.pod,
      })
      if (misaddressed !== undefined)
        throw new ApiError(422, "RegistrationAddressRefused", misaddressed)
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
      // Every renewal hands the sidecar its namespace's policies: a change reaches it within
      // renewAfterSeconds.
      const answer: Registration.Lease = {
        ...lease,
        ...membership,
        ...(options.networkPolicies === undefined
          ? {}
          : { networkPolicies: options.networkPolicies.forNamespace(identity.namespace) }),
      }
      return c.json(answer, Registration.REGISTERED)
    })
    .delete("/:pod/services", async (c) => {
      const { identity } = await pod(c.req.header("authorization"), c.req.param("pod"))
      await run(options.directory.unregister(identity))
      await run(options.workloads.registered(identity, false).pipe(Effect.ignore))
      options.traffic?.forget(identity)
      return c.body(null, Registration.UNREGISTERED)
    })
    .post("/:pod/probes/:action", tooLarge(ProbeReport.MAX_PROBE_REPORT_BYTES), async (c) => {
      const { identity } = await pod(c.req.header("authorization"), c.req.param("pod"))
      const action = c.req.param("action")
      const probes = options.probes
      if (probes === undefined || (action !== "exec" && action !== "failures"))
        throw new ApiError(404, "NotFound", `no route POST ${c.req.path}`)
      const raw: unknown = await c.req.json().catch(() => {
        throw new ApiError(400, "BadRequest", "the body must be JSON")
      })
      const decode = <A>(schema: Schema.Codec<A, unknown>): A => {
        const decoded = Schema.decodeUnknownExit(schema)(raw)
        if (Exit.isSuccess(decoded)) return decoded.value
        const reason = decoded.cause.reasons.find((r) => r._tag === "Fail")
        throw new ApiError(
          400,
          "ProbeReportInvalid",
          `probe report: ${reason?._tag === "Fail" ? reason.error.message : "not the contract's form"}`,
        )
      }
      if (action === "exec") {
        const result = await run(probes.exec(identity, decode(ProbeReport.ExecRequest)))
        return c.json(result satisfies ProbeReport.ExecResult, ProbeReport.EXECUTED)
      }
      await run(probes.failed(identity, decode(ProbeReport.ProbeFailure)))
      return c.body(null, ProbeReport.RECORDED)
    })

  const services = new Hono().get("/:namespace/:service", async (c) => {
    const who = await caller(c.req.header("authorization"))
    const rewrite = who.kind === "pod" ? options.addressForPods : undefined
    const wait = c.req.query(Resolution.WAIT_PARAMETER)
    const answer = await run(
      resolveWatched(
        options.directory,
        c.req.param("namespace"),
        c.req.param("service"),
        rewrite === undefined
          ? (providers) => providers
          : (providers) => providers.map((p) => ({ ...p, multiaddrs: p.multiaddrs.map(rewrite) })),
        wait,
        options.watchHoldMs ?? Resolution.HOLD_MS,
      ),
    )
    return c.json(answer satisfies Resolution.ResolveResponse, Resolution.RESOLVED)
  })

  const manifests = new Hono()
    .use(async (c, next) => {
      await operator(c.req.header("authorization"))
      await next()
    })
    .put("/:namespace/:name", tooLarge(options.maxManifestBytes ?? 1024 * 1024), async (c) => {
      if (c.req.param("name") === POLICY_RECORD)
        throw new ApiError(
          400,
          "ManifestInvalid",
          `the manifest name ${POLICY_RECORD} is where agents share a namespace's NetworkPolicies; choose another name`,
        )
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
      // Liveness for anyone; the rest (addresses, paths, versions) is the operator's.
      const answer = isOperator(c.req.header("authorization"))
        ? report
        : { ok: report.ok, peerId: report.peerId }
      return c.json(answer, report.ok ? 200 : 503)
    })
    .get("/metrics", async (c) => {
      // The families name every namespace, workload and service this agent runs.
      mayReadMetrics(c.req.header("authorization"))
      return c.text(await options.metrics(), 200, { "content-type": "text/plain; version=0.0.4" })
    })
    .route("/v1/workloads", workloads)
    .route("/v1/configs", configs)
    .route("/v1/networkpolicies", networkPolicies)
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
