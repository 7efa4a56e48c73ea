// BenchBoard freeze and reveal: the "frozen" banner while the public board shows the
// standings as they stood at the freeze, and the reveal ceremony: the standings from
// the freeze to the final ones, one team at a time from the last place up, each step
// animated (the row moves to its new place) and held until the organiser's next step.
//
// The server sends the state as `freeze` (in the snapshot, in `freeze` messages and
// in GET /api/contest): {frozen, since, reveal: {status, step, steps, current,
// standings}}. A viewer that joins mid-reveal gets the same step.
//
// Safety: team names reach the page through textContent only.
"use strict";
window.BenchBoardReveal = (() => {
  const TEXT = {
    zh: {
      frozen: (at) => `已封榜 · 公开看板停在 ${at} 封榜时的成绩，比赛结束后揭晓`,
      title: "揭榜", step: (a, b) => `第 ${a} / ${b} 步`, start: "封榜时的排名",
      moved: (name, from, to) => (from === to ? `${name} 保持第 ${to} 名` : `${name}：第 ${from} 名 → 第 ${to} 名`),
      pending: "待揭晓", revealed: "已揭晓", none: "—", locale: "zh-CN",
    },
    en: {
      frozen: (at) => `Frozen · the public board shows the standings as at ${at}; revealed after the end`,
      title: "Reveal", step: (a, b) => `Step ${a} of ${b}`, start: "Standings at the freeze",
      moved: (name, from, to) => (from === to ? `${name} stays #${to}` : `${name}: #${from} → #${to}`),
      pending: "pending", revealed: "revealed", none: "—", locale: "en-US",
    },
  };
  const lang = () => (document.documentElement.lang === "en" ? "en" : "zh");
  const t = (key) => TEXT[lang()][key];
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  let note = null;
  let shownStep = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  const score = (v) => (isNum(v) ? new Intl.NumberFormat(t("locale"), { maximumFractionDigits: 2 }).format(v) : t("none"));
  const time = (text) => {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? String(text || "") : new Date(ms).toLocaleTimeString(t("locale"), { hour12: false });
  };

  /** Shows the server's `freeze` object (or nothing, outside contest mode). */
  function apply(next) {
    note = next && typeof next === "object" ? next : null;
    render();
  }

  async function measure() {
    try {
      const response = await fetch("/api/contest", { cache: "no-store" });
      if (response.ok) apply((await response.json()).freeze);
    } catch (_) { /* keep what is shown */ }
  }

  function renderBanner() {
    const banner = document.getElementById("freeze-banner");
    if (!banner) return;
    const frozen = Boolean(note && note.frozen);
    const changed = banner.hidden === frozen;
    banner.hidden = !frozen;
    // The banner takes room from the big screen's board: lay it out again.
    if (changed) window.BenchBoardFit?.refit();
    document.body.dataset.frozen = frozen ? "true" : "false";
    if (frozen) banner.textContent = t("frozen")(time(note.since));
  }

  function row(r, current) {
    const item = el("li", "reveal-row");
    item.dataset.team = String(r.team_id);
    if (r.revealed) item.classList.add("revealed");
    if (current && current.team_id === r.team_id) item.classList.add("current");
    item.append(
      el("span", "rank", `#${Number(r.rank) || ""}`),
      el("span", "name", String(r.team_name || r.team_id)),
      el("span", "score", score(r.score)),
      el("span", "state", r.revealed ? t("revealed") : t("pending")),
    );
    item.title = String(r.team_id);
    return item;
  }

  // FLIP: each row starts where it was and slides to its new place.
  function animate(list, before) {
    for (const item of list.children) {
      const old = before.get(item.dataset.team);
      if (old === undefined) continue;
      const delta = old - item.getBoundingClientRect().top;
      if (!delta) continue;
      item.animate([{ transform: `translateY(${delta}px)` }, { transform: "none" }], { duration: 1200, easing: "cubic-bezier(.2,.7,.2,1)" });
    }
  }

  function renderReveal() {
    const panel = document.getElementById("reveal");
    if (!panel) return;
    const reveal = note && note.reveal;
    const open = Boolean(reveal && reveal.status === "revealing" && Array.isArray(reveal.standings));
    panel.hidden = !open;
    document.body.dataset.reveal = open ? "true" : "false";
    if (!open) { shownStep = null; return; }
    document.getElementById("reveal-title").textContent = t("title");
    document.getElementById("reveal-step").textContent = t("step")(reveal.step, reveal.steps);
    const current = reveal.current;
    document.getElementById("reveal-current").textContent = current
      ? t("moved")(String(current.team_name || current.team_id), current.from_rank, current.to_rank)
      : t("start");
    const list = document.getElementById("reveal-rows");
    const before = new Map([...list.children].map((item) => [item.dataset.team, item.getBoundingClientRect().top]));
    list.replaceChildren(...reveal.standings.map((r) => row(r, current)));
    if (shownStep !== null && shownStep !== reveal.step) animate(list, before);
    shownStep = reveal.step;
    list.querySelector(".current")?.scrollIntoView({ block: "nearest" });
  }

  function render() { renderBanner(); renderReveal(); }

  return { apply, measure, render };
})();
