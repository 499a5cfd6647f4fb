/**
 * Container image references checked against the reference grammar that Podman and Docker parse
 * (`[host[:port]/]path[:tag][@digest]`), so that a malformed one is refused with a 400 that says
 * what a valid one looks like instead of failing later inside Podman.
 */

export const IMAGE_EXAMPLE =
  "a valid reference looks like nginx, nginx:1.27, registry.example.com:5000/team/app:v2 or app@sha256:<64 hex digits>"

/** The longest name (host and path, without tag or digest) the grammar allows. */
const MAX_NAME = 255
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/
const IPV6_HOST = /^\[[0-9a-fA-F:]+\]$/
const PORT = /^[0-9]+$/
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/

const hostProblem = (host: string): string | undefined => {
  const colon = host.startsWith("[") ? host.indexOf("]:") + 1 : host.lastIndexOf(":")
  const name = colon > 0 ? host.slice(0, colon) : host
  const port = colon > 0 ? host.slice(colon + 1) : undefined
  if (port !== undefined && !PORT.test(port)) return `registry port "${port}" is not a number`
  if (IPV6_HOST.test(name)) return undefined
  const bad = name.split(".").find((component) => !DOMAIN_COMPONENT.test(component))
  return bad === undefined ? undefined : `registry host "${name}" is not a host name`
}

/** A reason `reference` is not an image reference, or undefined when it is one. */
export const imageReferenceProblem = (reference: string): string | undefined => {
  if (reference === "") return "is empty"
  if (/\s/.test(reference)) return "contains whitespace"
  const at = reference.indexOf("@")
  const digest = at >= 0 ? reference.slice(at + 1) : undefined
  const nameAndTag = at >= 0 ? reference.slice(0, at) : reference
  if (digest !== undefined && !DIGEST.test(digest)) {
    return "has a malformed digest (expected algorithm:hex, such as sha256: and 64 hex digits)"
  }
  const lastSlash = nameAndTag.lastIndexOf("/")
  const lastColon = nameAndTag.lastIndexOf(":")
  const hasTag = lastColon > lastSlash
  const name = hasTag ? nameAndTag.slice(0, lastColon) : nameAndTag
  const tag = hasTag ? nameAndTag.slice(lastColon + 1) : undefined
  if (tag !== undefined && !TAG.test(tag)) {
    return `has a malformed tag "${tag}" (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')`
  }
  if (name.length > MAX_NAME) return `has a name longer than ${MAX_NAME} characters`
  const components = name.split("/")
  const [first] = components
  // As Podman decides: the first part is a registry host when it looks like one.
  const hasHost =
    components.length > 1 &&
    first !== undefined &&
    (first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase())
  if (hasHost) {
    const problem = hostProblem(first)
    if (problem !== undefined) return problem
  }
  const path = hasHost ? components.slice(1) : components
  const badPart = path.find((component) => !PATH_COMPONENT.test(component))
  if (badPart === undefined) return undefined
  if (badPart === "") return "has an empty name component (two '/' in a row, or one at an end)"
  if (badPart !== badPart.toLowerCase()) return `has upper-case letters in "${badPart}"`
  return `has an invalid name component "${badPart}" (lower-case letters and digits, separated by '.', '_', '__' or '-')`
}
