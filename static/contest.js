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
    },
    en: {
      countdown: "Not started", live: "Live", frozen: "Frozen", ended: "Ended",
      starts_in: "The contest starts in", left: "left", final: "Final standings", ranking: "Live ranking",
      ended_note: "The contest has ended: final standings", registered: (n) => `Registered teams (${n})`,
      schedule: (s, e) => `Starts ${s} · ends ${e}`, locale: "en-US",
    },
  };
  let contest = null;
  let offsetMs = 0; // server clock minus ours
  let timer = null;
  const lang = () => (document.documentElement.lang === "en" ? "en" : "zh");
  const t = (key) => TEXT[lang()][key];
  const serverNow = () => Date.now() + offsetMs;
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);

  function clock(ms) {
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

  /** Shows `next` (a contest or null); `now` is the server's time in ms when given. */
  function apply(next, now) {
    if (isNum(now)) offsetMs = now - Date.now();
    contest = valid(next) ? next : null;
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
      if (isNum(answer.now)) offsetMs = answer.now - (sent + received) / 2;
      contest = valid(answer.contest) ? answer.contest : null;
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

  function render() {
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

  return { apply, measure, render, serverNow, get contest() { return contest; } };
})();
