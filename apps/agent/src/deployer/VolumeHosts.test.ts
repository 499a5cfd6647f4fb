import { describe, expect, it } from "vitest"
import { mountsUnder } from "./VolumeHosts"

const line = (point: string) =>
  `107 106 0:43 / ${point} rw,nosuid,nodev,relatime - tmpfs tmpfs rw,size=64k,mode=755`

describe("mountsUnder (mountinfo of a namespace)", () => {
  it("the mount points at or below a directory, deepest first, escapes undone", () => {
    const mountinfo = [
      line("/data/volumes/pod-a/cfg"),
      line("/data/volumes/pod-a"),
      line("/data/volumes/pod-a/sub\\040dir/x"),
      line("/data/volumes/pod-ab/cfg"),
      line("/elsewhere"),
      "",
    ].join("\n")
    expect(mountsUnder(mountinfo, "/data/volumes/pod-a")).toEqual([
      "/data/volumes/pod-a/sub dir/x",
      "/data/volumes/pod-a/cfg",
      "/data/volumes/pod-a",
    ])
    expect(mountsUnder(mountinfo, "/data/volumes/pod-c")).toEqual([])
  })
})
