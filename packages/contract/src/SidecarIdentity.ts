/**
 * Who the sidecar runs as. The pod's egress rules let only this UID open connections out of the
 * pod, so the agent must start the sidecar container as exactly this user, and the sidecar image's
 * `USER` must be the same.
 */
import { Brand } from "effect"

/** A numeric Unix user id. */
export type Uid = number & Brand.Brand<"Uid">

export const Uid = Brand.make<Uid>((n: number) =>
  Number.isInteger(n) && n >= 0 && n <= 4294967294
    ? undefined
    : `${n} is not a Unix user id (an integer 0-4294967294)`,
)

export const UID: Uid = Uid(1337)

/** The same id in Podman's `user` form (`uid`), for the container spec. */
export const podmanUser = (uid: Uid): string => String(uid)
