import { DASHBOARD_SCRIPT } from './script.ts'

const STYLE = `
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--card:#f9fafb}
*{box-sizing:border-box}body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;color:var(--fg);margin:0;padding:16px 24px;background:#fff}
header{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;border-bottom:1px solid var(--line);padding-bottom:8px}
h1{font-size:20px;margin:0}h2{font-size:15px;margin:20px 0 8px}
code,#peer-id{font-family:ui-monospace,Menlo,monospace;font-size:12px}
#status{margin-left:auto;font-size:12px;padding:2px 8px;border-radius:10px;background:#e5e7eb}
#status.live{background:#dcfce7;color:#166534}#status.down{background:#fee2e2;color:#991b1b}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-top:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.card b{display:block;font-size:20px}.card span{color:var(--muted);font-size:12px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
svg{width:100%;height:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
svg .grid{stroke:#e5e7eb}svg .axis{font-size:10px;fill:#6b7280}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--muted);font-weight:600}td.addr{max-width:320px;overflow:hidden;text-overflow:ellipsis}
td.empty{color:var(--muted);font-style:italic}td.success{color:#166534}td.error{color:#991b1b}
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
#bucket-fill{display:flex;flex-wrap:wrap;gap:6px;font-size:12px;color:var(--muted)}
.bucket{background:#eef2ff;color:#3730a3;border-radius:6px;padding:2px 8px}
`

function table(id: string, columns: string[]): string {
  return `<table id="${id}"><thead><tr>${columns.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody></tbody></table>`
}

/**
 * The dashboard page: self-contained HTML with its style and script inline (the script
 * runs under a per-response CSP nonce), live through polling the `kit/*` commands.
 */
export function dashboardPage(nonce: string, pollMs: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>ipfs-kit dashboard</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body data-poll-ms="${pollMs}">
<header><h1>ipfs-kit</h1><span id="peer-id">…</span><span id="role"></span><span id="reachability" title="whether peers can dial this node (AutoNAT)"></span><span id="version"></span><span id="status">connecting…</span></header>
<section class="cards">
<div class="card"><b id="m-peers">–</b><span>connected peers</span></div>
<div class="card"><b id="m-table">–</b><span>peers in k-buckets</span></div>
<div class="card"><b id="m-backoff">–</b><span>peers in backoff</span></div>
<div class="card"><b id="m-hit">–</b><span>cache hit ratio</span></div>
<div class="card"><b id="m-retrievals">–</b><span>recent retrievals</span></div>
<div class="card"><b id="m-bw">–</b><span>block bytes</span></div>
</section>
<div class="grid2">
<section><h2>Cache hit ratio</h2><div class="legend"><span><i style="background:#2563eb"></i>all</span><span><i style="background:#16a34a"></i>memory</span><span><i style="background:#d97706"></i>disk</span></div>
<svg id="plot-hit-ratio" role="img" aria-label="cache hit ratio over time"></svg></section>
<section><h2>Retrieval latency</h2><div class="legend"><span><i style="background:#7c3aed"></i>each retrieval</span><span><i style="background:#db2777"></i>median per second</span></div>
<svg id="plot-latency" role="img" aria-label="retrieval latency over time"></svg></section>
</div>
<h2>Peers and their k-bucket</h2>
${table('peers', ['Peer', 'Bucket', 'In table', 'Direction', 'Score', 'Address'])}
<h2>k-bucket view</h2><div id="bucket-fill"></div>
<h2>Provider reputation</h2>
${table('reputation', ['Peer', 'Score', 'Success rate', 'Latency', 'p95', 'Throughput', 'Outcomes', 'Backoff'])}
<h2>Recent retrievals</h2>
${table('retrievals', ['Time', 'Kind', 'Path', 'Bytes', 'Duration', 'Blocks mem / disk / local / peers', 'Outcome'])}
<script nonce="${nonce}">${DASHBOARD_SCRIPT}</script>
</body></html>`
}

/** The Content-Security-Policy of the page: only its own inline script (by nonce) and style, and fetches to this server. */
export function dashboardCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
}
