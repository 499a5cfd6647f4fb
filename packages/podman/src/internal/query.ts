/** Paths and query strings of the libpod API. */

/** libpod API prefix; v4.0.0 is the oldest 4.x API and what Podman 4.3 serves. */
export const API_PREFIX = "/v4.0.0/libpod"

export const qs = (params: Record<string, string | number | boolean | undefined>) => {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
  return parts.length === 0 ? "" : `?${parts.join("&")}`
}

export const labelFilters = (labels: Readonly<Record<string, string>> | undefined) =>
  Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`)

export const seg = (name: string) => encodeURIComponent(name)
