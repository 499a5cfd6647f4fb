import { describe, expect, it } from "vitest"
import { renderFamilies } from "./PrometheusText.js"

describe("renderFamilies", () => {
  it("writes HELP, TYPE and one line per sample, ending with a newline", () => {
    expect(
      renderFamilies([
        { name: "a_total", help: "As.", type: "counter", samples: [[{}, 3]] },
        {
          name: "b",
          help: "Bs by kind.",
          type: "gauge",
          samples: [
            [{ kind: "x", side: "l" }, 1],
            [{ kind: "y", side: "r" }, 2],
          ],
        },
      ]),
    ).toBe(
      [
        "# HELP a_total As.",
        "# TYPE a_total counter",
        "a_total 3",
        "# HELP b Bs by kind.",
        "# TYPE b gauge",
        'b{kind="x",side="l"} 1',
        'b{kind="y",side="r"} 2',
        "",
      ].join("\n"),
    )
  })

  it("keeps a family without samples as its HELP and TYPE lines", () => {
    expect(renderFamilies([{ name: "c", help: "Cs.", type: "gauge", samples: [] }])).toBe(
      "# HELP c Cs.\n# TYPE c gauge\n",
    )
  })

  it("escapes backslashes, quotes and newlines in label values", () => {
    const text = renderFamilies([
      { name: "d", help: "Ds.", type: "gauge", samples: [[{ v: 'a\\b"c\nd' }, 1]] },
    ])
    expect(text).toContain('d{v="a\\\\b\\"c\\nd"} 1')
  })

  it("writes a histogram as cumulative _bucket lines with le, then _sum and _count", () => {
    expect(
      renderFamilies([
        {
          name: "h_seconds",
          help: "Hs.",
          type: "histogram",
          bounds: [0.1, 1],
          series: [{ labels: { s: "a" }, buckets: [2, 0, 1], sum: 5.5 }],
        },
      ]),
    ).toBe(
      [
        "# HELP h_seconds Hs.",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{s="a",le="0.1"} 2',
        'h_seconds_bucket{s="a",le="1"} 2',
        'h_seconds_bucket{s="a",le="+Inf"} 3',
        'h_seconds_sum{s="a"} 5.5',
        'h_seconds_count{s="a"} 3',
        "",
      ].join("\n"),
    )
  })
})
