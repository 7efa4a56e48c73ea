// BenchBoard contest view: the phase in the top bar, a countdown with the registered
// teams before the start, the time left during the contest, "final standings" after
// the end. Times are the server's: the page measures its offset from the server's
// clock when it connects (GET /api/contest) and again at each `contest` message, so a
// device with a wrong clock still counts down right.
//
// Safety: team names reach the page through textContent only.
"use strict";
window.BenchBoardContest = (() => {
  const TEXT = {
    zh: {
      countdown: "未开始", live: "比赛中", frozen: "已封榜", ended: "已结束",
      starts_in: "距比赛开始", left: "剩余", final: "最终排名", ranking: "实时排名",
      ended_note: "比赛已结束：最终排名", registered: (n) => `已报名的团队（${n}）`,
      schedule: (s, e) => `开始 ${s} · 结束 ${e}`, locale: "zh-CN",
      rule: (basis, better, value) => `排名依据：${basis}（${better === "lower" ? "越低越好" : "越高越好"}，取${value === "latest" ? "最新" : "最佳"}成绩，同分先达者优先）`,
      rule_disq: (list) => `取消资格：${list}`, disq: "取消资格", score: "得分", or: " 或 ",
    },
    en: {
      countdown: "Not started", live: "Live", frozen: "Frozen", ended: "Ended",
      starts_in: "The contest starts in", left: "left", final: "Final standings", ranking: "Live ranking",
      ended_note: "The contest has ended: final standings", registered: (n) => `Registered teams (${n})`,
      schedule: (s, e) => `Starts ${s} · ends ${e}`, locale: "en-US",
      rule: (basis, better, value) => `Ranked by ${basis} (${better} is better, each team's ${value} report; ties to who reached it first)`,
      rule_disq: (list) => `Disqualified when ${list}`, disq: "Disqualified", score: "Score", or: " or ",
    },
  };
  let contest = null;
  let ranking = null; // the [ranking] rule as the server describes it, or null
  let offsetMs = 0; // server clock minus ours
  let synced = false; // offsetMs measured: until then no time is shown
  let timer = null;
  const lang = () => (document.documentElement.lang === "en" ? "en" : "zh");
  const t = (key) => TEXT[lang()][key];
  const serverNow = () => Date.now() + offsetMs;
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);

  function clock(ms) {
    if (!synced) return "--:--:--";
    const total = Math.max(0, Math.ceil(ms / 1000));
    const d = Math.floor(total / 86400);
    const h = String(Math.floor((total % 86400) / 3600)).padStart(2, "0");
    const m = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
    const s = String(total % 60).padStart(2, "0");
    return d > 0 ? `${d}d ${h}:${m}:${s}` : `${h}:${m}:${s}`;
  }
  const time = (ms) => new Date(ms).toLocaleString(t("locale"), { hour12: false, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function valid(c) {
    return c && typeof c === "object" && isNum(c.start_ms) && isNum(c.end_ms) && typeof c.phase === "string";
  }

  /** Shows `next` (a contest or null) and `rule` (a ranking rule or null); `now` is
   *  the server's time in ms when given. */
  function apply(next, now, rule) {
    if (isNum(now)) { offsetMs = now - Date.now(); synced = true; }
    contest = valid(next) ? next : null;
    ranking = rule && typeof rule === "object" ? rule : null;
    render();
  }

  /** Measures the offset from the server's clock (half the round trip) and shows its contest. */
  async function measure() {
    try {
      const sent = Date.now();
      const response = await fetch("/api/contest", { cache: "no-store" });
      const received = Date.now();
      if (!response.ok) return;
      const answer = await response.json();
      if (isNum(answer.now)) { offsetMs = answer.now - (sent + received) / 2; synced = true; }
      contest = valid(answer.contest) ? answer.contest : null;
      ranking = answer.ranking && typeof answer.ranking === "object" ? answer.ranking : null;
      render();
    } catch (_) { /* keep what is shown */ }
  }

  function renderTeams(list) {
    const teams = Array.isArray(contest.teams) ? contest.teams : [];
    list.replaceChildren(...teams.map((team) => {
      const item = document.createElement("li");
      item.textContent = String(team.team_name);
      item.title = String(team.team_id);
      return item;
    }));
    document.getElementById("contest-registered").textContent = teams.length ? t("registered")(teams.length) : "";
  }

  /** The order of the ranking: by `rank` when the server ranks (a [ranking] rule or a
   *  schedule), else null (the page keeps the original's order). */
  function compare(a, b) {
    if (isNum(a.rank) && isNum(b.rank)) return a.rank - b.rank;
    if (isNum(a.rank) !== isNum(b.rank)) return isNum(a.rank) ? -1 : 1;
    return null;
  }

  /** "disqualified: data_loss_rate > 1 (2.50)" for a team that does not qualify, else "". */
  function reasons(team) {
    if (team.qualified !== false) return "";
    const list = Array.isArray(team.disqualified_for) ? team.disqualified_for : [];
    const text = list.map((r) => `${String(r.condition)} (${isNum(r.value) ? r.value.toFixed(2) : "?"})`).join(t("or"));
    return text ? `${t("disq")}: ${text}` : t("disq");
  }

  function renderRule() {
    const line = document.getElementById("ranking-rule");
    if (!line) return;
    line.hidden = !ranking;
    for (const node of document.querySelectorAll("th.score-col")) node.hidden = !ranking;
    if (!ranking) { line.textContent = ""; return; }
    const basis = String(ranking.score ?? ranking.by ?? "qps");
    let text = t("rule")(basis, String(ranking.better), String(ranking.value));
    const disq = Array.isArray(ranking.disqualify) ? ranking.disqualify.map(String) : [];
    if (disq.length) text += ` · ${t("rule_disq")(disq.join(t("or")))}`;
    line.textContent = text;
  }

  function render() {
    renderRule();
    const body = document.body;
    const pill = document.getElementById("phase");
    const panel = document.getElementById("contest-panel");
    const title = document.getElementById("ranking-title");
    if (!pill || !panel) return;
    if (!contest) {
      delete body.dataset.phase;
      pill.hidden = true;
      panel.hidden = true;
      if (title) title.textContent = t("ranking");
      stopTimer();
      return;
    }
    const phase = contest.phase;
    body.dataset.phase = phase;
    pill.hidden = false;
    pill.dataset.phase = phase;
    panel.hidden = phase !== "countdown" && phase !== "ended";
    panel.dataset.phase = phase;
    if (title) title.textContent = phase === "ended" ? t("final") : t("ranking");
    document.getElementById("contest-schedule").textContent = t("schedule")(time(contest.start_ms), time(contest.end_ms));
    document.getElementById("contest-heading").textContent = phase === "ended" ? t("ended_note") : t("starts_in");
    renderTeams(document.getElementById("contest-teams"));
    tick();
    if (phase === "ended") stopTimer(); else startTimer();
  }

  function tick() {
    if (!contest) return;
    const now = serverNow();
    const pill = document.getElementById("phase");
    const label = t(contest.phase) || contest.phase;
    let text = label;
    if (contest.phase === "countdown") text = `${label} · ${clock(contest.start_ms - now)}`;
    else if (contest.phase === "live" || contest.phase === "frozen") text = `${label} · ${t("left")} ${clock(contest.end_ms - now)}`;
    pill.textContent = text;
    document.getElementById("contest-countdown").textContent = contest.phase === "countdown" ? clock(contest.start_ms - now) : "";
  }

  function startTimer() { if (timer === null) timer = setInterval(tick, 250); }
  function stopTimer() { if (timer !== null) clearInterval(timer); timer = null; }

  return { apply, measure, render, compare, reasons, serverNow, t, get contest() { return contest; }, get ranking() { return ranking; } };
})();
