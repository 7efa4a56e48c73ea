// BenchBoard replay: plays the whole contest from its timeline (`GET /api/replay`, or
// `window.BENCHBOARD_REPLAY` when a static archive inlines it) at 1× to 600×, with
// play/pause, a scrubber and the ranking changes marked on it. The board itself is
// app.js's: each frame hands it the teams as they stood then (BenchBoardBoard.show).
//
// Safety: team names reach the page only through app.js (textContent) and the marks'
// titles (set by the DOM API), never as HTML.
"use strict";
(() => {
  const SPARK_WINDOW_MS = 10 * 60 * 1000;
  const LANG = {
    zh: {
      page_title: "BenchBoard - 回放", ranking: "排名", board_link: "实时看板", speed: "速度",
      loading: "加载中…", play: "播放", pause: "暂停", time: "时间",
      empty: "还没有任何上报，无法回放", failed: (why) => `无法加载回放：${why}`,
      frozen: (at) => `封榜中：回放停在 ${at}（揭晓后可看全程）`,
      moved: (name, from, to) => `${name}：${from === null ? "进入" : `第 ${from} 名 →`} 第 ${to} 名`,
      ended: "回放结束", locale: "zh-CN",
    },
    en: {
      page_title: "BenchBoard - Replay", ranking: "Ranking", board_link: "Live board", speed: "Speed",
      loading: "Loading…", play: "Play", pause: "Pause", time: "Time",
      empty: "Nothing was reported yet: nothing to replay", failed: (why) => `Cannot load the replay: ${why}`,
      frozen: (at) => `Frozen: the replay stops at ${at} (the whole contest after the reveal)`,
      moved: (name, from, to) => `${name}: ${from === null ? "enters at" : `#${from} →`} #${to}`,
      ended: "End of the replay", locale: "en-US",
    },
  };
  const board = window.BenchBoardBoard;
  const bar = document.getElementById("replay-bar");
  const playButton = document.getElementById("replay-play");
  const speedSelect = document.getElementById("replay-speed");
  const scrubber = document.getElementById("replay-scrubber");
  const marks = document.getElementById("replay-marks");
  const timeOut = document.getElementById("replay-time");
  const note = document.getElementById("replay-note");
  if (!board || !bar) return;
  const text = (key) => LANG[board.language()][key];

  const state = { data: null, teams: [], at: 0, frame: -1, playing: false, last: 0, noteKey: "loading", noteArg: null };
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);

  // ---- the timeline --------------------------------------------------------
  /** The last index of `list` whose `key(item)` is at most `at` (-1: none). */
  function lastAtOrBefore(list, at, key) {
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (key(list[mid]) <= at) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
  }

  /** Checks the answer's shape enough to draw from it; team names stay strings. */
  function accept(data) {
    if (!data || !Array.isArray(data.teams) || !isNum(data.from_ms) || !isNum(data.to_ms) || !isNum(data.step_ms)) {
      throw new Error("not a replay timeline");
    }
    const field = (name) => (Array.isArray(data.fields) ? data.fields.indexOf(name) : -1);
    const at = Object.fromEntries(["t", "qps", "avg_latency", "p99_latency", "data_loss_rate", "high_priority_latency",
      "verify_error_rate", "best_qps", "best_latency", "reports", "score", "qualified"].map((n) => [n, field(n)]));
    state.data = data;
    state.orders = Array.isArray(data.orders) ? data.orders.filter((o) => isNum(o.t) && Array.isArray(o.order)) : [];
    state.teams = data.teams
      .filter((x) => x && typeof x.team_id === "string" && Array.isArray(x.points))
      .map((x) => ({
        id: x.team_id,
        name: String(x.team_name ?? x.team_id),
        points: x.points.filter((p) => Array.isArray(p) && isNum(p[at.t])).map((p) => ({
          t: p[at.t], qps: p[at.qps], avg: p[at.avg_latency], p99: p[at.p99_latency], loss: p[at.data_loss_rate],
          hp: p[at.high_priority_latency], verify: p[at.verify_error_rate], bestQps: p[at.best_qps],
          bestLatency: p[at.best_latency], reports: p[at.reports], score: p[at.score], qualified: p[at.qualified],
        })),
      }));
    state.names = new Map(state.teams.map((x) => [x.id, x.name]));
    // Shown inactive after its threshold, or two frames when frames are further apart.
    state.inactiveMs = Math.max(isNum(data.inactive_after_ms) ? data.inactive_after_ms : 300000, 2 * data.step_ms);
  }

  /** The board at `at`: each team's last point up to then, placed by the order then. */
  function boardAt(at) {
    const orderIndex = lastAtOrBefore(state.orders, at, (o) => o.t);
    const places = new Map((orderIndex >= 0 ? state.orders[orderIndex].order : []).map((id, i) => [id, i + 1]));
    const list = [];
    const sparkPoints = new Map();
    for (const team of state.teams) {
      const i = lastAtOrBefore(team.points, at, (p) => p.t);
      if (i < 0) continue;
      const p = team.points[i];
      const when = new Date(p.t).toISOString();
      list.push({
        team_id: team.id, team_name: team.name, on_board: true, is_active: at - p.t <= state.inactiveMs,
        last_update: when, report_count: p.reports, rank: places.get(team.id) ?? Infinity,
        qps: p.qps, avg_latency: p.avg, p99_latency: p.p99, data_loss_rate: p.loss,
        metrics: { high_priority_latency: p.hp }, stats: { totalVerifyErrorRate: p.verify ?? undefined },
        best_qps: p.bestQps, best_latency: p.bestLatency, score: p.score, qualified: p.qualified,
        warnings: [], alerts: [],
      });
      const first = lastAtOrBefore(team.points, at - SPARK_WINDOW_MS, (q) => q.t) + 1;
      sparkPoints.set(team.id, team.points.slice(first, i + 1).map((q) => ({ at: q.t, qps: q.qps || 0, p99: q.p99 || 0 })));
    }
    return [list, sparkPoints];
  }

  // ---- drawing ---------------------------------------------------------------
  const frameOf = (at) => Math.max(0, Math.min(state.data.frames - 1, Math.floor((at - state.data.from_ms) / state.data.step_ms)));
  const fmtWhen = (ms) => new Date(ms).toLocaleString(text("locale"), { hour12: false });

  function draw(force) {
    const frame = frameOf(state.at);
    timeOut.textContent = fmtWhen(state.at);
    bar.dataset.at = String(Math.round(state.at));
    if (!force && frame === state.frame) return;
    state.frame = frame;
    scrubber.value = String(frame);
    const [list, sparkPoints] = boardAt(state.at);
    board.show(list, sparkPoints, state.at);
  }

  function drawMarks() {
    const { from_ms: from, to_ms: to } = state.data;
    const span = Math.max(1, to - from);
    const items = [];
    const byTime = new Map();
    for (const change of Array.isArray(state.data.changes) ? state.data.changes : []) {
      if (!isNum(change.t)) continue;
      if (!byTime.has(change.t)) byTime.set(change.t, []);
      byTime.get(change.t).push(change);
    }
    for (const [t, changes] of byTime) {
      const mark = document.createElement("button");
      mark.type = "button";
      mark.className = "mark";
      mark.tabIndex = -1;
      mark.style.left = `${(((t - from) / span) * 100).toFixed(3)}%`;
      mark.dataset.t = String(t);
      mark.title = `${fmtWhen(t)}\n${changes.map((c) => text("moved")(state.names.get(c.team_id) ?? c.team_id, c.from ?? null, c.to)).join("\n")}`;
      mark.addEventListener("click", () => seek(t));
      items.push(mark);
    }
    const freeze = state.data.contest && state.data.contest.freeze_ms;
    if (isNum(freeze) && freeze >= from && freeze <= to) {
      const line = document.createElement("span");
      line.className = "freeze-line";
      line.style.left = `${(((freeze - from) / span) * 100).toFixed(3)}%`;
      items.push(line);
    }
    marks.replaceChildren(...items);
  }

  function showNote(key, arg) {
    state.noteKey = key;
    state.noteArg = arg ?? null;
    const value = key ? text(key) : "";
    note.textContent = typeof value === "function" ? value(arg) : value;
    note.hidden = !key;
  }

  function showPlaying() {
    playButton.textContent = state.playing ? "❚❚" : "▶";
    playButton.setAttribute("aria-label", text(state.playing ? "pause" : "play"));
    playButton.title = playButton.getAttribute("aria-label");
    bar.dataset.playing = String(state.playing);
  }

  function applyLanguage() {
    document.title = text("page_title");
    document.getElementById("ranking-title").textContent = text("ranking");
    for (const node of document.querySelectorAll("[data-replay-i18n]")) node.textContent = text(node.dataset.replayI18n);
    scrubber.setAttribute("aria-label", text("time"));
    bar.setAttribute("aria-label", text("page_title"));
    showPlaying();
    showNote(state.noteKey, state.noteArg);
    if (state.data) { drawMarks(); draw(true); }
  }
  document.addEventListener("benchboard:language", applyLanguage);

  // ---- playing -----------------------------------------------------------------
  function seek(at) {
    state.at = Math.max(state.data.from_ms, Math.min(state.data.to_ms, at));
    if (state.noteKey === "ended") showFrozen();
    draw(false);
  }

  function loop(now) {
    if (!state.playing) return;
    const speed = Number(speedSelect.value) || 1;
    state.at += (now - state.last) * speed;
    state.last = now;
    if (state.at >= state.data.to_ms) {
      state.at = state.data.to_ms;
      state.playing = false;
      showPlaying();
      showNote("ended");
    }
    draw(false);
    if (state.playing) requestAnimationFrame(loop);
  }

  function play(on) {
    if (!state.data || state.data.frames < 1) return;
    if (on && state.at >= state.data.to_ms) seek(state.data.from_ms);
    state.playing = on;
    if (on) { showFrozen(); state.last = performance.now(); requestAnimationFrame(loop); }
    showPlaying();
  }
  /** The note that the timeline stops at the freeze (none when it does not). */
  function showFrozen() {
    const cutoff = state.data.cutoff_ms;
    if (isNum(cutoff)) showNote("frozen", fmtWhen(cutoff)); else showNote(null);
  }

  playButton.addEventListener("click", () => play(!state.playing));
  scrubber.addEventListener("input", () => seek(state.data.from_ms + Number(scrubber.value) * state.data.step_ms));
  document.addEventListener("keydown", (event) => {
    if (!state.data || event.target instanceof HTMLSelectElement) return;
    if (event.key === " " && !(event.target instanceof HTMLButtonElement)) { event.preventDefault(); play(!state.playing); }
  });

  // ---- loading -------------------------------------------------------------------
  async function timeline() {
    if (window.BENCHBOARD_REPLAY) return window.BENCHBOARD_REPLAY;
    // from, to and step of the page's own address are passed on.
    const asked = new URLSearchParams(location.search);
    const query = new URLSearchParams();
    for (const key of ["from", "to", "step"]) if (asked.has(key)) query.set(key, asked.get(key));
    const response = await fetch(`/api/replay${query.toString() ? `?${query}` : ""}`, { cache: "no-store" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof answer.error === "string" ? answer.error : `HTTP ${response.status}`);
    return answer;
  }

  async function start() {
    try {
      accept(await timeline());
    } catch (error) {
      bar.dataset.state = "failed";
      showNote("failed", String(error.message || error));
      return;
    }
    const data = state.data;
    scrubber.max = String(Math.max(0, data.frames - 1));
    const empty = data.frames < 1 || state.teams.length === 0;
    scrubber.disabled = playButton.disabled = empty;
    bar.dataset.state = empty ? "empty" : "ready";
    if (empty) showNote("empty"); else showFrozen();
    const asked = Number(new URLSearchParams(location.search).get("at"));
    state.at = isNum(asked) && asked > 0 ? asked : data.from_ms;
    if (!empty) seek(state.at);
    drawMarks();
    if (!empty && new URLSearchParams(location.search).has("play")) play(true);
  }

  applyLanguage();
  start();
})();
