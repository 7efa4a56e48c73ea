// Plain history page: the 50 newest reports of the team named in <body data-team-id>.
"use strict";
async function load() {
  const id = document.body.dataset.teamId;
  const page = await (await fetch("/api/teams/" + encodeURIComponent(id) + "/history?limit=50")).json();
  const body = document.querySelector("#history tbody");
  for (const h of page.history) {
    const row = document.createElement("tr");
    for (const text of [h.timestamp, h.metrics.qps.toFixed(1), h.metrics.avg_latency.toFixed(1),
                        h.metrics.p99_latency.toFixed(1), h.metrics.data_loss_rate.toFixed(2)]) {
      const td = document.createElement("td");
      td.textContent = text;
      row.appendChild(td);
    }
    body.appendChild(row);
  }
}
load();
