import { lstat, mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { generateMeshKey, makeP2pNode } from "@beemesh/p2p"
import { SameHost } from "@beemesh/proxy"
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadIdentity, SidecarNode } from "./SidecarNode"

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sidecar-identity-"))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe("workload identity", () => {
  it("loads the key from a file", async () => {
    const key = await generateKeyPair("Ed25519")
    const path = join(dir, "key.pb")
    await writeFile(path, privateKeyToProtobuf(key))
    const loaded = await Effect.runPromise(loadIdentity(path))
    expect(peerIdFromPrivateKey(loaded).toString()).toBe(peerIdFromPrivateKey(key).toString())
  })

  it("makes a fresh ephemeral key when no file is given", async () => {
    const a = await Effect.runPromise(loadIdentity(undefined))
    const b = await Effect.runPromise(loadIdentity(undefined))
    expect(a.type).toBe("Ed25519")
    expect(peerIdFromPrivateKey(a).equals(peerIdFromPrivateKey(b))).toBe(false)
  })

  it("names the file when it is missing or not a key", async () => {
    const missing = await Effect.runPromise(Effect.flip(loadIdentity(join(dir, "absent.pb"))))
    expect(missing.message).toContain("absent.pb")
    expect(missing.message).toContain("BEEMESH_IDENTITY_KEY_FILE")
    const garbage = join(dir, "garbage.pb")
    await writeFile(garbage, "not a key")
    const bad = await Effect.runPromise(Effect.flip(loadIdentity(garbage)))
    expect(bad._tag).toBe("IdentityKeyUnusable")
  })
})

describe("SidecarNode", () => {
  it("listens, announces the advertised address and stops with its scope", async () => {
    const node = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const n = yield* SidecarNode.make({
            listenHost: "127.0.0.1",
            listenPort: 0,
            announce: ["/ip4/127.0.0.1/tcp/40123"],
            identityKeyFile: undefined,
          })
          expect(n.node.status).toBe("started")
          expect(n.node.getMultiaddrs().map(String)).toEqual([
            `/ip4/127.0.0.1/tcp/40123/p2p/${n.peerId}`,
          ])
          expect(n.advertise).toEqual(["/ip4/127.0.0.1/tcp/40123"])
          return n.node
        }),
      ),
    )
    expect(node.status).toBe("stopped")
  })

  it("listens on its same-host socket, registers it after the published address, removes it when stopped", async () => {
    const sockets = await mkdtemp(join(tmpdir(), "sidecar-samehost-"))
    const prefix = SameHostSockets.socketPrefix("shop", "web-0")
    // A predecessor's socket of this pod (removed), another pod's (kept).
    await writeFile(join(sockets, `${prefix}.12D3KooWstale`), "")
    await writeFile(join(sockets, "0123456789ab.12D3KooWother"), "")
    const socket = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const n = yield* SidecarNode.make({
            listenHost: "127.0.0.1",
            listenPort: 0,
            announce: ["/ip4/127.0.0.1/tcp/40123"],
            identityKeyFile: undefined,
            sameHost: { directory: sockets, namespace: "shop", pod: "web-0" },
          })
          const path = join(sockets, `${prefix}.${n.peerId}`)
          expect(n.sameHostSocket).toBe(path)
          expect(n.advertise).toEqual([
            "/ip4/127.0.0.1/tcp/40123",
            SameHost.unixAddress(path).toString(),
          ])
          // Not announced to peers (identify): only the published address.
          expect(n.node.getMultiaddrs().map(String)).toEqual([
            `/ip4/127.0.0.1/tcp/40123/p2p/${n.peerId}`,
          ])
          expect((yield* Effect.promise(() => lstat(path))).isSocket()).toBe(true)
          expect((yield* Effect.promise(() => readdir(sockets))).sort()).toEqual(
            ["0123456789ab.12D3KooWother", `${prefix}.${n.peerId}`].sort(),
          )
          return path
        }),
      ),
    )
    expect(await readdir(sockets)).toEqual(["0123456789ab.12D3KooWother"])
    expect(socket.startsWith(sockets)).toBe(true)
    await rm(sockets, { recursive: true, force: true })
  })

  it("fails with a named error when the port is taken", async () => {
    const error = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const first = yield* SidecarNode.make({
            listenHost: "127.0.0.1",
            listenPort: 0,
            announce: [],
            identityKeyFile: undefined,
          })
          const port = Number(first.node.getMultiaddrs()[0]!.toString().split("/")[4])
          return yield* Effect.flip(
            SidecarNode.make({
              listenHost: "127.0.0.1",
              listenPort: port,
              announce: [],
              identityKeyFile: undefined,
            }),
          )
        }),
      ),
    )
    expect(error._tag).toBe("NodeStartFailed")
  })
})

describe("SidecarNode with the mesh key", () => {
  it("a member with the key connects; a fresh identity without it does not, and is not stored", async () => {
    const meshKey = generateMeshKey()
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const sidecar = yield* SidecarNode.make({
            listenHost: "127.0.0.1",
            listenPort: 0,
            announce: [],
            identityKeyFile: undefined,
            meshKey,
          })
          const address = sidecar.node.getMultiaddrs()[0]!
          const member = yield* makeP2pNode({ meshKey, dialTimeoutMs: 3_000 })
          yield* member.dial(address)
          const stranger = yield* makeP2pNode({ dialTimeoutMs: 3_000 })
          const refused = yield* Effect.flip(stranger.dial(address))
          expect(refused._tag).toBe("DialFailed")
          expect(sidecar.node.getConnections(stranger.peerId)).toEqual([])
          expect(yield* Effect.promise(() => sidecar.node.peerStore.has(stranger.peerId))).toBe(
            false,
          )
        }),
      ),
    )
  })
})
