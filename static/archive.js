// BenchBoard static archive (`benchboard-history archive`): the pages of the live
// board read their data from a JSON object inlined in the page (the
// `<script type="application/json" id="benchboard-archive">` element) instead of
// the server's API, so the same app.js and team.js draw the archive from a disk
// (a file: URL) or any static host, with no request leaving the page. Loaded first, in the
// archive's pages only; the live server never serves it.
"use strict";
(() => {
  const node = document.getElementById("benchboard-archive");
  if (!node) return;
  let data;
  try { data = JSON.parse(node.textContent); } catch (_) { return; }
  if (!data || typeof data !== "object") return;
  const root = typeof data.root === "string" ? data.root : "";

  /** `{path, params}` of an API URL as the pages build them (`/api/...?a=b`). */
  function split(url) {
    const at = url.indexOf("?");
    return at < 0 ? { path: url, params: new URLSearchParams() }
      : { path: url.slice(0, at), params: new URLSearchParams(url.slice(at + 1)) };
  }
  const count = (params, name, fallback) => {
    const n = Number(params.get(name));
    return Number.isInteger(n) && n >= 0 ? n : fallback;
  };

  /** A page of the team's reports, newest first, from the inlined table (oldest first). */
  function historyPage(params) {
    const rows = Array.isArray(data.history) ? data.history : [];
    const limit = Math.min(count(params, "limit", 10), 1000), offset = count(params, "offset", 0);
    const end = Math.max(0, rows.length - offset), start = Math.max(0, end - limit);
    const history = rows.slice(start, end).reverse();
    return { team_id: data.team?.team_id, history, total: rows.length, limit, offset, has_more: start > 0 };
  }

  /** The answer the server would give to `url`, from the inlined data. */
  function answer(url) {
    const { path, params } = split(url);
    const match = /^\/api\/teams\/([A-Za-z0-9_-]{1,64})(\/history(\/summary|\/series)?)?$/.exec(path);
    if (!match) return undefined;
    const [, id, history, sub] = match;
    if (data.kind === "board") return sub === "/series" ? data.sparks?.[id] : undefined;
    if (id !== data.team?.team_id) return undefined;
    if (!history) return data.team;
    if (sub === "/summary") return data.summary;
    if (sub === "/series") return data.series;
    return historyPage(params);
  }

  // The replay page (replay.js) takes its timeline from here.
  if (data.kind === "replay" && data.replay) window.BENCHBOARD_REPLAY = data.replay;

  window.BenchBoardArchive = {
    data,
    /** The archive's end (ms since the epoch): "now" for the pages' clocks and windows. */
    now: Number.isFinite(data.now_ms) ? data.now_ms : Date.now(),
    /** The team's page in the archive. */
    teamHref: (id) => `${root}team/${encodeURIComponent(id)}.html`,
    /** Like `fetch(url).then(r => r.json())` against the server. */
    get(url) {
      const value = answer(url);
      return value === undefined ? Promise.reject(new Error(`${url}: not in the archive`)) : Promise.resolve(value);
    },
  };
})();
