import { describe, expect, it } from "vitest"
import { parseContainerHost, ROOTFUL_SOCKET, socketCandidates } from "./socket.js"

describe("socket discovery", () => {
  it("tries the option, then CONTAINER_HOST, then the rootful default for root", () => {
    expect(
      socketCandidates({ socketPath: "/a.sock", containerHost: "unix:///b.sock", uid: 0 }).map(
        (c) => [c.path, c.source],
      ),
    ).toEqual([
      ["/a.sock", "option"],
      ["/b.sock", "CONTAINER_HOST"],
      [ROOTFUL_SOCKET, "rootful default"],
    ])
  })

  it("puts the rootless socket under XDG_RUNTIME_DIR first for ordinary users", () => {
    expect(
      socketCandidates({ uid: 1000, xdgRuntimeDir: "/run/user/1000" }).map((c) => c.path),
    ).toEqual(["/run/user/1000/podman/podman.sock", ROOTFUL_SOCKET])
    expect(socketCandidates({ uid: 1001 })[0]?.path).toBe("/run/user/1001/podman/podman.sock")
  })

  it("lists a path once and can leave the defaults out", () => {
    expect(socketCandidates({ socketPath: ROOTFUL_SOCKET, uid: 0 })).toHaveLength(1)
    expect(socketCandidates({ socketPath: "/x.sock", uid: 0, searchDefaults: false })).toEqual([
      { path: "/x.sock", source: "option" },
    ])
  })

  it("parses unix CONTAINER_HOST values and ignores other schemes", () => {
    expect(parseContainerHost("unix:///run/podman/podman.sock")).toBe("/run/podman/podman.sock")
    expect(parseContainerHost("unix:/tmp/p.sock")).toBe("/tmp/p.sock")
    expect(parseContainerHost("ssh://core@host/run/podman.sock")).toBeUndefined()
    expect(parseContainerHost("tcp://127.0.0.1:8888")).toBeUndefined()
  })
})
