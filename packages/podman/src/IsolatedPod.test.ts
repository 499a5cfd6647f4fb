import { Deferred, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { createIsolatedPod } from "./IsolatedPod.js"
import { PodmanClient } from "./PodmanClient.js"
import type { PodSpecInput } from "./PodSpec.js"
import { makeFakePodman } from "./testing/FakePodman.js"

const input: PodSpecInput = {
  name: "web-1",
  containers: [
    {
      name: "sidecar",
      role: "sidecar",
      image: "localhost/sidecar:1",
      user: "1337",
      healthcheck: { command: ["/bin/true"], intervalSeconds: 10 },
    },
    {
      name: "app",
      role: "app",
      image: "localhost/app:1",
      command: ["/bin/app"],
      env: { A: "1" },
      mounts: [{ source: "/srv/data", destination: "/data", readOnly: true }],
      resources: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5, pids: 100 },
    },
  ],
  rlimits: { nofile: 4096, nproc: 512 },
}

describe("IsolatedPod on the fake client", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, PodmanClient>, images: ReadonlyArray<string>) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const fake = yield* makeFakePodman({ images })
        const result = yield* Effect.result(Effect.provideService(effect, PodmanClient, fake))
        const pods = yield* fake.pods.list()
        const containers = yield* fake.containers.list()
        return { result, pods, containers }
      }),
    )

  it("creates and starts the pod with owner labels", async () => {
    const { result, pods, containers } = await run(
      createIsolatedPod({ ...input, hostPort: 18080 }, { owner: "unit" }),
      ["localhost/sidecar:1", "localhost/app:1"],
    )
    if (result._tag !== "Success") throw new Error(String(result.failure))
    expect(result.success).toMatchObject({
      name: "web-1",
      hostPort: 18080,
      hostGateway: "10.0.2.2",
      sidecar: "web-1-sidecar",
    })
    expect(pods[0]?.Labels).toMatchObject({
      "io.beemesh.owner": "unit",
      "io.beemesh.owner-pid": String(process.pid),
    })
    expect(containers.map((c) => [c.Names[0], c.State])).toEqual([
      ["web-1-holder", "running"],
      ["web-1-sidecar", "running"],
      ["web-1-app", "running"],
    ])
  })

  it("fails with ImageMissing before creating anything", async () => {
    const { result, pods, containers } = await run(createIsolatedPod(input, { owner: "unit" }), [
      "localhost/sidecar:1",
    ])
    expect(result).toMatchObject({
      _tag: "Failure",
      failure: { _tag: "ImageMissing", image: "localhost/app:1" },
    })
    expect(pods).toEqual([])
    expect(containers).toEqual([])
  })

  it("runAsNonRoot: refuses an image that runs as root or as a user name, accepts a numeric USER", async () => {
    const nonRoot = (image: string, user?: string): PodSpecInput => ({
      ...input,
      containers: [
        input.containers[0]!,
        {
          name: "app",
          role: "app",
          image,
          ...(user === undefined ? {} : { user }),
          security: { runAsNonRoot: true },
        },
      ],
    })
    const images = [
      "localhost/sidecar:1",
      "localhost/root:1",
      "localhost/named:1",
      "localhost/u1000:1",
    ]
    const imageUsers = { "localhost/named:1": "nginx", "localhost/u1000:1": "1000:1000" }
    const attempt = (spec: PodSpecInput) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const fake = yield* makeFakePodman({ images, imageUsers })
          const result = yield* Effect.result(
            Effect.provideService(createIsolatedPod(spec, { owner: "unit" }), PodmanClient, fake),
          )
          return { result, pods: yield* fake.pods.list() }
        }),
      )
    const root = await attempt(nonRoot("localhost/root:1"))
    expect(root.result).toMatchObject({
      _tag: "Failure",
      failure: { _tag: "PodSpecInvalid", field: "containers[1].security.runAsNonRoot" },
    })
    expect(root.result._tag === "Failure" && root.result.failure.message).toContain(
      'container "app" must run as non-root but it runs as root (the USER of image localhost/root:1)',
    )
    expect(root.pods).toEqual([])
    const named = await attempt(nonRoot("localhost/named:1"))
    expect(named.result._tag === "Failure" && named.result.failure.message).toContain(
      'its user "nginx" is a name',
    )
    expect((await attempt(nonRoot("localhost/u1000:1"))).result._tag).toBe("Success")
    expect((await attempt(nonRoot("localhost/root:1", "1000"))).result._tag).toBe("Success")
    expect((await attempt(nonRoot("localhost/u1000:1", "0:0"))).result._tag).toBe("Failure")
  })
  it("creates the sidecar and the apps while the holder starts: they need it created, not running", async () => {
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const fake = yield* makeFakePodman({ images: ["localhost/sidecar:1", "localhost/app:1"] })
        const holderStarting = yield* Deferred.make<void>()
        // Were the members created only after the holder started, they would wait here in vain.
        const client = {
          ...fake,
          containers: {
            ...fake.containers,
            start: (name: string) =>
              Deferred.succeed(holderStarting, undefined).pipe(
                Effect.andThen(fake.containers.start(name)),
              ),
            create: (request: Parameters<typeof fake.containers.create>[0]) =>
              request.name === "web-1-holder"
                ? fake.containers.create(request)
                : Deferred.await(holderStarting).pipe(
                    Effect.timeout("2 seconds"),
                    Effect.orDie,
                    Effect.andThen(fake.containers.create(request)),
                  ),
          },
        }
        return yield* Effect.result(
          createIsolatedPod({ ...input, hostPort: 18080 }, { owner: "unit" }).pipe(
            Effect.provideService(PodmanClient, client),
          ),
        )
      }),
    )
    expect(result._tag).toBe("Success")
  })
})
