import { Script } from "node:vm"
import { Hono } from "hono"
import { describe, expect, it } from "vitest"
import { dashboardRoutes } from "./DashboardRoutes"

const app = new Hono().route("/ui", dashboardRoutes())

describe("the dashboard's files", () => {
  it("serves the page, its script and stylesheet from this origin only (CSP), without a token", async () => {
    const page = await app.request("/ui")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'")
    const html = await page.text()
    expect(html).toContain('<script src="/ui/app.js">')
    expect(html).not.toMatch(/https?:\/\//)
    const script = await app.request("/ui/app.js")
    expect(script.headers.get("content-type")).toContain("text/javascript")
    const css = await app.request("/ui/style.css")
    expect(css.headers.get("content-type")).toContain("text/css")
  })

  it("the script is valid JavaScript that calls only the agent's own API", async () => {
    const source = await (await app.request("/ui/app.js")).text()
    expect(() => new Script(source)).not.toThrow()
    expect(source).not.toMatch(/https?:\/\//)
    for (const path of ["/v1/workloads", "/v1/services", "/v1/peers", "/v1/traffic"])
      expect(source).toContain(`"${path}"`)
  })
})
