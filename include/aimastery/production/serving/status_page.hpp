#pragma once
/// \file
/// The server's status page (GET /): one self-contained HTML document with its script inline, nothing
/// fetched from elsewhere. Every two seconds it reads /status.json and redraws a table of the models
/// (versions, aliases, kind), their request rate (the difference of two successive request counts over
/// the time between them), latency percentiles, cache hit rate, mean batch size and input drift.

#include <string_view>

namespace aimastery {

inline constexpr std::string_view status_page_html = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aimastery serve</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-top:1em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f0f0f0}td.l{text-align:left}
.ok{color:#070}.bad{color:#b00}
</style></head>
<body>
<h1>aimastery serve</h1>
<p id="summary">loading&hellip;</p>
<table id="models"><thead><tr>
<th>model</th><th>version</th><th>aliases</th><th>kind</th><th>requests</th><th>req/s</th><th>errors</th>
<th>p50 ms</th><th>p99 ms</th><th>cache hit rate</th><th>mean batch</th><th>drift share</th>
</tr></thead><tbody></tbody></table>
<script>
"use strict";
let previous = null;
function fmt(x, digits) { return (x === null || x === undefined || Number.isNaN(x)) ? "-" : Number(x).toFixed(digits); }
function cell(row, text, left) { const td = document.createElement("td"); td.textContent = text; if (left) td.className = "l"; row.appendChild(td); }
async function refresh() {
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    const s = await response.json();
    const now = performance.now();
    const summary = document.getElementById("summary");
    summary.textContent = (s.ready ? "ready" : "not ready") + " \u2014 " + s.models.length + " models, " +
      s.in_flight + " requests in flight, up " + fmt(s.uptime_seconds, 0) + " s";
    summary.className = s.ready ? "ok" : "bad";
    const body = document.querySelector("#models tbody");
    body.replaceChildren();
    for (const m of s.models) {
      for (const v of m.loaded) {
        const key = m.name + "/" + v.version;
        let rate = null;
        if (previous && previous.counts[key] !== undefined)
          rate = (v.requests - previous.counts[key]) / ((now - previous.at) / 1000);
        const row = document.createElement("tr");
        row.dataset.model = m.name;
        cell(row, m.name, true); cell(row, v.version);
        cell(row, Object.entries(m.aliases).map(([a, n]) => a + "\u2192" + n).join(" "), true);
        cell(row, v.kind + " (" + v.scalar + ")", true);
        cell(row, v.requests); cell(row, fmt(rate, 1)); cell(row, v.errors);
        cell(row, fmt(v.latency_p50_ms, 3)); cell(row, fmt(v.latency_p99_ms, 3));
        cell(row, v.cache_hit_rate === null ? "off" : fmt(v.cache_hit_rate, 3));
        cell(row, fmt(v.mean_batch_rows, 2));
        cell(row, v.drift_share === null ? "-" : fmt(v.drift_share, 2) + (v.dataset_drift ? " drift" : ""));
        body.appendChild(row);
      }
    }
    const counts = {};
    for (const m of s.models) for (const v of m.loaded) counts[m.name + "/" + v.version] = v.requests;
    previous = {at: now, counts: counts};
  } catch (e) {
    document.getElementById("summary").textContent = "cannot reach the server: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
)html";

}  // namespace aimastery
