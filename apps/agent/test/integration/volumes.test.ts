/**
 * PodVolumes on the real host (root; real tmpfs mounts, no Podman): what `prepare` leaves on the
 * host for a pod's volumes, and that `release`, a failed `prepare` and `sweep` leave nothing.
 */
import { existsSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ConfigObject, Lookup } from "../../src/ConfigObjects"
import { PodVolumes, type PodVolumesShape } from "../../src/deployer/PodVolumes"
import type { Workload } from "../../src/Manifest"

const APP_ROOT = 200_000
const SECRET = "hunter2"
const b64 = (text: string) => Buffer.from(text).toString("base64")
const objects: ReadonlyArray<ConfigObject> = [
  { kind: "ConfigMap", namespace: "t", name: "settings", data: { "app.conf": b64("level=1") } },
  { kind: "Secret", namespace: "t", name: "creds", data: { password: b64(SECRET) } },
]
const lookup: Lookup = (kind, name) => objects.find((o) => o.kind === kind && o.name === name)

const container = (mounts: NonNullable<Workload["containers"][number]["volumeMounts"]>) => ({
  name: "app",
  image: "localhost/web:1",
  command: undefined,
  args: undefined,
  workingDir: undefined,
  env: [],
  ports: [],
  memoryLimitBytes: undefined,
  cpuLimitMillis: undefined,
  volumeMounts: mounts,
})

const workload: Pick<Workload, "volumes" | "containers"> = {
  volumes: [
    {
      name: "cfg",
      kind: "ConfigMap",
      object: "settings",
      items: [{ key: "app.conf", path: "conf/app.conf", mode: 0o640 }],
      defaultMode: 0o644,
      optional: false,
    },
    { name: "creds", kind: "Secret", object: "creds", defaultMode: 0o400, optional: false },
    { name: "scratch", kind: "EmptyDir", medium: "" },
    { name: "mem", kind: "EmptyDir", medium: "Memory", sizeLimitBytes: 1024 * 1024 },
  ],
  containers: [container([{ name: "scratch", mountPath: "/s", readOnly: false, subPath: "a/b" }])],
}

let root: string
let volumes: PodVolumesShape

const mountsUnder = async (dir: string) =>
  (await readFile("/proc/self/mountinfo", "utf8"))
    .split("\n")
    .filter((line) => (line.split(" ")[4] ?? "").startsWith(`${dir}/`))

beforeAll(async () => {
  if (process.getuid?.() !== 0)
    throw new Error("the volume integration tests need root (they mount tmpfs); CI runs as root")
  root = join(await mkdtemp(join(tmpdir(), "beemesh-volumes-")), "volumes")
  volumes = Effect.runSync(
    Effect.gen(function* () {
      return yield* PodVolumes
    }).pipe(Effect.provide(PodVolumes.layer({ root, appRootId: APP_ROOT, rootless: false }))),
  )
})

afterAll(async () => {
  if (root === undefined) return
  await Effect.runPromise(volumes.sweep(new Set()))
  await rm(join(root, ".."), { recursive: true, force: true })
})

describe("PodVolumes on the host", () => {
  it("tmpfs per projected or Memory volume, files owned by the apps' root with their modes", async () => {
    const paths = await Effect.runPromise(volumes.prepare("pod-a", workload, lookup))
    const dir = join(root, "pod-a")
    expect(Object.fromEntries(paths)).toEqual({
      cfg: join(dir, "cfg"),
      creds: join(dir, "creds"),
      scratch: join(dir, "scratch"),
      mem: join(dir, "mem"),
    })
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    const mounts = await mountsUnder(dir)
    expect(mounts.map((line) => line.split(" ")[4]).sort()).toEqual(
      ["cfg", "creds", "mem"].map((name) => join(dir, name)).sort(),
    )
    for (const line of mounts) expect(line).toMatch(/ rw,nosuid,nodev,relatime - tmpfs tmpfs rw,/)
    expect(mounts.find((line) => line.includes(`${dir}/mem `))).toMatch(/size=1024k/)

    const file = await stat(join(dir, "cfg", "conf", "app.conf"))
    expect([file.uid, file.gid, file.mode & 0o777]).toEqual([APP_ROOT, APP_ROOT, 0o640])
    const parent = await stat(join(dir, "cfg", "conf"))
    expect([parent.uid, parent.mode & 0o777]).toEqual([APP_ROOT, 0o755])
    expect(await readFile(join(dir, "cfg", "conf", "app.conf"), "utf8")).toBe("level=1")
    const secret = await stat(join(dir, "creds", "password"))
    expect([secret.uid, secret.mode & 0o777]).toEqual([APP_ROOT, 0o400])
    expect(await readFile(join(dir, "creds", "password"), "utf8")).toBe(SECRET)
    const scratch = await stat(join(dir, "scratch"))
    expect([scratch.uid, scratch.mode & 0o777]).toEqual([APP_ROOT, 0o777])
    const subPath = await stat(join(dir, "scratch", "a", "b"))
    expect([subPath.uid, subPath.isDirectory()]).toEqual([APP_ROOT, true])

    await Effect.runPromise(volumes.release("pod-a"))
    expect(await mountsUnder(dir)).toEqual([])
    expect(existsSync(dir)).toBe(false)
  })

  it("a prepare that fails (a missing key) leaves nothing, and says whose fault it is", async () => {
    const broken: Pick<Workload, "volumes" | "containers"> = {
      volumes: [
        workload.volumes![3]!,
        {
          name: "cfg",
          kind: "ConfigMap",
          object: "settings",
          items: [{ key: "nope", path: "n" }],
          defaultMode: 0o644,
          optional: false,
        },
      ],
      containers: [],
    }
    const exit = await Effect.runPromiseExit(volumes.prepare("pod-b", broken, lookup))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
      expect(failure?._tag === "Fail" ? failure.error : undefined).toMatchObject({
        fault: "client",
        reason: "volume cfg: key nope of ConfigMap settings is missing",
      })
    }
    expect(await mountsUnder(join(root, "pod-b"))).toEqual([])
    expect(existsSync(join(root, "pod-b"))).toBe(false)
  })

  it("a subPath that is not in a ConfigMap volume is refused", async () => {
    const exit = await Effect.runPromiseExit(
      volumes.prepare(
        "pod-c",
        {
          volumes: workload.volumes,
          containers: [container([{ name: "cfg", mountPath: "/c", readOnly: true, subPath: "x" }])],
        },
        lookup,
      ),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    expect(existsSync(join(root, "pod-c"))).toBe(false)
  })

  it("sweep releases every pod but those it keeps; a rootless agent refuses volumes", async () => {
    await Effect.runPromise(volumes.prepare("keep", workload, lookup))
    await Effect.runPromise(volumes.prepare("gone", workload, lookup))
    await Effect.runPromise(volumes.sweep(new Set(["keep"])))
    expect(await readdir(root)).toEqual(["keep"])
    expect(await mountsUnder(join(root, "gone"))).toEqual([])
    expect((await mountsUnder(join(root, "keep"))).length).toBe(3)

    const rootless = Effect.runSync(
      Effect.gen(function* () {
        return yield* PodVolumes
      }).pipe(Effect.provide(PodVolumes.layer({ root, appRootId: 1, rootless: true }))),
    )
    const exit = await Effect.runPromiseExit(rootless.prepare("x", workload, lookup))
    expect(Exit.isFailure(exit) ? String(exit.cause) : "").toMatch(/volumes need a rootful agent/)
  })
})
