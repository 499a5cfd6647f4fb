/**
 * The PodmanClient contract: one suite run against every implementation (the real client on a
 * real Podman, and FakePodman). Each test creates uniquely named, labelled objects and removes them
 * in its scope, so suites can run next to other users of the same Podman.
 */
import { randomBytes } from "node:crypto"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, type Layer, Option, Stream } from "effect"
import { containerLimits } from "../internal/limits.js"
import { LABEL_TEST } from "../Ownership.js"
import { PodmanClient } from "../PodmanClient.js"
import { appIdMappings } from "../PodRequests.js"
import type { ContainerCreateRequest } from "../Requests.js"

export interface ContractOptions {
  /** An image present in the implementation's storage (built by the caller). */
  readonly image: Effect.Effect<string, unknown, PodmanClient>
  /** Prefix of every name (DNS-1123), e.g. `contract-real`. */
  readonly prefix: string
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`

export const podmanClientContract = (
  name: string,
  clientLayer: Layer.Layer<PodmanClient, unknown>,
  options: ContractOptions,
) =>
  describe(`PodmanClient contract: ${name}`, () => {
    const runLabel = { [LABEL_TEST]: "1", "io.beemesh.test-run": unique("run") }

    /** A pod that is removed (forced) when the test's scope closes. */
    const scopedPod = (podName: string) =>
      Effect.gen(function* () {
        const client = yield* PodmanClient
        return yield* Effect.acquireRelease(
          client.pods.create({
            name: podName,
            labels: runLabel,
            shared_namespaces: ["ipc", "net", "uts"],
          }),
          () => client.pods.remove(podName, { force: true, timeoutSeconds: 0 }).pipe(Effect.ignore),
        )
      })

    /**
     * A pod without infra (removed, forced, when the test's scope closes) and its holder, created
     * with `common` and not started; returns the namespace a member joins to share its network.
     */
    const podWithHolder = (podName: string, common: Omit<ContainerCreateRequest, "name">) =>
      Effect.gen(function* () {
        const client = yield* PodmanClient
        yield* Effect.acquireRelease(
          client.pods.create({ name: podName, labels: runLabel, no_infra: true }),
          () => client.pods.remove(podName, { force: true, timeoutSeconds: 0 }).pipe(Effect.ignore),
        )
        yield* client.containers.create({
          ...common,
          name: `${podName}-holder`,
          netns: { nsmode: "slirp4netns" },
        })
        return { nsmode: "container", value: `${podName}-holder` }
      })

    layer(clientLayer, { excludeTestServices: true })((it) => {
      it.effect("answers ping and reports a version", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          yield* client.system.ping()
          const version = yield* client.system.version()
          expect(version.Version).toMatch(/^\d+\.\d+/)
        }),
      )

      it.effect("inspecting a missing pod fails with NotFound naming it", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const missing = unique(`${options.prefix}-missing`)
          const error = yield* Effect.flip(client.pods.inspect(missing))
          expect(error._tag).toBe("NotFound")
          expect(error).toMatchObject({ kind: "pod", name: missing })
          expect(yield* client.pods.exists(missing)).toBe(false)
        }),
      )

      it.effect("a created pod exists, is listed by its labels and keeps them", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const podName = unique(options.prefix)
          const id = yield* scopedPod(podName)
          expect(yield* client.pods.exists(podName)).toBe(true)
          const listed = yield* client.pods.list({ labels: runLabel })
          expect(listed.map((p) => p.Name)).toContain(podName)
          const inspected = yield* client.pods.inspect(podName)
          expect(inspected.Id).toBe(id)
          expect(inspected.Labels).toMatchObject(runLabel)
        }),
      )

      it.effect("a second pod with the same name fails with NameInUse", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const podName = unique(options.prefix)
          yield* scopedPod(podName)
          const error = yield* Effect.flip(client.pods.create({ name: podName, labels: runLabel }))
          expect(error._tag).toBe("NameInUse")
          expect(error).toMatchObject({ kind: "pod", name: podName })
        }),
      )

      it.effect("removing a pod removes its containers; removing it again is NotFound", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const image = yield* options.image
          const podName = unique(options.prefix)
          yield* scopedPod(podName)
          yield* client.containers.create({
            name: `${podName}-app`,
            image,
            pod: podName,
            labels: runLabel,
          })
          const before = yield* client.containers.list({ labels: runLabel, pod: podName })
          expect(before.map((c) => c.Names[0])).toContain(`${podName}-app`)
          expect((yield* client.containers.inspect(`${podName}-app`)).Config.Labels).toMatchObject(
            runLabel,
          )
          yield* client.pods.remove(podName, { force: true })
          expect(yield* client.pods.exists(podName)).toBe(false)
          const after = yield* client.containers.list({ labels: runLabel, pod: podName })
          expect(after).toEqual([])
          const again = yield* Effect.flip(client.pods.remove(podName))
          expect(again._tag).toBe("NotFound")
          const gone = yield* Effect.flip(client.containers.inspect(`${podName}-app`))
          expect(gone).toMatchObject({ _tag: "NotFound", kind: "container" })
        }),
      )

      it.effect(
        "a container from a missing image fails with ImageMissing naming it, creating nothing",
        () =>
          Effect.gen(function* () {
            const client = yield* PodmanClient
            const podName = unique(options.prefix)
            yield* scopedPod(podName)
            const image = `localhost/${unique("no-such-image")}:1`
            const error = yield* Effect.flip(
              client.containers.create({
                name: `${podName}-x`,
                image,
                pod: podName,
                labels: runLabel,
              }),
            )
            expect(error._tag).toBe("ImageMissing")
            expect(error).toMatchObject({ image })
            expect(error.message).toContain(image)
            const listed = yield* client.containers.list({ labels: runLabel, pod: podName })
            // A real pod has an infra container (it inherits the pod's labels); no other container.
            expect(listed.filter((c) => c.IsInfra !== true)).toEqual([])
          }),
      )

      it.effect("a container in a missing pod fails with NotFound for the pod", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const image = yield* options.image
          const podName = unique(`${options.prefix}-nopod`)
          const error = yield* Effect.flip(
            client.containers.create({
              name: `${podName}-x`,
              image,
              pod: podName,
              labels: runLabel,
            }),
          )
          expect(error).toMatchObject({ _tag: "NotFound", kind: "pod", name: podName })
          const leftovers = yield* client.containers.list({ labels: runLabel })
          expect(leftovers.map((c) => c.Names[0])).not.toContain(`${podName}-x`)
        }),
      )

      it.effect(
        "a pod's infra container starts alone with a process; the others start with the pod",
        () =>
          Effect.gen(function* () {
            const client = yield* PodmanClient
            const image = yield* options.image
            const podName = unique(options.prefix)
            const limits = containerLimits()
            yield* Effect.acquireRelease(
              client.pods.create({
                name: podName,
                labels: runLabel,
                netns: { nsmode: "slirp4netns" },
                shared_namespaces: ["ipc", "net", "uts"],
              }),
              () =>
                client.pods.remove(podName, { force: true, timeoutSeconds: 0 }).pipe(Effect.ignore),
            )
            yield* client.containers.create({
              name: `${podName}-app`,
              image,
              pod: podName,
              labels: runLabel,
              command: ["/bin/sleep", "600"],
              oci_runtime: "runc",
              stop_timeout: 0,
              r_limits: [
                { type: "nofile", hard: limits.nofile, soft: limits.nofile },
                { type: "nproc", hard: limits.nproc, soft: limits.nproc },
              ],
            })
            const infraId = (yield* client.pods.inspect(podName)).InfraContainerID ?? ""
            expect(infraId).not.toBe("")
            yield* client.containers.start(infraId)
            const infra = (yield* client.containers.inspect(infraId)).State
            expect(infra.Running).toBe(true)
            expect(infra.Pid).toBeGreaterThan(0)
            const app = (yield* client.containers.inspect(`${podName}-app`)).State
            expect([app.Running, app.Pid]).toEqual([false, 0])
            yield* client.pods.start(podName)
            expect((yield* client.containers.inspect(`${podName}-app`)).State.Running).toBe(true)
            expect((yield* client.containers.inspect(infraId)).State.Pid).toBe(infra.Pid)
          }),
      )

      it.effect(
        "without infra: a holder owns the network, a container joining it starts it first, the pod goes whole",
        () =>
          Effect.gen(function* () {
            const client = yield* PodmanClient
            const image = yield* options.image
            const podName = unique(options.prefix)
            const limits = containerLimits()
            const common = {
              image,
              pod: podName,
              labels: runLabel,
              command: ["/bin/sleep", "600"],
              oci_runtime: "runc",
              stop_timeout: 0,
              r_limits: [
                { type: "nofile" as const, hard: limits.nofile, soft: limits.nofile },
                { type: "nproc" as const, hard: limits.nproc, soft: limits.nproc },
              ],
            }
            const joined = yield* podWithHolder(podName, common)
            yield* client.containers.create({
              ...common,
              name: `${podName}-app`,
              netns: joined,
              utsns: joined,
              userns: { nsmode: "private" },
              idmappings: appIdMappings(false),
            })
            expect((yield* client.pods.inspect(podName)).InfraContainerID ?? "").toBe("")
            yield* client.containers.start(`${podName}-app`)
            const holder = (yield* client.containers.inspect(`${podName}-holder`)).State
            expect([holder.Running, holder.Pid > 0]).toEqual([true, true])
            expect((yield* client.pods.inspect(podName)).State).toBe("Running")
            const alone = yield* Effect.flip(
              client.containers.remove(`${podName}-holder`, { force: true, timeoutSeconds: 0 }),
            )
            expect(alone).toMatchObject({ _tag: "RuntimeFailure" })
            expect(alone.message).toContain("dependent containers")
            yield* client.pods.remove(podName, { force: true, timeoutSeconds: 0 })
            expect(yield* client.pods.exists(podName)).toBe(false)
            expect(yield* client.containers.list({ labels: runLabel, pod: podName })).toEqual([])
          }),
      )

      it.effect(
        "an initialized container waits for start: not running, nothing to exec in; a second init is a no-op",
        () =>
          Effect.gen(function* () {
            const client = yield* PodmanClient
            const image = yield* options.image
            const podName = unique(options.prefix)
            const common = {
              image,
              pod: podName,
              labels: runLabel,
              command: ["/bin/sleep", "600"],
              stop_timeout: 0,
            }
            const joined = yield* podWithHolder(podName, common)
            yield* client.containers.start(`${podName}-holder`)
            const app = `${podName}-app`
            yield* client.containers.create({ ...common, name: app, netns: joined, utsns: joined })
            yield* client.containers.init(app)
            yield* client.containers.init(app)
            const initialized = (yield* client.containers.inspect(app)).State
            expect([initialized.Status, initialized.Running]).toEqual(["initialized", false])
            const exec = yield* Effect.flip(client.containers.exec(app, ["/bin/true"]))
            expect(exec._tag).toBe("RuntimeFailure")
            yield* client.containers.start(app)
            const started = (yield* client.containers.inspect(app)).State
            expect([started.Status, started.Running]).toEqual(["running", true])
            // Podman answers 304 (not modified) for a container past its init.
            yield* client.containers.init(app)
            expect((yield* client.containers.inspect(app)).State.Running).toBe(true)
          }),
      )

      it.effect("a pod with an infra container refuses a container with its own ID map", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const image = yield* options.image
          const podName = unique(options.prefix)
          yield* scopedPod(podName)
          const error = yield* Effect.flip(
            client.containers.create({
              name: `${podName}-app`,
              image,
              pod: podName,
              labels: runLabel,
              userns: { nsmode: "private" },
              idmappings: appIdMappings(false),
            }),
          )
          expect(error).toMatchObject({ _tag: "RuntimeFailure" })
          expect(error.message).toContain("uid/gid map")
        }),
      )

      it.effect("images.exists tells a present image from a missing one", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const image = yield* options.image
          expect(yield* client.images.exists(image)).toBe(true)
          expect(yield* client.images.exists(`localhost/${unique("no-such-image")}:1`)).toBe(false)
          // The test image names no USER: it runs as root.
          expect((yield* client.images.inspect(image)).Config?.User ?? "").toBe("")
          const missing = yield* Effect.flip(
            client.images.inspect(`localhost/${unique("no-such-image")}:1`),
          )
          expect(missing).toMatchObject({ _tag: "NotFound", kind: "image" })
        }),
      )

      it.effect("events report a pod's creation", () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const podName = unique(options.prefix)
          const since = new Date(Date.now() - 1000)
          yield* scopedPod(podName)
          const event = yield* client.events({ type: ["pod"], since }).pipe(
            Stream.filter((e) => e.name === podName && e.action === "create"),
            Stream.runHead,
            Effect.timeout("20 seconds"),
          )
          expect(Option.isSome(event)).toBe(true)
          expect(Option.getOrThrow(event)).toMatchObject({
            type: "pod",
            action: "create",
            name: podName,
          })
        }),
      )
    })
  })
