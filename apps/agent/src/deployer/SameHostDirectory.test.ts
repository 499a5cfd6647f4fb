import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  prepareSameHostDirectory,
  removeSocketsOf,
  SAME_HOST_DIRECTORY_MODE,
  sameHostDirectoryOf,
  sweepSockets,
} from "./SameHostDirectory"

let dataDir: string
let dir: string
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "agent-samehost-"))
  dir = sameHostDirectoryOf(dataDir)
  await Effect.runPromise(prepareSameHostDirectory(dir))
})
afterEach(() => rm(dataDir, { recursive: true, force: true }))

const socketOf = (namespace: string, pod: string, peer: string) =>
  `${SameHostSockets.socketPrefix(namespace, pod)}.${peer}`

describe("SameHostDirectory", () => {
  it("is created with mode 1733 whatever the umask, and again when it exists", async () => {
    expect((await stat(dir)).mode & 0o7777).toBe(SAME_HOST_DIRECTORY_MODE)
    await Effect.runPromise(prepareSameHostDirectory(dir))
    expect((await stat(dir)).mode & 0o7777).toBe(SAME_HOST_DIRECTORY_MODE)
  })

  it("removes one pod's sockets and leaves the others'", async () => {
    await writeFile(join(dir, socketOf("shop", "web-0", "12D3A")), "")
    await writeFile(join(dir, socketOf("shop", "web-0", "12D3B")), "")
    await writeFile(join(dir, socketOf("shop", "web-1", "12D3C")), "")
    await Effect.runPromise(removeSocketsOf(dir, "shop", "web-0"))
    expect(await readdir(dir)).toEqual([socketOf("shop", "web-1", "12D3C")])
  })

  it("sweeps the sockets of pods that are gone", async () => {
    await writeFile(join(dir, socketOf("shop", "web-0", "12D3A")), "")
    await writeFile(join(dir, socketOf("shop", "gone-0", "12D3B")), "")
    const removed = await Effect.runPromise(
      sweepSockets(dir, Effect.succeed([{ namespace: "shop", pod: "web-0" }])),
    )
    expect(removed).toBe(1)
    expect(await readdir(dir)).toEqual([socketOf("shop", "web-0", "12D3A")])
  })

  it("does not list the pods when there is nothing to sweep", async () => {
    let listed = false
    const removed = await Effect.runPromise(
      sweepSockets(
        dir,
        Effect.sync(() => {
          listed = true
          return []
        }),
      ),
    )
    expect([removed, listed]).toEqual([0, false])
  })
})
