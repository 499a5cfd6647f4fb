/**
 * The DNS-1123 label rule (RFC 1123 host name label, as Kubernetes uses it for names): 1-63
 * lower-case letters, digits or '-', starting and ending with a letter or digit. Namespaces,
 * workload, container and service names are labels on both sides of the agent↔sidecar contract,
 * and the registry puts them into DHT keys, where a label cannot contain `/`.
 */
import { Schema } from "effect"

export const MAX_LENGTH = 63

const PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** The rule in words, to complete "must be …". */
export const RULE =
  "a DNS-1123 label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit"

export const isDnsLabel = (value: string): boolean =>
  value.length > 0 && value.length <= MAX_LENGTH && PATTERN.test(value)

/**
 * Why `value` is not a label, worded to follow "… is" ("empty", "64 characters long; at most
 * 63", "not a DNS-1123 label (…)"), or undefined when it is one.
 */
export const problem = (value: string): string | undefined => {
  if (value.length === 0) return "empty"
  if (value.length > MAX_LENGTH) return `${value.length} characters long; at most ${MAX_LENGTH}`
  if (!PATTERN.test(value))
    return "not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)"
  return undefined
}

/** A string that is a DNS-1123 label; the failure says `must be a DNS-1123 label: …`. */
export const DnsLabel = Schema.String.check(
  Schema.makeFilter((value: string) => (isDnsLabel(value) ? undefined : `must be ${RULE}`)),
)
