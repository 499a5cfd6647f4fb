import { describe, expect, it } from "vitest"
import { parseLimitsForTest } from "./limits.js"
import { demultiplex, listeningPortsOf, makeDemultiplexer } from "./multiplex.js"

const frame = (kind: number, text: string) => {
  const payload = Buffer.from(text)
  const header = Buffer.alloc(8)
  header[0] = kind
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

describe("internal helpers", () => {
  it("splits Podman's multiplexed output into stdout and stderr", () => {
    const data = Buffer.concat([frame(1, "out1 "), frame(2, "err"), frame(1, "out2")])
    expect(demultiplex(data)).toEqual({ stdout: "out1 out2", stderr: "err" })
    expect(demultiplex(Buffer.alloc(0))).toEqual({ stdout: "", stderr: "" })
  })

  it("a followed log stream split across reads yields each frame once, whole", () => {
    const data = Buffer.concat([frame(1, "line one\n"), frame(2, "oops\n"), frame(1, "two\n")])
    const push = makeDemultiplexer()
    const chunks = [data.subarray(0, 5), data.subarray(5, 20), data.subarray(20)].flatMap(push)
    expect(chunks).toEqual([
      { stream: "stdout", text: "line one\n" },
      { stream: "stderr", text: "oops\n" },
      { stream: "stdout", text: "two\n" },
    ])
  })

  it("reads listening ports from /proc/net/tcp tables", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1337        0 1",
      "   1: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2",
      "   2: 0100007F:2328 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 3",
    ].join("\n")
    expect(listeningPortsOf(table)).toEqual([8080, 9000])
  })

  it("parses hard limits from /proc/self/limits", () => {
    const limits = [
      "Limit                     Soft Limit           Hard Limit           Units",
      "Max processes             32768                96364                processes",
      "Max open files            1024                 20000                files",
      "Max locked memory         unlimited            unlimited            bytes",
    ].join("\n")
    expect(parseLimitsForTest(limits, "Max open files")).toBe(20000)
    expect(parseLimitsForTest(limits, "Max processes")).toBe(96364)
    expect(parseLimitsForTest(limits, "Max locked memory")).toBeUndefined()
  })
})
