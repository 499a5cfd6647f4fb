/**
 * `GET /ui` (and its script and stylesheet): the web dashboard, served from the agent itself (no
 * CDN, no framework). The page carries no data, so it is served without a token; everything it
 * shows comes from the operator API, which the page calls with the operator token it asks for.
 * A Content-Security-Policy limits it to this origin.
 */
import { Hono } from "hono"
import { DASHBOARD_HTML } from "../ui/DashboardPage"
import { DASHBOARD_JS } from "../ui/DashboardScript"
import { DASHBOARD_CSS } from "../ui/DashboardStyle"

const SECURITY = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
}

const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#2b6cb0"/></svg>'

export const dashboardRoutes = () =>
  new Hono()
    .get("/", (c) =>
      c.body(DASHBOARD_HTML, 200, { ...SECURITY, "content-type": "text/html; charset=utf-8" }),
    )
    .get("/app.js", (c) =>
      c.body(DASHBOARD_JS, 200, { ...SECURITY, "content-type": "text/javascript; charset=utf-8" }),
    )
    .get("/favicon.svg", (c) =>
      c.body(FAVICON_SVG, 200, { ...SECURITY, "content-type": "image/svg+xml" }),
    )
    .get("/style.css", (c) =>
      c.body(DASHBOARD_CSS, 200, { ...SECURITY, "content-type": "text/css; charset=utf-8" }),
    )
