import { describe, expect, it } from "vitest"
import { compileCacheDirectory } from "./CompileCache"

describe("compileCacheDirectory", () => {
  it("is /var/cache/beemesh/compile-cache for root, whatever its environment", () => {
    expect(
      compileCacheDirectory({ uid: 0, env: { XDG_CACHE_HOME: "/home/x/.cache" }, home: "/root" }),
    ).toBe("/var/cache/beemesh/compile-cache")
  })

  it("is under XDG_CACHE_HOME for any other user", () => {
    expect(
      compileCacheDirectory({ uid: 1000, env: { XDG_CACHE_HOME: "/srv/cache" }, home: "/home/a" }),
    ).toBe("/srv/cache/beemesh/compile-cache")
  })

  it("falls back to ~/.cache without XDG_CACHE_HOME or with a relative one", () => {
    expect(compileCacheDirectory({ uid: 1000, env: {}, home: "/home/a" })).toBe(
      "/home/a/.cache/beemesh/compile-cache",
    )
    expect(
      compileCacheDirectory({ uid: 1000, env: { XDG_CACHE_HOME: "cache" }, home: "/home/a" }),
    ).toBe("/home/a/.cache/beemesh/compile-cache")
  })
})
