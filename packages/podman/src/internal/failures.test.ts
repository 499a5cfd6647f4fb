import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { NotFound, type PodmanError, RuntimeFailure } from "../Errors.js"
import { classifyFailure, isPortTaken, isRemovalRace, removeRetryingExitRaces } from "./failures.js"

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

// Messages as Podman 4.3.1 reports a forced removal that raced a container's exit.
const BUSY =
  "unlinkat /var/lib/containers/storage/overlay-containers/abc/userdata/shm: device or resource busy"
const STOPPED =
  "sending SIGKILL to container abc: container state improper: stopped; error removing container abc"
const race = (podmanMessage: string) =>
  new RuntimeFailure({ operation: "pod remove", status: 200, podmanMessage })

describe("isRemovalRace", () => {
  it("a busy mount and a container found stopped while stopping it are races with its exit", () => {
    expect(isRemovalRace(race(BUSY))).toBe(true)
    expect(isRemovalRace(race(STOPPED))).toBe(true)
    expect(
      isRemovalRace(
        classifyFailure("pod remove", 500, body("container state improper", STOPPED, 500), {
          kind: "pod",
          name: "p",
        }),
      ),
    ).toBe(true)
  })

  it("other failures, and objects that are gone, are not", () => {
    expect(isRemovalRace(race("container abc has dependent containers"))).toBe(false)
    expect(isRemovalRace(race("permission denied"))).toBe(false)
    expect(isRemovalRace(new NotFound({ kind: "pod", name: "p" }))).toBe(false)
  })
})

describe("removeRetryingExitRaces", () => {
  const attempts = (outcomes: ReadonlyArray<PodmanError | undefined>) => {
    let tried = 0
    const once = Effect.suspend(() => {
      const outcome = outcomes[Math.min(tried, outcomes.length - 1)]
      tried += 1
      return outcome === undefined ? Effect.void : Effect.fail(outcome)
    })
    return { once, tried: () => tried }
  }

  it("tries again after a race until the removal succeeds, or finds the object gone", async () => {
    const stopped = attempts([race(STOPPED), race(BUSY), undefined])
    await Effect.runPromise(removeRetryingExitRaces(stopped.once))
    expect(stopped.tried()).toBe(3)
    const gone = attempts([race(STOPPED), new NotFound({ kind: "pod", name: "p" })])
    await Effect.runPromise(removeRetryingExitRaces(gone.once))
    expect(gone.tried()).toBe(2)
  })

  it("other failures end it at once; a race that never ends fails after its retries", async () => {
    const other = attempts([race("permission denied")])
    const first = await Effect.runPromise(Effect.flip(removeRetryingExitRaces(other.once)))
    expect(first).toMatchObject({ podmanMessage: "permission denied" })
    expect(other.tried()).toBe(1)
    const missing = attempts([new NotFound({ kind: "pod", name: "p" })])
    expect(
      await Effect.runPromise(Effect.flip(removeRetryingExitRaces(missing.once))),
    ).toBeInstanceOf(NotFound)
    const endless = attempts([race(STOPPED)])
    const last = await Effect.runPromise(Effect.flip(removeRetryingExitRaces(endless.once)))
    expect(last).toMatchObject({ podmanMessage: STOPPED })
    expect(endless.tried()).toBe(10)
  }, 10_000)
})

// Messages as Podman 4.3.1 sends them when the published host port is bound by another process.
describe("isPortTaken", () => {
  it("knows a taken port from either port handler, and nothing else", () => {
    expect(
      isPortTaken("rootlessport listen tcp 127.0.0.1:18777: bind: address already in use"),
    ).toBe(true)
    expect(
      isPortTaken(
        "error from slirp4netns while setting up port redirection: map[desc:bad request: add_hostfwd: slirp_add_hostfwd failed]",
      ),
    ).toBe(true)
    expect(
      isPortTaken(
        "error from slirp4netns while setting up port redirection: map[desc:bad request: add_hostfwd: bad arguments.host_addr]",
      ),
    ).toBe(false)
    expect(isPortTaken("container create: image not known")).toBe(false)
  })
})
