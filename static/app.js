// BenchBoard dashboard: team cards, live ranking and sparklines, fed by the
// WebSocket push (`/ws`) or, when that is off or unreachable, by polling /api/teams.
// On the replay page (`<body data-mode="replay">`) it connects to nothing: replay.js
// draws the board as it stood at a time of its own through `window.BenchBoardBoard`.
//
// Safety: every string that came from a client (team names above all) reaches the
// page through textContent or an attribute set by the DOM API, never as HTML.
"use strict";
(() => {
  const body = document.body;
  // Set by archive.js in a static archive: the data is inlined, nothing is fetched.
  const archive = window.BenchBoardArchive || null;
  const teamHref = (id) => (archive ? archive.teamHref(id) : `/team/${encodeURIComponent(id)}/history`);
  const POLL_MS = 3000;
  const SPARK_WINDOW_MS = 10 * 60 * 1000;
  const SPARK_MAX_POINTS = 600;
  const BACKOFF_MAX_MS = 30000;
  const LANG_KEY = "benchboard.lang";
  // Ranking rows drawn at first and per "show more": with 1,000 teams the page draws
  // the top of the ranking, not 1,000 rows per update.
  const RANKING_STEP = 50;

  const I18N = {
    zh: {
      title: "压测结果看板", page_title: "BenchBoard - 压测结果看板", cards: "团队", ranking: "实时排名",
      empty: "等待团队上报数据…", rank: "名次", team: "团队", avg_latency: "平均延迟", failure_rate: "失败率", avg_ms: "平均延迟 ms", p99_ms: "P99 ms", failure_pct: "失败率 %",
      status: "状态", active: "活跃", inactive: "不活跃", hp_share: "高优先级占比", hp_latency: "高优先级延迟",
      elapsed: "运行时长", verify_error: "校验错误率", completed: "已完成请求", pending: "待处理请求",
      best_qps: "最佳 QPS", best_latency: "最佳延迟", last_update: "最后更新", window: "近 10 分钟",
      footer: "数据每次上报即时推送 · 点击卡片查看历史",
      conn_connecting: "连接中…", conn_live: "实时推送", conn_polling: "轮询模式", conn_push_off: "轮询模式（推送已关闭）",
      conn_reconnecting: "重新连接中…", conn_offline: "无法连接服务器", conn_archive: "存档（最终结果）", conn_replay: "回放",
      final_ranking: "最终排名", footer_archive: "比赛存档 · 点击卡片查看历史",
      storage_down: "存储不可用：显示的是最后的数据，恢复后自动更新",
      ago_s: (n) => `${n} 秒前`, ago_m: (n) => `${n} 分钟前`, ago_h: (n) => `${n} 小时前`,
      dur: (h, m, s) => (h ? `${h}时${m}分${s}秒` : m ? `${m}分${s}秒` : `${s}秒`),
      switch_to: "English", locale: "zh-CN", none: "—",
      more: (shown, total) => `显示更多（已显示 ${shown} / 共 ${total} 队）`,
      alerts: "告警", no_alerts: "暂无告警", run: "运行轮次", replay_link: "回放", score: "得分",
      phase_ok: "正常", phase_pending: "待定", phase_firing: "触发", phase_resolved: "恢复",
      severity_warning: "警告", severity_critical: "严重",
    },
    en: {
      title: "Load-test scoreboard", page_title: "BenchBoard - Load-test scoreboard", cards: "Teams", ranking: "Live ranking",
      empty: "Waiting for the first report…", rank: "Rank", team: "Team", avg_latency: "Avg latency", failure_rate: "Failure rate", avg_ms: "Avg ms", p99_ms: "P99 ms", failure_pct: "Failed %",
      status: "Status", active: "Active", inactive: "Inactive", hp_share: "High-prio share", hp_latency: "High-prio latency",
      elapsed: "Elapsed", verify_error: "Verify errors", completed: "Completed", pending: "Pending",
      best_qps: "Best QPS", best_latency: "Best latency", last_update: "Last update", window: "last 10 min",
      footer: "Every report is pushed at once · click a card for its history",
      conn_connecting: "Connecting…", conn_live: "Live (WebSocket)", conn_polling: "Polling", conn_push_off: "Polling (push is off)",
      conn_reconnecting: "Reconnecting…", conn_offline: "Server unreachable", conn_archive: "Archive (final)", conn_replay: "Replay",
      final_ranking: "Final standings", footer_archive: "Contest archive · click a card for its history",
      storage_down: "Storage unavailable: showing the last board; it updates by itself once storage is back",
      ago_s: (n) => `${n}s ago`, ago_m: (n) => `${n} min ago`, ago_h: (n) => `${n} h ago`,
      dur: (h, m, s) => (h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`),
      switch_to: "中文", locale: "en-US", none: "—",
      more: (shown, total) => `Show more (${shown} of ${total} teams)`,
      alerts: "Alerts", no_alerts: "No alerts", run: "Run", replay_link: "Replay", score: "Score",
      phase_ok: "OK", phase_pending: "Pending", phase_firing: "Firing", phase_resolved: "Resolved",
      severity_warning: "warning", severity_critical: "critical",
    },
  };

  let lang = "zh";
  try { lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh"; } catch (_) { /* storage blocked */ }
  const t = (key) => I18N[lang][key];

  // ---- state -------------------------------------------------------------
  const teams = new Map(); // team_id -> team entry as /api/teams shows it
  const sparks = new Map(); // team_id -> [{at, qps, p99, key}]
  const cardNodes = new Map(); // team_id -> card element
  let previousRanks = new Map();
  let rankingRows = RANKING_STEP;
  let alertChanges = []; // newest first, as the snapshot and /api/alerts give them
  let maxTeams = Number(body.dataset.maxTeams) || 6;
  const replay = body.dataset.mode === "replay";
  let replayAt = null; // ms: the replayed time, which stands for "now"
  // "Now": the replayed time, an archive's end, or the clock.
  const nowMs = () => replayAt ?? (archive ? archive.now : Date.now());
  const contestView = window.BenchBoardContest; // contest.js: phase, countdown, final
  const revealView = window.BenchBoardReveal; // reveal.js: the frozen banner, the reveal

  // ---- formatting --------------------------------------------------------
  const formats = new Map(); // "locale|digits" -> Intl.NumberFormat (slow to make)
  const num = (v, digits) => {
    const key = `${t("locale")}|${digits}`;
    if (!formats.has(key)) {
      formats.set(key, new Intl.NumberFormat(t("locale"), { minimumFractionDigits: digits, maximumFractionDigits: digits }));
    }
    return formats.get(key).format(v);
  };
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmtQps = (v) => (isNum(v) ? num(v, v >= 1000 ? 0 : 1) : t("none"));
  const fmtMs = (v) => (isNum(v) ? num(v, v < 10 ? 2 : v < 100 ? 1 : 0) : t("none"));
  const fmtPct = (v) => (isNum(v) ? num(v, 2) : t("none"));
  const fmtInt = (v) => (isNum(v) ? num(Math.round(v), 0) : t("none"));
  function fmtDuration(seconds) {
    if (!isNum(seconds)) return t("none");
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    return I18N[lang].dur(h, m, total % 60);
  }
  const parseTime = (text) => {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : new Date(ms);
  };
  function fmtTime(text) {
    const at = parseTime(text);
    if (!at) return t("none");
    const time = at.toLocaleTimeString(t("locale"), { hour12: false });
    if (at.toDateString() === new Date(nowMs()).toDateString()) return time;
    const date = at.toLocaleDateString(t("locale"), { month: "2-digit", day: "2-digit" });
    return `${date} ${time}`;
  }
  function fmtAgo(text) {
    const at = parseTime(text);
    if (!at) return "";
    const secs = Math.max(0, Math.round((nowMs() - at.getTime()) / 1000));
    if (secs < 60) return I18N[lang].ago_s(secs);
    if (secs < 3600) return I18N[lang].ago_m(Math.floor(secs / 60));
    return I18N[lang].ago_h(Math.floor(secs / 3600));
  }

  // ---- DOM helpers -------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }
  /** Shows `value` (and a unit) in `node`; flashes it when it changed. */
  function show(node, value, unit, allowFlash) {
    const key = unit ? `${value} ${unit}` : value;
    if (node.dataset.shown === key) return;
    const changed = node.dataset.shown !== undefined;
    node.dataset.shown = key;
    node.replaceChildren(document.createTextNode(value));
    if (unit && value !== t("none")) node.appendChild(el("span", "unit", unit));
    if (changed && allowFlash) flash(node);
  }

  // ---- cards -------------------------------------------------------------
  const STAT_ROWS = [
    ["avg_latency", (x) => [fmtMs(x.avg_latency), "ms"]],
    ["failure_rate", (x) => [fmtPct(x.data_loss_rate), "%"], (x) => x.data_loss_rate > 1],
    ["hp_share", (x) => [fmtPct(x.stats?.highPriorityStats?.percentage), "%"]],
    ["hp_latency", (x) => [fmtMs(x.metrics?.high_priority_latency), "ms"]],
    ["elapsed", (x) => [fmtDuration(x.stats?.totalElapsed), ""]],
    ["verify_error", (x) => [fmtPct(x.stats?.totalVerifyErrorRate), "%"], (x) => x.stats?.totalVerifyErrorRate > 1],
    ["completed", (x) => [fmtInt(x.stats?.totalOps), ""]],
    ["pending", (x) => [fmtInt(x.stats?.pending), ""]],
    ["best_qps", (x) => [fmtQps(x.best_qps), ""], null, (x) => x.best_qps_time],
    ["best_latency", (x) => [fmtMs(x.best_latency), "ms"], null, (x) => x.best_latency_time],
    ["run", (x) => [isNum(x.run) && x.run > 0 ? `#${x.run}` : t("none"), ""]],
    ["last_update", (x) => [fmtTime(x.last_update), ""], null, null, true],
  ];

  /** The card's warning badge (tooltip: every warning) and its alert outline and rule names. */
  function showTrouble(card, team) {
    const warnings = window.BenchBoardWarnings.list(team.warnings);
    const badge = card.querySelector(".warn-badge");
    badge.hidden = warnings.length === 0;
    badge.textContent = `⚠ ${warnings.length}`;
    badge.title = window.BenchBoardWarnings.tooltip(warnings, lang);
    badge.setAttribute("aria-label", badge.title);
    const alerts = Array.isArray(team.alerts) ? team.alerts : [];
    card.classList.toggle("alerting", alerts.length > 0);
    card.classList.toggle("critical", alerts.some((a) => a.severity === "critical"));
    const rules = card.querySelector(".alert-rules");
    rules.hidden = alerts.length === 0;
    rules.textContent = alerts.length ? `▲ ${alerts.map((a) => a.rule).join(" · ")}` : "";
    rules.title = rules.textContent;
  }

  function makeCard(id) {
    const card = document.getElementById("card-template").content.firstElementChild.cloneNode(true);
    card.dataset.teamId = id;
    card.querySelector(".card-link").href = teamHref(id);
    const stats = card.querySelector(".stats");
    for (const [key, , , timeOf, ago] of STAT_ROWS) {
      const row = el("div", timeOf || ago ? "wide" : "");
      row.dataset.stat = key;
      const dd = el("dd");
      const value = el("span", "v");
      dd.appendChild(value);
      if (timeOf || ago) dd.appendChild(el("small", ago ? "ago" : "when"));
      row.append(el("dt", "", t(key)), dd);
      stats.appendChild(row);
    }
    return card;
  }

  function updateCard(card, team, allowFlash) {
    card.classList.toggle("inactive", !team.is_active);
    card.querySelector(".team-name").textContent = team.team_name;
    card.querySelector(".team-name").title = team.team_name;
    const badge = card.querySelector(".badge");
    badge.textContent = team.is_active ? t("active") : t("inactive");
    badge.classList.toggle("off", !team.is_active);
    showTrouble(card, team);
    // Not in every page's card template (replay.html has neither).
    const place = card.querySelector(".rank-badge");
    if (place) {
      place.hidden = !isNum(team.rank);
      place.textContent = isNum(team.rank) ? `#${team.rank}` : "";
    }
    const disq = card.querySelector(".disq");
    if (disq) {
      disq.textContent = contestView?.reasons(team) || "";
      disq.hidden = !disq.textContent;
      disq.title = disq.textContent;
    }
    show(card.querySelector('[data-field="qps"]'), fmtQps(team.qps), "", allowFlash);
    show(card.querySelector('[data-field="p99"]'), fmtMs(team.p99_latency), "ms", allowFlash);
    for (const [key, valueOf, isBad, timeOf, ago] of STAT_ROWS) {
      const row = card.querySelector(`[data-stat="${key}"]`);
      row.querySelector("dt").textContent = t(key);
      row.querySelector("dt").title = t(key);
      const [value, unit] = valueOf(team);
      const dd = row.querySelector("dd");
      show(dd.querySelector(".v"), value, unit, allowFlash);
      dd.classList.toggle("bad", Boolean(isBad && isBad(team)));
      if (timeOf) dd.querySelector(".when").textContent = timeOf(team) ? fmtTime(timeOf(team)) : "";
      if (ago) {
        const small = dd.querySelector(".ago");
        small.dataset.at = team.last_update;
        small.textContent = fmtAgo(team.last_update);
      }
    }
    card.querySelector(".k-window").textContent = t("window");
    drawSpark(card.querySelector(".spark"), sparks.get(team.team_id) || []);
  }

  // A server or archive that ranks by the contest's rule gives each team its `rank`.
  const byRank = (a, b) => (isNum(a.rank) && isNum(b.rank) ? a.rank - b.rank : 0);

  /** The teams shown as cards: on the board, active and fastest first (an archive's: the
   * top of its standings), up to max_teams, in id order. */
  function cardTeams() {
    const onBoard = [...teams.values()].filter((x) => archive || x.on_board);
    // An archive shows the top of its standings; the live board its active, fastest teams.
    onBoard.sort((a, b) => (archive ? byRank(a, b) : 0) || (b.is_active - a.is_active) || (b.qps - a.qps));
    const shown = onBoard.slice(0, maxTeams);
    // Ranked by the contest's rule: in rank order; else in id order.
    return shown.sort((a, b) => contestView?.compare(a, b) ?? (a.team_id < b.team_id ? -1 : 1));
  }

  /** Cards of the teams in `changed` (a Set; undefined: all) may flash. */
  function renderCards(changed) {
    const container = document.getElementById("cards");
    const shown = cardTeams();
    const keep = new Set(shown.map((x) => x.team_id));
    for (const [id, card] of cardNodes) {
      if (!keep.has(id)) { card.remove(); cardNodes.delete(id); }
    }
    for (const team of shown) {
      let card = cardNodes.get(team.team_id);
      const fresh = !card;
      if (fresh) { card = makeCard(team.team_id); cardNodes.set(team.team_id, card); seedSpark(team.team_id); }
      container.appendChild(card); // keeps id order
      updateCard(card, team, !fresh && (changed === undefined || changed.has(team.team_id)));
    }
    document.getElementById("empty").hidden = shown.length > 0;
  }

  // ---- sparklines --------------------------------------------------------
  function remember(team) {
    if (replay) return; // the replay gives each card its points
    const points = sparks.get(team.team_id) || [];
    const key = `${team.last_update}|${team.report_count}`;
    if (points.length && points[points.length - 1].key === key) return;
    const at = parseTime(team.last_update)?.getTime() ?? nowMs();
    points.push({ at, qps: team.qps || 0, p99: team.p99_latency || 0, key });
    const since = nowMs() - SPARK_WINDOW_MS;
    while (points.length > SPARK_MAX_POINTS || (points.length > 1 && points[0].at < since)) points.shift();
    sparks.set(team.team_id, points);
  }

  // The SVG namespace as the HTML parser gives it: no file of a static archive spells a URL.
  const SVG = (() => { const box = document.createElement("div"); box.innerHTML = "<svg></svg>"; return box.firstChild.namespaceURI; })();
  function drawSpark(holder, points) {
    const width = 300, height = 54, pad = 3;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    // The window grows with the data up to 10 minutes, so a young run fills the width too.
    const end = Math.max(nowMs(), ...points.map((p) => p.at));
    const oldest = points.length ? points[0].at : end;
    const span = Math.min(SPARK_WINDOW_MS, Math.max(60000, end - oldest));
    const start = end - span;
    const x = (at) => pad + ((Math.max(at, start) - start) / span) * (width - 2 * pad);
    for (const [field, color] of [["p99", "var(--p99)"], ["qps", "var(--qps)"]]) {
      if (!points.length) break;
      // Scaled to the window's own range (a level series sits in the middle).
      const values = points.map((p) => p[field]);
      const max = Math.max(...values), min = Math.min(...values);
      const y = (v) => (max > min ? height - pad - ((v - min) / (max - min)) * (height - 2 * pad) : height / 2);
      const coords = points.map((p) => `${x(p.at).toFixed(1)},${y(p[field]).toFixed(1)}`);
      // One report so far: a level line across the window.
      if (points.length === 1) coords.unshift(`${pad},${y(points[0][field]).toFixed(1)}`);
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", coords.join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", color);
      line.setAttribute("stroke-width", field === "qps" ? "2.2" : "1.5");
      line.setAttribute("vector-effect", "non-scaling-stroke");
      line.setAttribute("stroke-linejoin", "round");
      svg.appendChild(line);
    }
    holder.replaceChildren(svg);
  }

  /** Drops what the page remembers of a team's past reports. */
  function forget(id) {
    sparks.delete(id);
    seeded.delete(id);
  }

  /** Fills a card's sparkline with the last minutes of its history (once per team and page). */
  const seeded = new Set();
  async function seedSpark(id) {
    if (replay || seeded.has(id)) return;
    seeded.add(id);
    const since = nowMs() - SPARK_WINDOW_MS;
    try {
      const url = `/api/teams/${encodeURIComponent(id)}/history/series?points=120&since=${since}`;
      let answer;
      if (archive) answer = await archive.get(url);
      else {
        const response = await fetch(url);
        if (!response.ok) return;
        answer = await response.json();
      }
      const points = sparks.get(id) || [];
      const firstAt = points.length ? points[0].at : Infinity;
      const older = (answer.series || [])
        .filter((p) => isNum(p.t) && p.t < firstAt - 500)
        .map((p) => ({ at: p.t, qps: p.qps, p99: p.p99_latency, key: `series|${p.t}` }));
      sparks.set(id, older.concat(points));
      const card = cardNodes.get(id);
      if (card) drawSpark(card.querySelector(".spark"), sparks.get(id));
    } catch (_) { /* the sparkline simply starts empty */ }
  }

  // ---- ranking -----------------------------------------------------------
  /** The top `rankingRows` teams as rows; the rest on demand ("show more"). */
  function renderRanking() {
    // By the contest's rule when the server ranks (rank; the replay gives one too),
    // else the original's order.
    const ranked = [...teams.values()].sort((a, b) => contestView?.compare(a, b)
      ?? (byRank(a, b) || (b.qps - a.qps) || (a.avg_latency - b.avg_latency) || (a.team_id < b.team_id ? -1 : 1)));
    const tbody = document.querySelector("#ranking tbody");
    const ranks = new Map();
    ranked.forEach((team, i) => ranks.set(team.team_id, i + 1));
    const rows = ranked.slice(0, rankingRows).map((team, i) => {
      const row = el("tr", team.is_active ? "" : "inactive");
      row.dataset.teamId = team.team_id;
      const before = previousRanks.get(team.team_id);
      if (before !== undefined && before !== i + 1) row.classList.add("moved");
      const rankCell = el("td", "num");
      rankCell.appendChild(el("span", `medal${i < 3 ? ` m${i + 1}` : ""}`, String(i + 1)));
      const nameCell = el("td", "team");
      const link = el("a", "", team.team_name);
      link.href = teamHref(team.team_id);
      link.title = team.team_name;
      nameCell.appendChild(link);
      const why = contestView?.reasons(team);
      if (why) { row.classList.add("disqualified"); nameCell.title = why; nameCell.appendChild(el("span", "disq-mark", "✕")); }
      const status = el("td");
      const stateText = team.is_active ? t("active") : t("inactive");
      status.title = stateText;
      status.append(el("span", `dot-state${team.is_active ? "" : " off"}`), el("span", "state-text", stateText));
      // Units are in the column headers, so the numbers stay narrow.
      row.append(rankCell, nameCell, el("td", "num", fmtQps(team.qps)), el("td", "num", fmtMs(team.avg_latency)),
        el("td", "num", fmtMs(team.p99_latency)), el("td", "num", fmtPct(team.data_loss_rate)), status);
      if (contestView?.ranking) row.insertBefore(el("td", "num score-col", fmtMs(team.score)), row.children[2]);
      return row;
    });
    tbody.replaceChildren(...rows);
    previousRanks = ranks;
    const more = document.getElementById("ranking-more");
    more.hidden = ranked.length <= rows.length;
    more.textContent = t("more")(rows.length, ranked.length);
  }
  document.getElementById("ranking-more").addEventListener("click", () => {
    rankingRows += RANKING_STEP;
    renderRanking();
  });

  function render(changed) {
    renderCards(changed);
    renderRanking();
  }

  // Updates arrive one per report (hundreds a second with many teams): they are drawn
  // together, at most once per frame, never one full redraw each.
  let pendingRender = null; // Set of changed team ids, or "all"
  function scheduleRender(changedId) {
    const first = pendingRender === null;
    if (changedId === undefined || pendingRender === "all") pendingRender = "all";
    else (pendingRender ??= new Set()).add(changedId);
    if (!first) return;
    const draw = () => {
      const changed = pendingRender === "all" ? undefined : pendingRender;
      pendingRender = null;
      render(changed);
    };
    // A hidden page gets no animation frames: draw on a timer then.
    if (document.hidden) setTimeout(draw, 250); else requestAnimationFrame(draw);
  }

  // ---- alerts --------------------------------------------------------------
  const fmtValue = (v) => (isNum(v) ? num(v, Math.abs(v) < 10 ? 2 : 1) : t("none"));
  function renderAlerts() {
    const items = alertChanges.slice(0, 50).map((c) => {
      const item = el("li", `${c.to}${c.severity === "critical" ? " critical" : ""}`);
      item.append(
        el("span", "when", fmtTime(c.at)),
        el("span", "phase", t(`phase_${c.to}`) || c.to),
        el("span", "team", String(c.team_name)),
        el("span", "rule", String(c.rule)),
        el("span", "value", `${c.condition} · ${fmtValue(c.value)}`),
        el("span", "severity", t(`severity_${c.severity}`) || ""),
      );
      item.title = `${c.team_name} (${c.team_id})`;
      return item;
    });
    document.getElementById("alert-list").replaceChildren(...items);
    document.getElementById("no-alerts").hidden = items.length > 0;
  }

  // ---- applying server data ----------------------------------------------
  function applyAll(list) {
    const ids = new Set();
    for (const team of list) {
      if (!team || typeof team.team_id !== "string") continue;
      teams.set(team.team_id, team);
      remember(team);
      ids.add(team.team_id);
    }
    for (const id of [...teams.keys()]) if (!ids.has(id)) teams.delete(id);
    scheduleRender();
  }

  // The store (a database) went away: the board stays as it was, with a notice.
  function showStorage(available) {
    document.getElementById("storage-notice").hidden = available !== false;
  }

  function handleMessage(message) {
    if (message.type === "snapshot") {
      if (Number.isInteger(message.max_teams) && message.max_teams > 0) maxTeams = message.max_teams;
      showStorage(message.storage_available);
      alertChanges = Array.isArray(message.alerts) ? message.alerts : [];
      applyAll(message.teams || []);
      renderAlerts();
      contestView?.apply(message.contest, undefined, message.ranking);
      if (!archive) contestView?.measure(); // an archive asks no server
      revealView?.apply(message.freeze);
    } else if (message.type === "freeze") {
      revealView?.apply(message.freeze);
    } else if (message.type === "contest") {
      contestView?.apply(message.contest, message.now, message.ranking);
    } else if (message.type === "storage") {
      showStorage(message.available);
    } else if (message.type === "team_update" && message.team) {
      const before = teams.get(message.team.team_id);
      // Fewer reports than before: an organiser trashed some; the sparkline starts over.
      if (before && message.team.report_count < before.report_count) forget(message.team.team_id);
      teams.set(message.team.team_id, message.team);
      remember(message.team);
      scheduleRender(message.team.team_id);
    } else if (message.type === "alert" && message.change) {
      alertChanges.unshift(message.change);
      alertChanges.length = Math.min(alertChanges.length, 50);
      const team = teams.get(message.change.team_id);
      if (team) { team.alerts = message.team_alerts || []; scheduleRender(team.team_id); }
      renderAlerts();
    } else if (message.type === "team_removed") {
      // Hidden by an organiser, or every report in the trash.
      teams.delete(message.team_id);
      forget(message.team_id);
      scheduleRender();
    } else if (message.type === "team_status") {
      const team = teams.get(message.team_id);
      if (!team) return;
      team.is_active = Boolean(message.is_active);
      team.on_board = Boolean(message.on_board);
      scheduleRender(message.team_id);
    }
  }

  // ---- connection: WebSocket first, polling as the fallback ----------------
  const conn = { mode: "connecting", attempts: 0, pollTimer: null, pushOff: body.dataset.websocket === "off", offline: false };

  function showMode() {
    const indicator = document.getElementById("conn");
    const mode = conn.offline ? "offline" : conn.mode;
    indicator.dataset.state = mode === "push_off" ? "polling" : mode;
    document.getElementById("conn-text").textContent = t(`conn_${mode}`);
  }
  function setMode(mode) { conn.mode = mode; showMode(); }

  async function poll() {
    try {
      const response = await fetch("/api/teams", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const list = await response.json();
      conn.offline = false;
      if (conn.pollTimer !== null) applyAll(Array.isArray(list) ? list : []);
      if (conn.pollTimer !== null) await contestView?.measure();
      if (conn.pollTimer !== null) await revealView?.measure();
      const alerts = await fetch("/api/alerts", { cache: "no-store" });
      if (alerts.ok && conn.pollTimer !== null) {
        alertChanges = ((await alerts.json()).changes || []).slice(0, 50);
        renderAlerts();
      }
    } catch (_) {
      conn.offline = true;
    }
    showMode();
  }
  function startPolling() {
    if (conn.pollTimer !== null) return;
    conn.pollTimer = setInterval(poll, POLL_MS);
    poll();
  }
  function stopPolling() {
    if (conn.pollTimer !== null) clearInterval(conn.pollTimer);
    conn.pollTimer = null;
    conn.offline = false;
  }

  /** True when the server says its push is off (`/ws` answers 404 JSON to a plain GET). */
  async function pushIsOff() {
    try {
      const response = await fetch("/ws", { cache: "no-store" });
      return response.status === 404;
    } catch (_) {
      return false;
    }
  }

  /** An archive's board: the final standings, whatever contest.js titles a ranking. */
  function showArchive() {
    if (archive?.data.kind !== "board") return;
    document.getElementById("ranking-title").textContent = t("final_ranking");
    document.querySelector(".foot span").textContent = t("footer_archive");
  }

  function connect() {
    if (archive) {
      setMode("archive");
      if (archive.data.snapshot) handleMessage(archive.data.snapshot);
      showArchive();
      return;
    }
    if (conn.pushOff) { setMode("push_off"); startPolling(); return; }
    let socket;
    try {
      // ws: or wss: as the page is http: or https:, built without spelling a URL.
      socket = new WebSocket(new URL("/ws", location.href.replace(/^http/, "ws")));
    } catch (_) {
      retry(false);
      return;
    }
    let opened = false;
    socket.onopen = () => { opened = true; };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; /* ignore a malformed message */ }
      // Live only once the snapshot is in: a server at --max-viewers opens and then
      // closes at once, and must not reset the back-off.
      if (message.type === "snapshot") { conn.attempts = 0; stopPolling(); setMode("live"); }
      handleMessage(message);
    };
    socket.onclose = () => retry(opened);
  }

  async function retry(wasOpen) {
    conn.attempts += 1;
    if (!wasOpen && (await pushIsOff())) { conn.pushOff = true; connect(); return; }
    // The first retry after a live connection is quick; then back off, polling meanwhile.
    setMode(wasOpen && conn.attempts === 1 ? "reconnecting" : "polling");
    startPolling();
    const base = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** Math.min(conn.attempts - 1, 5));
    setTimeout(connect, base * (0.75 + Math.random() * 0.5));
  }

  // ---- language, clock ----------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("page_title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    document.getElementById("lang").textContent = t("switch_to");
    for (const node of document.querySelectorAll("[data-shown]")) delete node.dataset.shown;
    showMode();
    render();
    renderAlerts();
    document.dispatchEvent(new CustomEvent("benchboard:language", { detail: lang }));
    contestView?.render();
    revealView?.render();
    showArchive();
  }
  document.getElementById("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* storage blocked */ }
    applyLanguage();
  });

  function tick() {
    // The replayed time on the replay, an archive's own time, else the server's
    // (contest.js measures the offset at connect), as the contest's.
    const now = replayAt ?? (archive ? archive.now : contestView ? contestView.serverNow() : Date.now());
    document.getElementById("clock").textContent = new Date(now).toLocaleTimeString(t("locale"), { hour12: false });
    for (const node of document.querySelectorAll(".ago")) node.textContent = fmtAgo(node.dataset.at);
  }
  setInterval(tick, 1000);
  setInterval(() => { for (const [id, card] of cardNodes) drawSpark(card.querySelector(".spark"), sparks.get(id) || []); }, 15000);

  applyLanguage();
  tick();
  if (!replay) {
    connect();
    return;
  }
  setMode("replay");
  window.BenchBoardBoard = {
    /** Shows `list` (entries shaped as /api/teams gives them, with `rank`) and each
     * card's sparkline points (`sparkPoints`: team id -> [{at, qps, p99}]) as the
     * board stood at `atMs`. */
    show(list, sparkPoints, atMs) {
      replayAt = atMs;
      for (const [id, points] of sparkPoints) sparks.set(id, points);
      applyAll(list);
      tick();
    },
    language: () => lang,
  };
})();
