/** Port forwards from the host into the namespace, through slirp4netns' API socket. */
import { Data, Effect } from "effect"
import { slirpApiCall } from "../internal/slirpApi.js"

/** A request on the API socket failed or was refused. */
export class SlirpApiFailed extends Data.TaggedError("SlirpApiFailed")<{
  readonly socket: string
  readonly request: string
  readonly reason: string
}> {
  override get message() {
    return `slirp4netns API ${this.socket}: ${this.request} failed: ${this.reason}`
  }
}

export interface HostForwardSpec {
  readonly proto?: "tcp" | "udp"
  /** Host address to listen on (default 127.0.0.1: nothing is exposed beyond the host). */
  readonly hostAddr?: string
  /** Host port; 0 is refused by slirp4netns, pick a free one. */
  readonly hostPort: number
  /** Guest address (default: the guest, CIDR .100). */
  readonly guestAddr?: string
  readonly guestPort: number
}

export interface HostForward {
  readonly id: number
  readonly proto: string
  readonly hostAddr: string
  readonly hostPort: number
  readonly guestAddr: string
  readonly guestPort: number
}

const API_TIMEOUT_MS = 5000

interface RawForward {
  readonly id: number
  readonly proto: string
  readonly host_addr: string
  readonly host_port: number
  readonly guest_addr: string
  readonly guest_port: number
}

const fromRaw = (raw: RawForward): HostForward => ({
  id: raw.id,
  proto: raw.proto,
  hostAddr: raw.host_addr,
  hostPort: raw.host_port,
  guestAddr: raw.guest_addr,
  guestPort: raw.guest_port,
})

export const makeForwardsApi = (apiSocket: string, guest: string) => {
  const call = (request: { readonly execute: string; readonly arguments?: object }) =>
    slirpApiCall(apiSocket, request, API_TIMEOUT_MS).pipe(
      Effect.flatMap((response) => {
        const r = response as { error?: { desc?: string } }
        return r.error === undefined
          ? Effect.succeed(response)
          : Effect.fail(r.error.desc ?? JSON.stringify(r.error))
      }),
      Effect.mapError(
        (reason) =>
          new SlirpApiFailed({ socket: apiSocket, request: JSON.stringify(request), reason }),
      ),
    )

  const listHostForwards = Effect.fn("Slirp.listHostForwards")(function* () {
    const response = (yield* call({ execute: "list_hostfwd" })) as {
      entries?: ReadonlyArray<RawForward>
      return?: { entries?: ReadonlyArray<RawForward> }
    }
    return (response.entries ?? response.return?.entries ?? []).map(fromRaw)
  })

  const addHostForward = Effect.fn("Slirp.addHostForward")(function* (spec: HostForwardSpec) {
    const args = {
      proto: spec.proto ?? "tcp",
      host_addr: spec.hostAddr ?? "127.0.0.1",
      host_port: spec.hostPort,
      guest_addr: spec.guestAddr ?? guest,
      guest_port: spec.guestPort,
    }
    const response = (yield* call({ execute: "add_hostfwd", arguments: args })) as {
      return?: { id?: number }
    }
    const id = response.return?.id
    if (typeof id !== "number") {
      return yield* new SlirpApiFailed({
        socket: apiSocket,
        request: "add_hostfwd",
        reason: `unexpected answer ${JSON.stringify(response)}`,
      })
    }
    return {
      id,
      proto: args.proto,
      hostAddr: args.host_addr,
      hostPort: args.host_port,
      guestAddr: args.guest_addr,
      guestPort: args.guest_port,
    } satisfies HostForward
  })

  const removeHostForward = Effect.fn("Slirp.removeHostForward")(function* (id: number) {
    yield* call({ execute: "remove_hostfwd", arguments: { id } })
  })

  const hostForward = (spec: HostForwardSpec) =>
    Effect.acquireRelease(addHostForward(spec), (forward) =>
      removeHostForward(forward.id).pipe(Effect.ignore),
    )

  return { listHostForwards, addHostForward, removeHostForward, hostForward }
}
