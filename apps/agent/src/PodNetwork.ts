/**
 * The pods' network when the operator's `--slirp` leaves an option out: the seed's slirp4netns
 * options (`@beemesh/netns` defaults) and Podman's own port handler.
 */
import { defaultSlirpOptions, type SlirpOptions } from "@beemesh/netns"

/** Every pod's slirp4netns options when none are configured. */
export const defaultPodNetwork: SlirpOptions = defaultSlirpOptions
