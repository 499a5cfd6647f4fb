import { describe, expect, it } from "vitest"
import { classifyFailure } from "./failures.js"

const body = (cause: string, message: string, response: number) =>
  Buffer.from(JSON.stringify({ cause, message, response }))

// Bodies as Podman 4.3.1 sends them.
describe("classifyFailure", () => {
  it("maps missing objects to NotFound", () => {
    expect(
      classifyFailure(
        "pod inspect",
        404,
        body("no such pod", "no pod with name or ID x found: no such pod", 404),
        {
          kind: "pod",
          name: "x",
        },
      ),
    ).toMatchObject({ _tag: "NotFound", kind: "pod", name: "x" })
    expect(
      classifyFailure(
        "container create",
        500,
        body("no such pod", "no pod with name or ID p1 found: no such pod", 500),
        {
          kind: "container",
          name: "c1",
          image: "i",
        },
      ),
    ).toMatchObject({ _tag: "NotFound", kind: "pod", name: "p1" })
  })

  it("a container with dependents is a RuntimeFailure, though Podman wraps it in 'already exists'", () => {
    const failure = classifyFailure(
      "container remove",
      500,
      body(
        "container already exists",
        "container abc has dependent containers which must be removed before it: def: container already exists",
        500,
      ),
      { kind: "container", name: "p-holder" },
    )
    expect(failure).toMatchObject({ _tag: "RuntimeFailure", operation: "container remove" })
    expect(failure.message).toContain("dependent containers")
  })

  it("maps name conflicts to NameInUse", () => {
    expect(
      classifyFailure(
        "pod create",
        409,
        body("pod already exists", 'name "p" is in use: pod already exists', 409),
        {
          kind: "pod",
          name: "p",
        },
      ),
    ).toMatchObject({ _tag: "NameInUse", kind: "pod", name: "p" })
    expect(
      classifyFailure(
        "container create",
        500,
        body("that name is already in use", 'the container name "c" is already in use by 67…', 500),
        { kind: "container", name: "c", image: "i" },
      ),
    ).toMatchObject({ _tag: "NameInUse", kind: "container", name: "c" })
  })

  it("maps an unknown image on container create to ImageMissing with a hint", () => {
    const e = classifyFailure(
      "container create",
      500,
      body("image not known", "localhost/x:1: image not known", 500),
      {
        kind: "container",
        name: "c",
        image: "localhost/x:1",
      },
    )
    expect(e).toMatchObject({ _tag: "ImageMissing", image: "localhost/x:1" })
    expect(e.message).toContain("build it locally")
  })

  it("keeps Podman's own message in RuntimeFailure", () => {
    const e = classifyFailure(
      "pod start",
      500,
      body("", "runc: error setting rlimit type 7: operation not permitted", 500),
      {
        kind: "pod",
        name: "p",
      },
    )
    expect(e).toMatchObject({ _tag: "RuntimeFailure", operation: "pod start", status: 500 })
    expect(e.message).toContain("rlimit type 7")
    expect(
      classifyFailure("x", 502, Buffer.from("bad gateway"), { kind: "pod", name: "p" }).message,
    ).toContain("bad gateway")
  })
})
