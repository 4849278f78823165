#pragma once
/// \file
/// The server's status page (GET /): one self-contained HTML document with its style and script inline,
/// nothing fetched from elsewhere. Every two seconds it reads /status.json and redraws
///
///   a header: ready or draining, library version, uptime, requests in flight, waiting for a worker and
///   refused by the HTTP layer's limits;
///   totals: requests answered, request rate, loaded versions, cache hit rate over all models;
///   a table, one row per loaded model version: the model (with every version of the registry and its
///   aliases), the version (with the aliases that point to it, its kind and scalar type), requests,
///   request rate and its recent history, errors, latency p50/p99, cache hit rate, mean batch size of
///   that version, input drift.
///
/// The rate of a row is the difference of two successive request counts over the time between them; the
/// history keeps the latest 30 rates (a minute). Every number cell carries data-field="<name>" and
/// every row data-model/data-version, so a browser test reads the page as a user sees it.

#include <string_view>

namespace aimastery {

inline constexpr std::string_view status_page_html = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aimastery serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--accent:#2f6fde;--ok:#12805c;--bad:#c0362c}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:baseline;gap:1em;padding:14px 24px;background:#fff;border-bottom:1px solid var(--line)}
header h1{font-size:20px;margin:0}
#state{font-weight:600;padding:2px 10px;border-radius:10px;color:#fff;background:var(--muted)}
#state.ok{background:var(--ok)}#state.bad{background:var(--bad)}
#summary{color:var(--muted)}
main{padding:16px 24px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:150px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;margin-top:16px;background:#fff;border:1px solid var(--line);border-radius:8px;width:100%}
th,td{padding:8px 10px;text-align:right;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:last-child td{border-bottom:none}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;background:#fafbfc}
td.l,th.l{text-align:left}
.name{font-weight:600}.sub{color:var(--muted);font-size:12px;white-space:normal}
.badge{display:inline-block;font-size:11px;padding:0 6px;margin-left:4px;border-radius:8px;background:#e8effc;color:var(--accent)}
.bar{display:inline-block;width:48px;height:6px;margin-left:6px;background:var(--line);border-radius:3px;vertical-align:middle}
.bar i{display:block;height:6px;border-radius:3px;background:var(--accent)}
.drift{color:var(--bad);font-weight:600}
canvas{vertical-align:middle}
footer{color:var(--muted);font-size:12px;padding:0 24px 16px}
</style></head>
<body>
<header><h1>aimastery serve</h1><span id="state">loading</span><span id="summary"></span></header>
<main>
<div class="cards">
<div class="card"><div class="label">requests</div><div class="value" id="total-requests">-</div></div>
<div class="card"><div class="label">requests / s</div><div class="value" id="total-rate">-</div></div>
<div class="card"><div class="label">cache hit rate</div><div class="value" id="total-hit-rate">-</div></div>
<div class="card"><div class="label">loaded versions</div><div class="value" id="total-versions">-</div></div>
</div>
<table id="models"><thead><tr>
<th class="l">model</th><th class="l">version</th><th>requests</th><th>req/s</th>
<th class="l">last minute</th><th>errors</th><th>p50 ms</th><th>p99 ms</th><th>cache hits</th>
<th>mean batch</th><th>drift</th>
</tr></thead><tbody></tbody></table>
</main>
<footer>Every 2 s from <a href="status.json">status.json</a>; Prometheus metrics at <a href="metrics">/metrics</a>;
latency percentiles over the latest requests, drift: share of input features whose latest values differ from
the first ones (Kolmogorov&ndash;Smirnov).</footer>
<script>
"use strict";
let previous = null;
const history = {};
function fmt(x, digits) { return (x === null || x === undefined || Number.isNaN(x)) ? "-" : Number(x).toFixed(digits); }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
function cell(row, field, text, left) { const td = el("td", left ? "l" : "", text); if (field) td.dataset.field = field; row.appendChild(td); return td; }
function bar(td, share) { const b = el("span", "bar"), i = el("i"); i.style.width = Math.round(100 * Math.min(1, Math.max(0, share))) + "%"; b.appendChild(i); td.appendChild(b); }
function sparkline(values) {
  // The latest 30 rates (a minute), newest on the right, scaled to the largest; a baseline marks 0.
  const c = el("canvas"); c.width = 120; c.height = 24; const g = c.getContext("2d");
  const max = Math.max(1e-9, ...values), x = k => 120 - 4 * (values.length - 1 - k), y = v => 22 - 20 * v / max;
  g.fillStyle = "#e4e7ec"; g.fillRect(0, 22, 120, 1);
  if (values.length > 1) {
    g.beginPath(); g.moveTo(x(0), 22); values.forEach((v, k) => g.lineTo(x(k), y(v))); g.lineTo(120, 22); g.closePath();
    g.fillStyle = "rgba(47,111,222,0.15)"; g.fill();
    g.beginPath(); values.forEach((v, k) => k ? g.lineTo(x(k), y(v)) : g.moveTo(x(k), y(v)));
    g.strokeStyle = "#2f6fde"; g.lineWidth = 1.5; g.stroke();
  }
  return c;
}
async function refresh() {
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    const s = await response.json();
    const now = performance.now();
    const state = document.getElementById("state");
    state.textContent = s.ready ? "ready" : "draining";
    state.className = s.ready ? "ok" : "bad";
    document.getElementById("summary").textContent = "aimastery " + s.version + " \u00b7 up " + fmt(s.uptime_seconds, 0) +
      " s \u00b7 " + s.in_flight + " in flight \u00b7 " + s.http.queued + " waiting for a worker \u00b7 " +
      Object.values(s.http.refused).reduce((a, b) => a + b, 0) + " refused (503) \u00b7 " + s.models.length + " models";
    const body = document.querySelector("#models tbody");
    body.replaceChildren();
    const counts = {};
    let total = 0, totalRate = null, hits = 0, lookups = 0, versions = 0;
    for (const m of s.models) {
      const aliases = Object.entries(m.aliases);
      for (const v of m.loaded) {
        const key = m.name + "/" + v.version;
        counts[key] = v.requests; total += v.requests; versions += 1;
        let rate = null;
        if (previous && previous.counts[key] !== undefined)
          rate = Math.max(0, v.requests - previous.counts[key]) / ((now - previous.at) / 1000);
        if (rate !== null) { totalRate = (totalRate || 0) + rate; (history[key] = history[key] || []).push(rate); if (history[key].length > 30) history[key].shift(); }
        hits += v.cache_hits || 0; lookups += (v.cache_hits || 0) + (v.cache_misses || 0);
        const row = el("tr");
        row.dataset.model = m.name; row.dataset.version = v.version;
        const name = cell(row, "model", "", true);
        name.appendChild(el("div", "name", m.name));
        name.appendChild(el("div", "sub", "versions " + m.versions.join(", ") +
          (aliases.length ? " \u00b7 " + aliases.map(([a, n]) => a + " \u2192 " + n).join(", ") : "")));
        const version = cell(row, "version", "", true), line = el("div", "name", String(v.version));
        for (const [a, n] of aliases) if (n === v.version) { const b = el("span", "badge", a); b.dataset.alias = a; line.appendChild(b); }
        version.appendChild(line);
        const kind = el("div", "sub", v.kind + " \u00b7 " + v.scalar); kind.dataset.field = "kind"; version.appendChild(kind);
        cell(row, "requests", String(v.requests));
        cell(row, "rate", fmt(rate, 1));
        cell(row, "history", "", true).appendChild(sparkline(history[key] || []));
        cell(row, "errors", String(v.errors));
        cell(row, "p50", fmt(v.latency_p50_ms, 3));
        cell(row, "p99", fmt(v.latency_p99_ms, 3));
        const cache = cell(row, "cache", v.cache_hit_rate === null ? "off" : fmt(100 * v.cache_hit_rate, 1) + " %");
        if (v.cache_hit_rate !== null) bar(cache, v.cache_hit_rate);
        cell(row, "batch", fmt(v.mean_batch_rows, 2));
        const drift = cell(row, "drift", v.drift_share === null ? "-" : fmt(100 * v.drift_share, 0) + " %" + (v.dataset_drift ? " drift" : ""));
        if (v.dataset_drift) drift.classList.add("drift");
        body.appendChild(row);
      }
    }
    document.getElementById("total-requests").textContent = String(total);
    document.getElementById("total-rate").textContent = fmt(totalRate, 1);
    document.getElementById("total-hit-rate").textContent = lookups ? fmt(100 * hits / lookups, 1) + " %" : "-";
    document.getElementById("total-versions").textContent = String(versions);
    previous = {at: now, counts: counts};
  } catch (e) {
    const state = document.getElementById("state");
    state.textContent = "unreachable"; state.className = "bad";
    document.getElementById("summary").textContent = String(e);
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
)html";

}  // namespace aimastery
