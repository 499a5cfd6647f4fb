import { describe, expect, it } from "vitest"
import type { ConfigObject, Lookup } from "../ConfigObjects"
import type { ContainerTemplate } from "../Manifest"
import type { Volume, VolumeMount } from "../Volumes"
import { volumeLayouts } from "./VolumeLayout"

const b64 = (text: string) => Buffer.from(text).toString("base64")
const objects: ReadonlyArray<ConfigObject> = [
  {
    kind: "ConfigMap",
    namespace: "t",
    name: "settings",
    data: { "app.conf": b64("level=1"), other: b64("2") },
  },
  { kind: "Secret", namespace: "t", name: "creds", data: { password: b64("hunter2") } },
]
const lookup: Lookup = (kind, name) => objects.find((o) => o.kind === kind && o.name === name)

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
const mount = (name: string, subPath?: string): VolumeMount => ({
  name,
  mountPath: `/${name}`,
  readOnly: false,
  ...(subPath === undefined ? {} : { subPath }),
})

const cfg: Volume = {
  name: "cfg",
  kind: "ConfigMap",
  object: "settings",
  items: [{ key: "app.conf", path: "conf/deep/app.conf", mode: 0o640 }],
  defaultMode: 0o644,
  optional: false,
}
const creds: Volume = {
  name: "creds",
  kind: "Secret",
  object: "creds",
  defaultMode: 0o400,
  optional: false,
}

describe("volumeLayouts", () => {
  it("projected volumes: a tmpfs sized to the files, parents 0755 before the files, modes kept", () => {
    const layouts = volumeLayouts({ volumes: [cfg, creds], containers: [container([])] }, lookup)
    expect(layouts).toEqual([
      {
        name: "cfg",
        tmpfs: { mode: 0o755, sizeBytes: 64 * 1024 + 3 * 4096 },
        entries: [
          { kind: "directory", path: "conf", mode: 0o755 },
          { kind: "directory", path: "conf/deep", mode: 0o755 },
          {
            kind: "file",
            path: "conf/deep/app.conf",
            mode: 0o640,
            bytes: Buffer.from("level=1"),
          },
        ],
      },
      {
        name: "creds",
        tmpfs: { mode: 0o755, sizeBytes: 64 * 1024 + 3 * 4096 },
        entries: [{ kind: "file", path: "password", mode: 0o400, bytes: Buffer.from("hunter2") }],
      },
    ])
  })

  it("emptyDir: world-writable, a tmpfs of sizeLimit with Memory, subPaths created once", () => {
    const layouts = volumeLayouts(
      {
        volumes: [
          { name: "scratch", kind: "EmptyDir", medium: "" },
          { name: "mem", kind: "EmptyDir", medium: "Memory", sizeLimitBytes: 1 << 20 },
        ],
        containers: [
          container([mount("scratch", "a/b"), mount("mem")]),
          container([mount("scratch", "a")]),
        ],
      },
      lookup,
    )
    expect(layouts).toEqual([
      {
        name: "scratch",
        directoryMode: 0o777,
        entries: [
          { kind: "directory", path: "a", mode: 0o777 },
          { kind: "directory", path: "a/b", mode: 0o777 },
        ],
      },
      { name: "mem", tmpfs: { mode: 0o777, sizeBytes: 1 << 20 }, entries: [] },
    ])
  })

  it("a subPath of a projected volume must name one of its files or directories", () => {
    const using = (subPath: string) =>
      volumeLayouts({ volumes: [cfg], containers: [container([mount("cfg", subPath)])] }, lookup)
    expect("problem" in using("conf/deep")).toBe(false)
    expect("problem" in using("conf/deep/app.conf")).toBe(false)
    expect(using("conf/missing")).toEqual({
      problem:
        "subPath conf/missing is not in volume cfg (ConfigMap settings); name one of its files",
    })
  })

  it("a missing object is the request's fault unless optional (then the volume is empty)", () => {
    const missing: Volume = { ...creds, object: "nope" }
    expect(volumeLayouts({ volumes: [missing], containers: [] }, lookup)).toEqual({
      problem: "volume creds: Secret nope does not exist",
    })
    expect(
      volumeLayouts({ volumes: [{ ...missing, optional: true }], containers: [] }, lookup),
    ).toEqual([{ name: "creds", tmpfs: { mode: 0o755, sizeBytes: 64 * 1024 }, entries: [] }])
  })
})
