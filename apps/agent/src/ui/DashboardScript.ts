/**
 * The dashboard's script, sent as written (plain browser JavaScript, no build step and no
 * framework). It polls the operator API every 2 s: /v1/workloads, /v1/services, /v1/peers and
 * /v1/traffic, and draws the caller→callee pairs of the traffic as an SVG graph whose edges carry
 * the bytes per second since the previous poll. Every text from the API is escaped.
 */
export const DASHBOARD_JS = `"use strict"
const KEY = "beemesh.operatorToken"
const REFRESH_MS = 2000
const $ = (id) => document.getElementById(id)
const esc = (v) =>
  String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c])
const token = () => sessionStorage.getItem(KEY)
let timer
let previous

// A token in the fragment (never sent to a server) is kept and removed from the address bar.
function takeFragmentToken() {
  const found = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (found === null) return false
  sessionStorage.setItem(KEY, decodeURIComponent(found[1]))
  history.replaceState(null, "", location.pathname + location.search)
  return true
}
takeFragmentToken()

async function api(path) {
  const response = await fetch(path, { headers: { authorization: "Bearer " + token() }, cache: "no-store" })
  if (response.status === 401 || response.status === 403) {
    const error = new Error("the agent refused the token")
    error.unauthorized = true
    throw error
  }
  if (!response.ok) throw new Error(path + " answered " + response.status)
  return response.json()
}

function showLogin(message) {
  clearTimeout(timer)
  $("login").hidden = false
  $("main").hidden = true
  $("login-message").textContent = message
}

function table(id, header, rows) {
  $(id).innerHTML =
    "<tr>" + header.map((h) => "<th>" + esc(h) + "</th>").join("") + "</tr>" +
    (rows.length === 0
      ? '<tr><td colspan="' + header.length + '">none</td></tr>'
      : rows.map((r) => "<tr>" + r.map((cell) => "<td>" + cell + "</td>").join("") + "</tr>").join(""))
}

function renderWorkloads(workloads) {
  table("workloads", ["Namespace", "Workload", "Kind", "Ready", "Replicas"],
    workloads.map((w) => [
      esc(w.namespace),
      esc(w.name),
      esc(w.kind),
      esc(w.ready + "/" + w.replicas),
      w.pods.map((p) =>
        '<span class="replica ' + esc(p.phase) + '" title="' + esc(p.message || p.pod) + '">' +
        esc(p.name) + " " + esc(p.phase) + (p.restarts > 0 ? " ↻" + esc(p.restarts) : "") + "</span>").join(""),
    ]))
}

function renderServices(services) {
  table("services", ["Namespace", "Service", "Offered by", "Providers"],
    services.map((s) => [
      esc(s.namespace),
      esc(s.name),
      esc(s.offeredBy.map((o) => o.workload + ":" + o.port).join(", ")),
      s.error !== undefined ? esc("unknown: " + s.error)
        : esc(s.providers.length + " (" + s.providers.map((p) => p.pod).join(", ") + ")"),
    ]))
}

function renderPeers(peers) {
  $("peer-summary").textContent =
    "This agent: " + peers.peerId + " · DHT routing table: " + peers.dhtRoutingTableSize + " peers"
  table("peers", ["Peer", "Direction", "Address"],
    peers.connections.map((c) => [esc(c.peerId), esc(c.direction), esc(c.address)]))
}

function rate(bytesPerSecond) {
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"]
  let v = bytesPerSecond
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return (u === 0 ? Math.round(v) : v.toFixed(1)) + " " + units[u]
}

// Beside the edge's middle, on its left (normal nx, ny), anchored so it does not cross the line.
function labelText(x, y, nx, ny, label) {
  const anchor = nx > 0.3 ? "start" : nx < -0.3 ? "end" : "middle"
  return '<text x="' + (x + nx * 10) + '" y="' + (y + ny * 10 + 4) + '" text-anchor="' + anchor + '">' + esc(label) + "</text>"
}

function renderTraffic(view, workloads) {
  const now = Date.now()
  const edges = new Map()
  for (const s of view.series) {
    if (s.reporter !== "caller" || s.callee === "") continue
    const key = s.namespace + "/" + s.caller + "→" + s.namespace + "/" + s.callee
    const e = edges.get(key) || { namespace: s.namespace, from: s.caller, to: s.callee, services: new Set(), connections: 0, bytes: 0, errors: 0 }
    e.services.add(s.service)
    e.connections += s.connections
    e.bytes += s.bytesSent + s.bytesReceived
    e.errors += s.errors
    edges.set(key, e)
  }
  const nodes = new Map()
  const addNode = (namespace, name) => nodes.set(namespace + "/" + name, { namespace, name })
  for (const w of workloads) addNode(w.namespace, w.name)
  for (const e of edges.values()) { addNode(e.namespace, e.from); addNode(e.namespace, e.to) }
  const list = [...nodes.values()]
  const cx = 320, cy = 190, radius = list.length <= 1 ? 0 : 140
  list.forEach((n, i) => {
    const angle = (2 * Math.PI * i) / list.length - Math.PI / 2
    n.x = cx + radius * Math.cos(angle)
    n.y = cy + radius * Math.sin(angle)
  })
  const dt = previous === undefined ? 0 : (now - previous.at) / 1000
  let svg = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/></marker></defs>'
  for (const [key, e] of edges) {
    const a = nodes.get(e.namespace + "/" + e.from)
    const b = nodes.get(e.namespace + "/" + e.to)
    const before = previous === undefined ? undefined : previous.bytes.get(key)
    const perSecond = before === undefined || dt <= 0 ? 0 : Math.max(0, e.bytes - before) / dt
    const dx = b.x - a.x, dy = b.y - a.y
    const length = Math.hypot(dx, dy) || 1
    const x1 = a.x + (dx / length) * 30, y1 = a.y + (dy / length) * 30
    const x2 = b.x - (dx / length) * 32, y2 = b.y - (dy / length) * 32
    const label = [...e.services].join(",") + " · " + e.connections + " conns · " + rate(perSecond) +
      (e.errors > 0 ? " · " + e.errors + " errors" : "")
    svg += '<g class="edge' + (perSecond > 0 ? " active" : "") + '" data-from="' + esc(e.from) + '" data-to="' + esc(e.to) +
      '" data-connections="' + e.connections + '"><title>' + esc(e.from + " → " + e.to) + "</title>" +
      '<line x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 + '" marker-end="url(#arrow)"/>' +
      labelText((x1 + x2) / 2, (y1 + y2) / 2, -dy / length, dx / length, label) + "</g>"
  }
  for (const n of list) {
    svg += '<g class="node" data-workload="' + esc(n.name) + '"><title>' + esc(n.namespace + "/" + n.name) + "</title>" +
      '<circle cx="' + n.x + '" cy="' + n.y + '" r="28"/><text x="' + n.x + '" y="' + n.y + '">' + esc(n.name) + "</text></g>"
  }
  if (list.length === 0) svg += '<text class="empty" x="320" y="190">no workloads yet</text>'
  $("traffic").innerHTML = svg
  previous = { at: now, bytes: new Map([...edges].map(([k, e]) => [k, e.bytes])) }
}

async function refresh() {
  try {
    const [w, s, p, t] = await Promise.all([api("/v1/workloads"), api("/v1/services"), api("/v1/peers"), api("/v1/traffic")])
    renderWorkloads(w.workloads)
    renderServices(s.services)
    renderPeers(p)
    renderTraffic(t, w.workloads)
    $("status").textContent = "updated " + new Date().toLocaleTimeString()
    $("status").className = ""
  } catch (error) {
    if (error.unauthorized) {
      sessionStorage.removeItem(KEY)
      showLogin("The agent refused this token. Paste the operator token (DATA_DIR/operator-token).")
      return
    }
    $("status").textContent = "error: " + error.message
    $("status").className = "error"
  }
  timer = setTimeout(refresh, REFRESH_MS)
}

function start() {
  clearTimeout(timer)
  if (!token()) return showLogin("")
  $("login").hidden = true
  $("main").hidden = false
  refresh()
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault()
  sessionStorage.setItem(KEY, $("token").value.trim())
  $("token").value = ""
  start()
})
window.addEventListener("hashchange", () => {
  if (takeFragmentToken()) start()
})
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY)
  showLogin("")
})
start()
`
