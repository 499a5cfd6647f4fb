/** Kubernetes resource quantities of `resources.limits`, as the agent's numbers. */

const BINARY_SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  "": 1,
}

/** Kubernetes memory quantity ("128Mi", "1G", "1048576") → bytes. */
export const parseQuantity = (
  quantity: string | number | undefined,
  field: string,
  where: string,
): { readonly value: number | undefined } | string => {
  if (quantity === undefined) return { value: undefined }
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity))
  const factor = BINARY_SUFFIXES[match?.[2] ?? ""]
  if (match === null || factor === undefined) {
    return `${where}: resources.limits.${field} "${quantity}" is not a quantity like 128Mi or 1G`
  }
  const value = Math.round(Number(match[1]) * factor)
  if (value <= 0) return `${where}: resources.limits.${field} must be positive`
  return { value }
}

/** Kubernetes CPU quantity ("500m", "1.5", 2) → millicores. */
export const parseCpu = (
  quantity: string | number | undefined,
  where: string,
): { readonly value: number | undefined } | string => {
  if (quantity === undefined) return { value: undefined }
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity))
  if (match === null)
    return `${where}: resources.limits.cpu "${quantity}" is not a quantity like 500m or 1.5`
  const value = match[2] === "m" ? Number(match[1]) : Math.round(Number(match[1]) * 1000)
  if (value <= 0) return `${where}: resources.limits.cpu must be positive`
  return { value }
}
