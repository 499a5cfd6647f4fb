/** The dashboard's stylesheet. */
export const DASHBOARD_CSS = `
[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
#status.error { color: #ff9c9c; }
main, form { padding: 1rem 1.2rem; display: grid; gap: 1rem; }
section { background: #fff; border-radius: 6px; padding: .8rem 1rem; box-shadow: 0 1px 2px #0002; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
.hint { color: #667; margin: 0 0 .5rem; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .6rem .25rem 0; border-bottom: 1px solid #e4e6eb; vertical-align: top; }
th { font-weight: 600; color: #556; }
.replica { display: inline-block; margin: 0 .3rem .2rem 0; padding: 0 .4rem; border-radius: 3px; background: #e4e6eb; font-size: .85rem; }
.replica.Running { background: #cdeccf; }
.replica.Failed, .replica.Backoff { background: #f6c9c9; }
#traffic { width: 100%; max-width: 900px; height: auto; background: #fbfbfd; }
#traffic .node circle { fill: #2b6cb0; }
#traffic .node text { fill: #fff; font-size: 11px; text-anchor: middle; dominant-baseline: middle; }
#traffic .edge line { stroke: #8a94a6; stroke-width: 2; }
#traffic .edge.active line { stroke: #dd6b20; stroke-width: 3; stroke-dasharray: 8 4; animation: flow 1s linear infinite; }
#traffic .edge text { font-size: 11px; fill: #1d2330; }
#traffic .empty { font-size: 13px; fill: #667; text-anchor: middle; }
@keyframes flow { to { stroke-dashoffset: -12; } }
`
