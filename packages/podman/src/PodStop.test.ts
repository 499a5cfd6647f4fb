import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import { TestClock } from "effect/testing"
import { NotFound, type PodmanError, PodmanUnavailable, RuntimeFailure } from "./Errors.js"
import { LABEL_POD } from "./Ownership.js"
import { PodmanClient, type PodmanClientShape } from "./PodmanClient.js"
import { type PodStop, removeStoppedPod, stopPods } from "./PodStop.js"

const stop: PodStop = {
  name: "web-1",
  sandbox: undefined,
  terminating: [],
  refused: false,
  timeoutSeconds: undefined,
}

const conmonLate = new RuntimeFailure({
  operation: "pod remove",
  status: 500,
  podmanMessage:
    "1 error occurred:\n\t* removing container 0360cf from pod f336aa: cannot remove container 0360cf as it could not be stopped: timed out waiting for file /run/libpod/exits/0360cf: internal libpod error",
})

const gone = new NotFound({ kind: "pod", name: "web-1" })

const unanswered = (reason: string) =>
  new PodmanUnavailable({
    socketsTried: [{ path: "/run/podman/podman.sock", source: "embedded service", reason }],
    hint: "the Podman service did not answer",
  })

/** A client whose pod removals answer `answers` in turn (then succeed), counting the calls. */
const removals = (answers: ReadonlyArray<PodmanError | undefined>) => {
  let calls = 0
  const client = {
    pods: {
      // Each run of the effect is a request (a retry runs it again).
      remove: () =>
        Effect.suspend(() => {
          const answer = answers[calls++]
          return answer === undefined ? Effect.void : Effect.fail(answer)
        }),
    },
  } as unknown as PodmanClientShape
  return { client, calls: () => calls }
}

/** Runs the removal while the test clock moves on by a second at a time. */
const remove = (client: PodmanClientShape) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(
      removeStoppedPod(stop).pipe(Effect.provideService(PodmanClient, client), Effect.result),
    )
    for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

describe("removeStoppedPod", () => {
  it.effect("tries again when Podman gave up waiting for conmon's exit file", () =>
    Effect.gen(function* () {
      const podman = removals([conmonLate, conmonLate])
      const result = yield* remove(podman.client)
      expect(result._tag).toBe("Success")
      expect(podman.calls()).toBe(3)
    }),
  )

  it.effect("gives up after three more tries, with Podman's reason", () =>
    Effect.gen(function* () {
      const podman = removals([conmonLate, conmonLate, conmonLate, conmonLate, conmonLate])
      const result = yield* remove(podman.client)
      expect(result._tag === "Failure" && result.failure).toBe(conmonLate)
      expect(podman.calls()).toBe(4)
    }),
  )

  it.effect("asks once more when the service gave no answer in time, and finds the pod gone", () =>
    Effect.gen(function* () {
      const warnings: Array<string> = []
      const logger = Logger.make(({ message }) => {
        warnings.push([message].flat().map(String).join(" "))
      })
      const podman = removals([unanswered("ETIMEDOUT: no data for 120000 ms"), gone])
      const answered = yield* remove(podman.client).pipe(Effect.provide(Logger.layer([logger])))
      expect(answered._tag).toBe("Success")
      expect(podman.calls()).toBe(2)
      expect(warnings).toEqual([
        expect.stringMatching(/^pod web-1: no Podman API service answered; .*; asking again$/),
      ])
      const still = removals([
        unanswered("ETIMEDOUT: no data for 120000 ms"),
        unanswered("ETIMEDOUT: no data for 120000 ms"),
      ])
      const result = yield* remove(still.client)
      expect(result._tag === "Failure" && result.failure._tag).toBe("PodmanUnavailable")
      expect(still.calls()).toBe(2)
      // A service that is not there is not asked again.
      const refused = removals([unanswered("ECONNREFUSED: connect ECONNREFUSED")])
      expect((yield* remove(refused.client))._tag).toBe("Failure")
      expect(refused.calls()).toBe(1)
    }),
  )

  it.effect("does not try again after another failure, and a pod already gone is fine", () =>
    Effect.gen(function* () {
      const refused = new RuntimeFailure({
        operation: "pod remove",
        status: 500,
        podmanMessage: "a container that depends on container f3bc96 still exists",
      })
      const podman = removals([refused])
      const result = yield* remove(podman.client)
      expect(result._tag === "Failure" && result.failure).toBe(refused)
      expect(podman.calls()).toBe(1)
      const gone = removals([new NotFound({ kind: "pod", name: "web-1" })])
      expect((yield* remove(gone.client))._tag).toBe("Success")
      expect(gone.calls()).toBe(1)
    }),
  )
})

describe("stopPods", () => {
  it.live("signals a member that Podman is still stopping, as it does a running one", () => {
    // A real process that does not handle SIGTERM (as busybox httpd as PID 1): SIGKILL at once.
    const child = spawn("sleep", ["60"], { stdio: "ignore" })
    /** "Z" (killed, not yet reaped), "gone", or the running process's state. */
    const state = () => {
      try {
        return readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]?.[0]
      } catch {
        return "gone"
      }
    }
    const comm = () => {
      try {
        return readFileSync(`/proc/${child.pid}/comm`, "utf8").trim()
      } catch {
        return "gone"
      }
    }
    const client = {
      containers: {
        list: () =>
          Effect.succeed([
            {
              Id: "0360cf",
              Names: ["web-1-app"],
              State: "stopping",
              Pid: child.pid,
              Labels: { [LABEL_POD]: "web-1" },
            },
          ]),
        inspect: (name: string) => Effect.fail(new NotFound({ kind: "container", name })),
      },
    } as unknown as PodmanClientShape
    return Effect.gen(function* () {
      // Until it runs sleep: the fork before its exec may still carry node's SIGTERM handler.
      for (let i = 0; i < 100 && comm() !== "sleep"; i++) yield* Effect.sleep("10 millis")
      expect(state()).toMatch(/^[RS]$/)
      const [stop] = yield* stopPods(["web-1"]).pipe(Effect.provideService(PodmanClient, client))
      expect(stop).toMatchObject({ name: "web-1", refused: false, terminating: [] })
      // A SIGKILL takes effect when the process is next scheduled: on a busy host it may still show
      // R for a moment (seen with the whole suite running).
      for (let i = 0; i < 100 && !["Z", "gone"].includes(state() ?? ""); i++)
        yield* Effect.sleep("20 millis")
      expect(["Z", "gone"]).toContain(state())
    }).pipe(Effect.ensuring(Effect.sync(() => child.kill("SIGKILL"))))
  })
})
