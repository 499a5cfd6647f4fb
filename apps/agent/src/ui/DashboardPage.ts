/**
 * The dashboard's page. It holds no data: the script reads the operator token (from the URL
 * fragment `#token=…`, which never reaches a server, or from a form), keeps it in sessionStorage
 * and calls the agent's JSON API with it.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Beemesh agent</title>
<link rel="stylesheet" href="/ui/style.css">
<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
</head>
<body>
<header>
  <h1>Beemesh agent</h1>
  <span id="status" role="status"></span>
  <button id="logout" type="button">Forget token</button>
</header>
<form id="login" hidden>
  <label for="token">Operator token</label>
  <input id="token" type="password" autocomplete="off" placeholder="contents of DATA_DIR/operator-token">
  <button type="submit">Open</button>
  <p id="login-message"></p>
</form>
<main id="main" hidden>
  <section>
    <h2>Live traffic</h2>
    <p class="hint">Caller → callee, as the calling pods' sidecars report it; refreshed every 2 s.</p>
    <svg id="traffic" viewBox="0 0 640 380" role="img" aria-label="traffic between workloads"></svg>
  </section>
  <section>
    <h2>Workloads</h2>
    <table id="workloads"></table>
  </section>
  <section>
    <h2>Services</h2>
    <table id="services"></table>
  </section>
  <section>
    <h2>Mesh peers</h2>
    <p id="peer-summary"></p>
    <table id="peers"></table>
  </section>
</main>
<script src="/ui/app.js"></script>
</body>
</html>
`
