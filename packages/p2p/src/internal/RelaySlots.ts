/**
 * Keeps a node's slots at its configured relays. libp2p takes the slot at a configured relay
 * once, when it starts listening, and drops it for good when the connection it was made on
 * closes (the relay restarted, the path was cut): from then on the node would be unreachable
 * until restarted. This checks each slot every few seconds and takes it again, by listening on
 * the relay's circuit address once more.
 *
 * libp2p's interface has no way to ask for a slot or listen at run time; both are on its
 * implementation (`components.transportManager`, the circuit transport's `reservationStore`),
 * reached here by shape and checked, so that a libp2p without them fails at start, loudly.
 */
import type { Libp2p, PeerId } from "@libp2p/interface"
import { peerIdFromString } from "@libp2p/peer-id"
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr"
import { Duration, Effect } from "effect"

interface SlotStore {
  readonly hasReservation: (peerId: PeerId) => boolean
}
interface TransportManagerShape {
  readonly getTransports: () => ReadonlyArray<unknown>
  readonly listen: (addrs: Array<Multiaddr>) => Promise<void>
}

/** How a node's slots are seen and taken, or why they cannot be. */
export const slotControls = (
  node: Libp2p,
): { readonly store: SlotStore; readonly manager: TransportManagerShape } | string => {
  const manager = (node as unknown as { components?: { transportManager?: TransportManagerShape } })
    .components?.transportManager
  if (manager === undefined || typeof manager.listen !== "function")
    return "this libp2p has no components.transportManager.listen"
  const transport = manager
    .getTransports()
    .find(
      (t) =>
        typeof (t as { reservationStore?: Partial<SlotStore> }).reservationStore?.hasReservation ===
        "function",
    ) as { reservationStore: SlotStore } | undefined
  if (transport === undefined) return "this libp2p has no circuit relay transport with slots"
  return { store: transport.reservationStore, manager }
}

/**
 * Checks every `everyMs` that the node holds a slot at each relay; takes a lost one again within
 * `timeoutMs`. Runs until its scope closes.
 */
export const keepRelaySlots = (
  node: Libp2p,
  relays: ReadonlyArray<string>,
  everyMs: number,
  timeoutMs: number,
) =>
  Effect.gen(function* () {
    const controls = slotControls(node)
    if (typeof controls === "string") return yield* Effect.die(new Error(controls))
    const slots = relays.map((relay) => ({
      relay,
      peer: peerIdFromString(multiaddr(relay).getComponents().at(-1)?.value ?? ""),
      listen: multiaddr(`${relay}/p2p-circuit`),
    }))
    const check = Effect.forEach(
      slots,
      (slot) =>
        controls.store.hasReservation(slot.peer)
          ? Effect.void
          : Effect.logWarning(`lost the slot at relay ${slot.relay}; taking a new one`).pipe(
              Effect.andThen(
                Effect.tryPromise({
                  try: () => controls.manager.listen([slot.listen]),
                  catch: (cause) => cause,
                }).pipe(Effect.timeout(Duration.millis(timeoutMs))),
              ),
              Effect.andThen(Effect.logInfo(`holding a slot at relay ${slot.relay} again`)),
              Effect.catch((cause) =>
                Effect.logWarning(
                  `relay ${slot.relay} still unreachable, trying again in ${everyMs} ms: ${cause instanceof Error ? cause.message : String(cause)}`,
                ),
              ),
            ),
      { discard: true },
    )
    yield* check.pipe(Effect.delay(Duration.millis(everyMs)), Effect.forever, Effect.forkScoped)
  })
