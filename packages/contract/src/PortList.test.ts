import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { format, PortList, parse, parsePort } from "./PortList.js"

const refusal = (raw: string) => {
  const r = parse(raw)
  if (Result.isSuccess(r)) throw new Error(`expected "${raw}" to be refused`)
  return r.failure
}

describe("PortList", () => {
  it("parses name=port entries, ignoring blanks, and formats them back", () => {
    const r = parse(" orders = 80 , admin=9090")
    expect(r).toEqual(
      Result.succeed([
        { name: "orders", port: 80 },
        { name: "admin", port: 9090 },
      ]),
    )
    if (Result.isSuccess(r)) expect(format(r.success)).toBe("orders=80,admin=9090")
    expect(parse("")).toEqual(Result.succeed([]))
    expect(parse("   ")).toEqual(Result.succeed([]))
    expect(format([])).toBe("")
  })

  it("lets two services share one port", () => {
    expect(Result.isSuccess(parse("a=80,b=80"))).toBe(true)
  })

  it.each([
    ["an entry without '='", "orders", "entry", `entry "orders" has no '='`],
    ["an empty entry", "orders=80,", "entry", `entry "" has no '='`],
    [
      "a non-numeric port",
      "orders=http",
      "port",
      `entry "orders=http": "http" is not a port number`,
    ],
    ["a second '='", "orders=80=1", "port", `"80=1" is not a port number`],
    ["port 0", "orders=0", "port", "port 0 is outside 1-65535"],
    ["a port above 65535", "orders=70000", "port", "port 70000 is outside 1-65535"],
    [
      "an upper-case name",
      "Orders=80",
      "name",
      `"Orders" is not a valid service name: it is not a DNS-1123 label`,
    ],
    ["a name with a slash", "other/stock=9001", "name", "not a DNS-1123 label"],
    ["an empty name", "=80", "name", `"" is not a valid service name: it is empty`],
    ["a name twice", "a=9001,a=9002", "duplicate", `service "a" appears twice`],
  ])("refuses %s, saying why", (_, raw, kind, reason) => {
    const problem = refusal(raw)
    expect(problem.kind).toBe(kind)
    expect(problem.reason).toContain(reason)
  })

  it("reads ports in decimal digits only", () => {
    expect(parsePort(" 8080 ")).toEqual(Result.succeed(8080))
    for (const bad of ["0x50", "1e2", "-1", "", "80.0"])
      expect(Result.isFailure(parsePort(bad)), bad).toBe(true)
  })

  it("as a Schema, decodes and encodes with the same rules", () => {
    const decode = Schema.decodeUnknownSync(PortList)
    const encode = Schema.encodeSync(PortList)
    expect(decode("web=80")).toEqual([{ name: "web", port: 80 }])
    expect(
      encode([
        { name: "web", port: 80 },
        { name: "db", port: 5432 },
      ]),
    ).toBe("web=80,db=5432")
    expect(() => decode("web=0")).toThrow(/outside 1-65535/)
    expect(() => encode([{ name: "Web", port: 80 }])).toThrow(/not a valid service name/)
  })
})
