/**
 * The Prometheus text exposition format (version 0.0.4): metric families with HELP and TYPE
 * lines, label values escaped; counters, gauges and histograms.
 */

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

export type Labels = Readonly<Record<string, string>>

export interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge"
  readonly samples: ReadonlyArray<readonly [labels: Labels, value: number]>
}

/** One labelled histogram: counts per bucket (not cumulative; the last one is +Inf). */
export interface HistogramSeries {
  readonly labels: Labels
  readonly buckets: ReadonlyArray<number>
  readonly sum: number
}

/** A histogram family; every series has one count per bound plus one for +Inf. */
export interface HistogramFamily {
  readonly name: string
  readonly help: string
  readonly type: "histogram"
  /** Upper bounds of the buckets, increasing. */
  readonly bounds: ReadonlyArray<number>
  readonly series: ReadonlyArray<HistogramSeries>
}

// Backslash, double quote and newline are the three characters the format escapes in values.
const escapeValue = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")

const renderLabels = (labels: Labels): string => {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ""
  return `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(",")}}`
}

const histogramLines = (f: HistogramFamily, s: HistogramSeries): ReadonlyArray<string> => {
  let cumulative = 0
  const buckets = s.buckets.map((count, i) => {
    cumulative += count
    const le = i < f.bounds.length ? String(f.bounds[i]) : "+Inf"
    return `${f.name}_bucket${renderLabels({ ...s.labels, le })} ${cumulative}`
  })
  return [
    ...buckets,
    `${f.name}_sum${renderLabels(s.labels)} ${s.sum}`,
    `${f.name}_count${renderLabels(s.labels)} ${cumulative}`,
  ]
}

const renderFamily = (f: Family | HistogramFamily): string =>
  [
    `# HELP ${f.name} ${f.help}`,
    `# TYPE ${f.name} ${f.type}`,
    ...(f.type === "histogram"
      ? f.series.flatMap((s) => histogramLines(f, s))
      : f.samples.map(([labels, value]) => `${f.name}${renderLabels(labels)} ${value}`)),
  ].join("\n")

/** The families as one exposition, ending with a newline. */
export const renderFamilies = (families: ReadonlyArray<Family | HistogramFamily>): string =>
  `${families.map(renderFamily).join("\n")}\n`
