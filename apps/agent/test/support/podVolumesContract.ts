/**
 * What every PodVolumes must do, run against the in-memory one (unit) and the real one on the
 * host (integration, root): the deployer's unit tests rely on the first behaving as the second.
 */
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { ConfigObject, Lookup } from "../../src/ConfigObjects"
import {
  PodVolumes,
  type PodVolumesOptions,
  type PodVolumesShape,
} from "../../src/deployer/PodVolumes"
import type { ContainerTemplate, Workload } from "../../src/Manifest"
import type { Volume, VolumeMount } from "../../src/Volumes"

/** The Secret's value in the fixtures' `creds`. */
export const SECRET = "hunter2"
const b64 = (text: string) => Buffer.from(text).toString("base64")
const objects: ReadonlyArray<ConfigObject> = [
  { kind: "ConfigMap", namespace: "t", name: "settings", data: { "app.conf": b64("level=1") } },
  { kind: "Secret", namespace: "t", name: "creds", data: { password: b64(SECRET) } },
]
/** The config objects the fixtures' volumes name: ConfigMap `settings`, Secret `creds`. */
export const lookup: Lookup = (kind, name) =>
  objects.find((o) => o.kind === kind && o.name === name)

const container = (volumeMounts: ReadonlyArray<VolumeMount>): ContainerTemplate => ({
  name: "app",
  image: "localhost/web:1",
  command: undefined,
  args: undefined,
  workingDir: undefined,
  env: [],
  ports: [],
  memoryLimitBytes: undefined,
  cpuLimitMillis: undefined,
  volumeMounts,
})

const cfg: Volume = {
  name: "cfg",
  kind: "ConfigMap",
  object: "settings",
  items: [{ key: "app.conf", path: "conf/app.conf" }],
  defaultMode: 0o644,
  optional: false,
}
const volumes: ReadonlyArray<Volume> = [
  cfg,
  { name: "creds", kind: "Secret", object: "creds", defaultMode: 0o400, optional: false },
  { name: "scratch", kind: "EmptyDir", medium: "" },
  { name: "mem", kind: "EmptyDir", medium: "Memory", sizeLimitBytes: 1024 * 1024 },
]
const using = (
  vols: ReadonlyArray<Volume>,
  mounts: ReadonlyArray<VolumeMount> = [],
): Pick<Workload, "volumes" | "containers"> => ({ volumes: vols, containers: [container(mounts)] })

/**
 * A volume of each kind (the ConfigMap item with a mode of its own, the 1 MiB Memory emptyDir
 * `mem`) and a subPath `a/b` of the emptyDir `scratch`: what the host tests inspect after
 * `prepare`.
 */
export const workloadWithVolumes = using(
  [
    { ...cfg, items: [{ key: "app.conf", path: "conf/app.conf", mode: 0o640 }] },
    ...volumes.slice(1),
  ],
  [{ name: "scratch", mountPath: "/s", readOnly: false, subPath: "a/b" }],
)

/** A real PodVolumes on its own (the layer has no requirements). */
export const makePodVolumes = (options: PodVolumesOptions): PodVolumesShape =>
  Effect.runSync(
    Effect.gen(function* () {
      return yield* PodVolumes
    }).pipe(Effect.provide(PodVolumes.layer(options))),
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? reason.error : undefined
}

export const podVolumesContract = (name: string, make: () => PodVolumesShape) =>
  describe(`PodVolumes contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    const runExit = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)

    it("prepare gives each volume's directory by name; release removes the pod's", async () => {
      const shape = make()
      const paths = await run(
        shape.prepare(
          "pod-a",
          using(volumes, [{ name: "scratch", mountPath: "/s", readOnly: false, subPath: "a" }]),
          lookup,
        ),
      )
      expect([...paths.keys()]).toEqual(["cfg", "creds", "scratch", "mem"])
      expect(await run(shape.pods())).toEqual(["pod-a"])
      // Again for the same pod (a recreated replica): what was there is replaced.
      await run(shape.prepare("pod-a", using(volumes), lookup))
      await run(shape.release("pod-a"))
      await run(shape.release("pod-never"))
      expect(await run(shape.pods())).toEqual([])
    })

    it("a missing object or key is the request's fault and leaves nothing; optional is empty", async () => {
      const shape = make()
      const missing = failureOf(
        await runExit(shape.prepare("pod-b", using([{ ...cfg, object: "nowhere" }]), lookup)),
      )
      expect(missing).toMatchObject({
        _tag: "VolumeSetupFailed",
        fault: "client",
        reason: "volume cfg: ConfigMap nowhere does not exist",
      })
      const key = failureOf(
        await runExit(
          shape.prepare(
            "pod-b",
            using([volumes[3]!, { ...cfg, items: [{ key: "nope", path: "n" }] }]),
            lookup,
          ),
        ),
      )
      expect(key).toMatchObject({
        fault: "client",
        reason: "volume cfg: key nope of ConfigMap settings is missing",
      })
      expect(await run(shape.pods())).toEqual([])
      await run(
        shape.prepare("pod-b", using([{ ...cfg, object: "nowhere", optional: true }]), lookup),
      )
      expect(await run(shape.pods())).toEqual(["pod-b"])
      await run(shape.release("pod-b"))
    })

    it("a subPath must be in a ConfigMap volume; in an emptyDir it is made", async () => {
      const shape = make()
      const outside = failureOf(
        await runExit(
          shape.prepare(
            "pod-c",
            using(volumes, [{ name: "cfg", mountPath: "/c", readOnly: true, subPath: "x" }]),
            lookup,
          ),
        ),
      )
      expect(outside).toMatchObject({ _tag: "VolumeSetupFailed", fault: "client" })
      expect(await run(shape.pods())).toEqual([])
      await run(
        shape.prepare(
          "pod-c",
          using(volumes, [
            { name: "cfg", mountPath: "/c", readOnly: true, subPath: "conf" },
            { name: "scratch", mountPath: "/s", readOnly: false, subPath: "deep/er" },
          ]),
          lookup,
        ),
      )
      await run(shape.release("pod-c"))
    })

    it("sweep releases every pod but those it keeps", async () => {
      const shape = make()
      await run(shape.prepare("keep", using(volumes), lookup))
      await run(shape.prepare("gone", using(volumes), lookup))
      await run(shape.sweep(new Set(["keep"])))
      expect(await run(shape.pods())).toEqual(["keep"])
      await run(shape.sweep(new Set()))
      expect(await run(shape.pods())).toEqual([])
    })
  })
