// Plain dashboard: lists the teams from /api/teams every 3 s. Every value is
// written with textContent, so names sent by clients are never parsed as HTML.
"use strict";
function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}
async function refresh() {
  const teams = await (await fetch("/api/teams")).json();
  const body = document.querySelector("#teams tbody");
  body.replaceChildren();
  for (const t of teams) {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = "/team/" + encodeURIComponent(t.team_id) + "/history";
    link.textContent = t.team_name;
    cell(row, "").appendChild(link);
    cell(row, t.qps.toFixed(1));
    cell(row, t.avg_latency.toFixed(1));
    cell(row, t.p99_latency.toFixed(1));
    cell(row, t.data_loss_rate.toFixed(2));
    cell(row, t.last_update);
    cell(row, t.is_active ? "活跃" : "不活跃");
    body.appendChild(row);
  }
}
refresh();
setInterval(refresh, 3000);
