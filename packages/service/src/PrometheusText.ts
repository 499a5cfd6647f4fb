/**
 * The Prometheus text exposition format (version 0.0.4): metric families with HELP and TYPE
 * lines, label values escaped.
 */

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

export type Labels = Readonly<Record<string, string>>

export interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge"
  readonly samples: ReadonlyArray<readonly [labels: Labels, value: number]>
}

// Backslash, double quote and newline are the three characters the format escapes in values.
const escapeValue = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")

const renderLabels = (labels: Labels): string => {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ""
  return `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(",")}}`
}

const renderFamily = (f: Family): string =>
  [
    `# HELP ${f.name} ${f.help}`,
    `# TYPE ${f.name} ${f.type}`,
    ...f.samples.map(([labels, value]) => `${f.name}${renderLabels(labels)} ${value}`),
  ].join("\n")

/** The families as one exposition, ending with a newline. */
export const renderFamilies = (families: ReadonlyArray<Family>): string =>
  `${families.map(renderFamily).join("\n")}\n`
