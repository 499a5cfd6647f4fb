/** The limits and fixed addresses of slirp4netns 1.2 that the options are checked against. */

/** Largest MTU slirp4netns 1.2 accepts ("MTU must be a positive integer (< 65522)"). */
export const MTU_MAX = 65521
/** Smallest IPv4 MTU Linux and libslirp accept. */
export const MTU_MIN = 68
/** IPv6 needs links of at least 1280 bytes (RFC 8200 §5). */
export const MTU_MIN_IPV6 = 1280
/** slirp4netns refuses longer prefixes: the guest sits at host number 100 of the network. */
export const PREFIX_MAX = 25
/** Host numbers slirp4netns gives fixed roles inside the CIDR. */
export const GATEWAY_HOST = 2
export const DNS_HOST = 3
export const GUEST_HOST = 100
/** slirp4netns 1.2 has a fixed IPv6 network (no option changes it). */
export const IPV6_PREFIX = "fd00::/64"
export const IPV6_GATEWAY = "fd00::2"
export const IPV6_DNS = "fd00::3"

export const PORT_HANDLERS = ["rootlesskit", "slirp4netns"] as const
