/** How results are printed: aligned tables for people, JSON or YAML for programs (`-o`). */
import { stringify } from "yaml"

export type OutputFormat = "table" | "json" | "yaml"

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export const renderTable = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return `${[header, ...rows].map(line).join("\n")}\n`
}

export const renderData = (format: "json" | "yaml", value: unknown): string =>
  format === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value)

/** "3m", "2h", "5d": how long ago a millisecond timestamp was. */
export const age = (since: number, now: number): string => {
  const s = Math.max(0, Math.round((now - since) / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}
