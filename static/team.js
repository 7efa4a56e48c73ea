// BenchBoard history page: summary, QPS/latency chart over the whole history
// (downsampled by the server), latency histogram of the latest report, and a
// paginated table. Client strings only ever reach the page through textContent.
"use strict";
(() => {
  const teamId = document.body.dataset.teamId;
  // Set by archive.js in a static archive: the data is inlined, nothing is fetched.
  const archive = window.BenchBoardArchive || null;
  const api = `/api/teams/${encodeURIComponent(teamId)}`;
  const PAGE_SIZE = 20;
  const SERIES_POINTS = 600;
  const LANG_KEY = "benchboard.lang";
  const BUCKET_LABELS = ["≤1", "1–2", "2–5", "5–10", "10–20", "20–50", "50–100", "100–200", "200–500", "0.5–1s", "1–2s", "2–5s", ">5s"];

  const I18N = {
    zh: {
      back: "← 返回看板", suffix: " - 历史数据", export: "导出 CSV", reports: "上报次数", first_report: "首次上报",
      last_report: "最近上报", best_qps: "最佳 QPS", best_latency: "最佳延迟", latest: "最新一次",
      chart_title: "QPS 与延迟（全部历史，延迟为对数轴）", avg_latency: "平均延迟", histogram_title: "最新一次的延迟分布",
      table_title: "上报记录", newest_first: "最新在前", time: "时间", failure_rate: "失败率", completed: "已完成",
      errors: "错误", elapsed: "运行时长", prev: "上一页", next: "下一页", page: (p, n) => `第 ${p} / ${n} 页`,
      downsampled: (n, m) => `${n} 次上报 → ${m} 个点（服务器端降采样；每点为一段时间的平均 QPS、平均延迟与最高 P99）`,
      all_points: (n) => `${n} 次上报`, no_data: "暂无数据", requests: (n) => `${n} 个请求`, latency_ms: "延迟 (ms)",
      after_end: "比赛结束后", after_end_title: "比赛结束后到达：已保存，不计入排名",
      run: "运行", run_best: "本轮最佳 QPS", warnings: "数据可疑", run_started: (n) => `第 ${n} 轮开始`,
      run_best_detail: (ms) => `本轮最佳延迟 ${ms}`,
      locale: "zh-CN", none: "—",
    },
    en: {
      back: "← Back to the board", suffix: " - History", export: "Export CSV", reports: "Reports", first_report: "First report",
      last_report: "Last report", best_qps: "Best QPS", best_latency: "Best latency", latest: "Latest",
      chart_title: "QPS and latency (whole history, latency on a log axis)", avg_latency: "Avg latency", histogram_title: "Latency distribution of the latest report",
      table_title: "Reports", newest_first: "newest first", time: "Time", failure_rate: "Failure rate", completed: "Completed",
      errors: "Errors", elapsed: "Elapsed", prev: "Previous", next: "Next", page: (p, n) => `page ${p} / ${n}`,
      downsampled: (n, m) => `${n} reports → ${m} points (downsampled on the server; each point: mean QPS, mean latency, highest P99)`,
      all_points: (n) => `${n} reports`, no_data: "No data yet", requests: (n) => `${n} requests`, latency_ms: "latency (ms)",
      after_end: "after the end", after_end_title: "Arrived after the end of the contest: stored, not ranked",
      run: "Run", run_best: "Best QPS of this run", warnings: "Warnings", run_started: (n) => `run ${n} starts`,
      run_best_detail: (ms) => `best latency of this run ${ms}`,
      locale: "en-US", none: "—",
    },
  };
  let lang = "zh";
  try { lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh"; } catch (_) { /* storage blocked */ }
  const t = (key) => I18N[lang][key];

  const state = { team: null, summary: null, series: null, page: 0, total: 0, kind: "sensorData" };

  // ---- formatting ----------------------------------------------------------
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const num = (v, d) => new Intl.NumberFormat(t("locale"), { minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
  const fmtQps = (v) => (isNum(v) ? num(v, v >= 1000 ? 0 : 1) : t("none"));
  const fmtMs = (v) => (isNum(v) ? `${num(v, v < 10 ? 2 : v < 100 ? 1 : 0)} ms` : t("none"));
  const fmtPct = (v) => (isNum(v) ? `${num(v, 2)} %` : t("none"));
  const fmtInt = (v) => (isNum(v) ? num(Math.round(v), 0) : t("none"));
  const fmtSecs = (v) => {
    if (!isNum(v)) return t("none");
    const s = Math.max(0, Math.round(v));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
  };
  const toDate = (v) => { const ms = typeof v === "number" ? v : Date.parse(v); return Number.isNaN(ms) ? null : new Date(ms); };
  const fmtTime = (v) => { const d = toDate(v); return d ? d.toLocaleTimeString(t("locale"), { hour12: false }) : t("none"); };
  const fmtDate = (v) => { const d = toDate(v); return d ? d.toLocaleDateString(t("locale"), { year: "numeric", month: "2-digit", day: "2-digit" }) : ""; };
  const fmtDateTime = (v) => { const d = toDate(v); return d ? `${fmtDate(v)} ${fmtTime(v)}` : t("none"); };

  const $ = (id) => document.getElementById(id);
  const text = (id, value) => { $(id).textContent = value; };
  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }
  // The SVG namespace as the HTML parser gives it: no file of a static archive spells a URL.
  const SVG = (() => { const box = document.createElement("div"); box.innerHTML = "<svg></svg>"; return box.firstChild.namespaceURI; })();
  function svgEl(tag, attrs, content) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (content !== undefined) node.textContent = content;
    return node;
  }
  // A team sees its own reports after the freeze with its token: opened once as
  // /team/<id>/history#token=<token> (a fragment never reaches the server or a log),
  // kept in this tab (sessionStorage) and sent as X-Team-Token.
  const TOKEN_KEY = `benchboard.team_token.${teamId}`;
  let teamToken = null;
  try {
    const given = new URLSearchParams(location.hash.slice(1)).get("token");
    if (given) {
      sessionStorage.setItem(TOKEN_KEY, given);
      history.replaceState(null, "", location.pathname + location.search);
    }
    teamToken = sessionStorage.getItem(TOKEN_KEY);
  } catch (_) { /* storage blocked: the public view */ }
  async function getJson(url) {
    if (archive) return archive.get(url);
    const headers = teamToken ? { "X-Team-Token": teamToken } : {};
    const response = await fetch(url, { cache: "no-store", headers });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  // ---- summary ---------------------------------------------------------------
  function renderSummary() {
    const s = state.summary, team = state.team;
    if (s) {
      text("total-reports", fmtInt(s.total_reports));
      text("first-report", fmtTime(s.first_report));
      text("first-report-date", fmtDate(s.first_report));
      text("last-report", fmtTime(s.last_report));
      text("last-report-date", fmtDate(s.last_report));
      text("data-dir", s.data_directory || "");
    }
    if (team) {
      text("best-qps", fmtQps(team.best_qps));
      text("best-qps-time", team.best_qps_time ? fmtDateTime(team.best_qps_time) : "");
      text("best-latency", fmtMs(team.best_latency));
      text("best-latency-time", team.best_latency_time ? fmtDateTime(team.best_latency_time) : "");
      const runBest = team.run_best || {};
      text("run-number", isNum(team.run) && team.run > 0 ? `#${team.run}` : "");
      text("run-best-qps", fmtQps(runBest.best_qps));
      text("run-best-detail", I18N[lang].run_best_detail(fmtMs(runBest.best_latency)));
      text("latest-qps", `${fmtQps(team.qps)} QPS`);
      text("latest-detail", `P99 ${fmtMs(team.p99_latency)} · ${t("failure_rate")} ${fmtPct(team.data_loss_rate)}`);
    }
  }

  // ---- chart -------------------------------------------------------------------
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function renderChart() {
    const holder = $("chart");
    const series = state.series?.series || [];
    if (!series.length) { holder.replaceChildren(el("p", "panel-note", t("no_data"))); return; }
    const width = Math.max(280, holder.clientWidth), height = holder.clientHeight || 320;
    const m = { left: 52, right: 56, top: 12, bottom: 28 };
    const w = width - m.left - m.right, h = height - m.top - m.bottom;
    const t0 = series[0].t_first, t1 = Math.max(series[series.length - 1].t, t0 + 1);
    const qpsMax = niceMax(Math.max(...series.map((p) => p.qps_max)));
    // Latency on a log axis (0.1 ms .. a power of ten): the average stays readable
    // beside a P99 that is a hundred times larger.
    const latTop = Math.max(1, Math.ceil(Math.log10(Math.max(...series.map((p) => Math.max(p.p99_latency, p.avg_latency)), 1))));
    const latBottom = -1;
    const x = (ms) => m.left + ((ms - t0) / (t1 - t0)) * w;
    const yQ = (v) => m.top + h - (v / qpsMax) * h;
    const yL = (v) => m.top + h - ((Math.log10(Math.max(v, 0.1)) - latBottom) / (latTop - latBottom)) * h;
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    const grid = svgEl("g", { class: "grid" });
    for (let i = 0; i <= 4; i++) {
      const y = m.top + (h * i) / 4;
      grid.appendChild(svgEl("line", { x1: m.left, x2: m.left + w, y1: y, y2: y }));
      svg.appendChild(svgEl("text", { x: m.left - 6, y: y + 4, "text-anchor": "end" }, fmtQps(qpsMax * (1 - i / 4))));
    }
    for (let power = latBottom; power <= latTop; power++) {
      const ms = 10 ** power;
      const label = ms >= 1000 ? `${num(ms / 1000, 0)} s` : `${num(ms, power < 0 ? 1 : 0)} ms`;
      svg.appendChild(svgEl("text", { x: m.left + w + 6, y: yL(ms) + 4 }, label));
    }
    svg.prepend(grid);
    const ticks = Math.max(2, Math.min(6, Math.floor(w / 140)));
    const sameDay = fmtDate(t0) === fmtDate(t1);
    for (let i = 0; i <= ticks; i++) {
      const ms = t0 + ((t1 - t0) * i) / ticks;
      const label = sameDay ? fmtTime(ms) : `${fmtDate(ms).slice(5)} ${fmtTime(ms).slice(0, 5)}`;
      svg.appendChild(svgEl("text", { x: x(ms), y: height - 8, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" }, label));
    }
    const xs = series.map((p) => x(p.t));
    if (series.some((p) => p.count > 1)) {
      const band = series.map((p, i) => `${xs[i]},${yQ(p.qps_max)}`).concat(
        series.map((p, i) => `${xs[i]},${yQ(p.qps_min)}`).reverse());
      svg.appendChild(svgEl("polygon", { points: band.join(" "), fill: "var(--qps)", "fill-opacity": "0.14", stroke: "none" }));
    }
    const line = (ys, color, widthPx) => svg.appendChild(svgEl("polyline", {
      points: series.map((p, i) => `${xs[i].toFixed(1)},${ys(p).toFixed(1)}`).join(" "),
      fill: "none", stroke: color, "stroke-width": widthPx, "stroke-linejoin": "round",
    }));
    // Run boundaries: where the team's tool restarted (a drop in elapsed time or sent count).
    for (const start of (state.series.run_starts || []).slice(1)) {
      if (!isNum(start.t) || start.t < t0 || start.t > t1) continue;
      const bx = x(start.t).toFixed(1);
      const mark = svgEl("line", { class: "run-start", x1: bx, x2: bx, y1: m.top, y2: m.top + h, stroke: "var(--warn)", "stroke-dasharray": "5 4", "stroke-width": 1.5 });
      mark.appendChild(svgEl("title", {}, I18N[lang].run_started(start.run)));
      svg.appendChild(mark);
      svg.appendChild(svgEl("text", { x: Number(bx) + 3, y: m.top + 11, fill: "var(--warn)" }, `#${start.run}`));
    }
    line((p) => yL(p.p99_latency), "var(--p99)", 1.5);
    line((p) => yL(p.avg_latency), "var(--avg)", 1.5);
    line((p) => yQ(p.qps), "var(--qps)", 2.2);
    const cursor = svgEl("line", { y1: m.top, y2: m.top + h, stroke: "var(--muted)", "stroke-dasharray": "3 3", visibility: "hidden" });
    svg.appendChild(cursor);
    holder.replaceChildren(svg);
    const tip = $("tip");
    svg.addEventListener("mousemove", (event) => {
      const rect = svg.getBoundingClientRect();
      const px = ((event.clientX - rect.left) / rect.width) * width;
      let best = 0;
      for (let i = 1; i < xs.length; i++) if (Math.abs(xs[i] - px) < Math.abs(xs[best] - px)) best = i;
      const p = series[best];
      cursor.setAttribute("x1", xs[best]); cursor.setAttribute("x2", xs[best]);
      cursor.setAttribute("visibility", "visible");
      tip.replaceChildren(el("div", "", fmtDateTime(p.t)), el("div", "", `QPS ${fmtQps(p.qps)}`),
        el("div", "", `${t("avg_latency")} ${fmtMs(p.avg_latency)}`), el("div", "", `P99 ${fmtMs(p.p99_latency)}`));
      tip.hidden = false;
      const left = (xs[best] / width) * rect.width;
      tip.style.left = `${Math.min(left + 12, rect.width - tip.offsetWidth)}px`;
      tip.style.top = "8px";
    });
    svg.addEventListener("mouseleave", () => { tip.hidden = true; cursor.setAttribute("visibility", "hidden"); });
    const total = state.series.total, points = series.length;
    text("chart-note", points < total ? I18N[lang].downsampled(fmtInt(total), fmtInt(points)) : I18N[lang].all_points(fmtInt(total)));
  }

  // ---- histogram -----------------------------------------------------------------
  function latencyKinds() {
    const analysis = state.team?.stats?.latencyAnalysis;
    return analysis && typeof analysis === "object" ? Object.keys(analysis).filter((k) => Array.isArray(analysis[k]?.buckets)) : [];
  }

  function renderKinds() {
    const kinds = latencyKinds();
    if (!kinds.includes(state.kind) && kinds.length) state.kind = kinds[0];
    $("kinds").replaceChildren(...kinds.map((kind) => {
      const button = el("button", "", kind);
      button.type = "button";
      button.setAttribute("aria-pressed", String(kind === state.kind));
      button.addEventListener("click", () => { state.kind = kind; renderKinds(); renderHistogram(); });
      return button;
    }));
  }

  function renderHistogram() {
    const holder = $("histogram");
    const dist = state.team?.stats?.latencyAnalysis?.[state.kind];
    if (!dist || !Array.isArray(dist.buckets)) { holder.replaceChildren(el("p", "panel-note", t("no_data"))); text("histogram-note", ""); return; }
    const counts = BUCKET_LABELS.map((_, i) => (isNum(dist.buckets[i]) ? dist.buckets[i] : 0));
    const total = counts.reduce((a, b) => a + b, 0);
    const width = Math.max(260, holder.clientWidth), height = holder.clientHeight || 320;
    const m = { left: 8, right: 8, top: 22, bottom: 40 };
    const w = width - m.left - m.right, h = height - m.top - m.bottom;
    const max = Math.max(...counts, 1);
    const slot = w / counts.length;
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    counts.forEach((count, i) => {
      const barH = (count / max) * h;
      const bx = m.left + i * slot + slot * 0.12;
      const bar = svgEl("rect", { class: "bar", x: bx, y: m.top + h - barH, width: slot * 0.76, height: Math.max(barH, count ? 1 : 0), rx: 2, fill: i >= 9 ? "var(--p99)" : "var(--qps)" });
      bar.appendChild(svgEl("title", {}, `${BUCKET_LABELS[i]} ms: ${fmtInt(count)}`));
      svg.appendChild(bar);
      const pct = total ? (count / total) * 100 : 0;
      if (count) svg.appendChild(svgEl("text", { x: bx + slot * 0.38, y: m.top + h - barH - 5, "text-anchor": "middle" }, pct >= 10 ? num(pct, 0) + "%" : num(pct, 1) + "%"));
      const label = svgEl("text", { x: bx + slot * 0.38, y: height - m.bottom + 14, "text-anchor": "end", transform: `rotate(-35 ${bx + slot * 0.38} ${height - m.bottom + 14})` }, BUCKET_LABELS[i]);
      svg.appendChild(label);
    });
    holder.replaceChildren(svg);
    text("histogram-note", `${I18N[lang].requests(fmtInt(total))} · ${t("latency_ms")} · avg ${fmtMs(dist.avg)} · min ${fmtMs(dist.min)} · max ${fmtMs(dist.max)}`);
  }

  // ---- table -----------------------------------------------------------------------
  async function loadPage(page) {
    const answer = await getJson(`${api}/history?limit=${PAGE_SIZE}&offset=${page * PAGE_SIZE}`);
    state.page = page;
    state.total = answer.total || 0;
    const rows = (answer.history || []).map((h) => {
      const row = el("tr", h.after_end === true ? "after-end" : "");
      const stats = h.stats || {}, metrics = h.metrics || {};
      const warnings = window.BenchBoardWarnings.list(h.warnings);
      const warnCell = el("td", "warn-cell", warnings.length ? `⚠ ${warnings.length}` : "");
      if (warnings.length) warnCell.title = window.BenchBoardWarnings.tooltip(warnings, lang);
      const runCell = el("td", "num", isNum(h.run) && h.run > 0 ? `#${h.run}` : t("none"));
      const timeCell = el("td", "", fmtDateTime(h.timestamp));
      if (h.after_end === true) {
        const mark = el("span", "after-end-mark", t("after_end"));
        mark.title = t("after_end_title");
        timeCell.append(" ", mark);
      }
      row.append(timeCell, runCell, el("td", "num", fmtQps(metrics.qps)),
        el("td", "num", fmtMs(metrics.avg_latency)), el("td", "num", fmtMs(metrics.p99_latency)),
        el("td", "num", fmtPct(metrics.data_loss_rate)), el("td", "num hide-narrow", fmtInt(stats.totalOps)),
        el("td", "num hide-narrow", fmtInt(stats.totalErrors)), el("td", "num hide-narrow", fmtSecs(stats.totalElapsed)), warnCell);
      return row;
    });
    document.querySelector("#history tbody").replaceChildren(...rows);
    renderPager();
  }
  function pages() { return Math.max(1, Math.ceil(state.total / PAGE_SIZE)); }
  function renderPager() {
    text("page-info", I18N[lang].page(state.page + 1, pages()));
    $("prev").disabled = state.page <= 0;
    $("next").disabled = state.page + 1 >= pages();
  }
  $("prev").addEventListener("click", () => { if (state.page > 0) loadPage(state.page - 1).catch(() => {}); });
  $("next").addEventListener("click", () => { if (state.page + 1 < pages()) loadPage(state.page + 1).catch(() => {}); });

  // ---- language --------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    $("title-suffix").textContent = t("suffix");
    document.title = $("team-name").textContent + t("suffix");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = lang === "zh" ? "English" : "中文";
    renderAll();
    if (state.total) loadPage(state.page).catch(() => {});
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* storage blocked */ }
    applyLanguage();
  });

  function renderAll() {
    renderSummary();
    renderChart();
    renderKinds();
    renderHistogram();
  }

  async function load() {
    const [team, summary, series] = await Promise.all([
      getJson(api).catch(() => null),
      getJson(`${api}/history/summary`).catch(() => null),
      getJson(`${api}/history/series?points=${SERIES_POINTS}`).catch(() => null),
    ]);
    Object.assign(state, { team, summary, series });
    renderAll();
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { renderChart(); renderHistogram(); }, 150);
  });

  applyLanguage();
  load();
  loadPage(0).catch(() => text("page-info", t("no_data")));
  // Keep the page current while the run goes on: summary and chart every 15 s.
  if (!archive) setInterval(() => { load(); if (state.page === 0) loadPage(0).catch(() => {}); }, 15000);
})();
