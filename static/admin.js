// BenchBoard admin page: every team (hidden ones too) with its reports, the trash
// and the audit log; hide, show, rename, trash, restore, reset.
//
// The admin token is typed once, kept in sessionStorage (this tab only), sent as
// `Authorization: Bearer`, never put in a URL. Every string that came from a client
// or the server reaches the page through textContent, never as HTML.
"use strict";
(() => {
  const TOKEN_KEY = "benchboard.admin_token";
  const LANG_KEY = "benchboard.lang";
  const CONFIRM = "reset all teams";
  const PAGE = 20;
  const POLL_MS = 5000;

  const I18N = {
    zh: {
      title: "管理", page_title: "BenchBoard - 管理", back: "← 返回看板", logout: "退出",
      login_title: "管理员登录", token_label: "管理员令牌", login: "登录",
      login_note: "令牌只保存在本标签页（sessionStorage），以 Bearer 发送，不会出现在网址中。",
      bad_token: "令牌不正确", no_admin: "管理接口未开启：配置文件中没有 [admin]", too_many: "尝试次数过多，请稍后再试",
      teams: "团队", teams_note: "隐藏的团队不在看板上显示，其上报仍会保存。", team_id: "ID", name: "名称", reports: "上报",
      best_qps: "最佳 QPS", state: "状态", actions: "操作", shown: "显示中", hidden: "已隐藏",
      hide: "隐藏", show: "显示", rename: "改名", reset: "清零", view_reports: "上报记录", close: "关闭",
      file: "文件", time: "时间", avg_ms: "平均延迟 ms", trash_one: "移入回收站", restore: "恢复",
      newer: "较新", older: "较旧", page: (a, b, n) => `${a}–${b} / 共 ${n}`,
      trash: "回收站", trash_note: "移入回收站的上报不计入成绩、历史与导出，可原样恢复。", bytes: "字节", trash_empty: "回收站为空",
      audit: "操作记录", audit_empty: "暂无操作",
      reset_all_title: "全部清零（彩排结束）", reset_all: "全部移入回收站", reload: "重新读取配置文件",
      confirm_label: (p) => `输入 “${p}” 以确认：`,
      confirm_reset: (id) => `把团队 ${id} 的全部上报移入回收站？`,
      done: "已完成", failed: (m) => `失败：${m}`, reloaded: "配置文件已重新读取",
      conn_live: "实时", conn_polling: "轮询", conn_connecting: "连接中…",
      switch_to: "English", locale: "zh-CN", none: "—",
      reveal_title: "封榜与揭榜", reveal_note: "封榜期间公开看板停在封榜时刻；上表是实时成绩（只有持管理员令牌可见）。比赛结束后从最后一名开始逐队揭晓。",
      reveal_start: "开始揭榜", reveal_next: "下一步", reveal_every: "自动间隔（秒）", reveal_auto: "自动揭榜",
      reveal_off: "没有封榜（[contest] freeze 未设置）", reveal_live: "未封榜：公开看板与本页相同",
      reveal_frozen: (at) => `已封榜（${at} 起）：公开看板停在封榜时刻，等待比赛结束后揭榜`,
      reveal_at: (a, b, c) => `揭榜中：第 ${a} / ${b} 步${c ? ` · ${c}` : ""}`, reveal_done: "揭榜完成：看板已解封，公开看板即实时成绩",
      reveal_moved: (n, f, to) => `${n}：第 ${f} → 第 ${to} 名`,
      actions_names: { hide: "隐藏", show: "显示", rename: "改名", trash: "移入回收站", restore: "恢复", reset: "清零", "reset-all": "全部清零", reload: "重新读取配置" },
    },
    en: {
      title: "Admin", page_title: "BenchBoard - Admin", back: "← Back to the board", logout: "Log out",
      login_title: "Organiser login", token_label: "Admin token", login: "Log in",
      login_note: "The token stays in this tab only (sessionStorage), is sent as Bearer and never put in a URL.",
      bad_token: "Wrong token", no_admin: "The admin API is off: the contest file has no [admin]", too_many: "Too many attempts; try again later",
      teams: "Teams", teams_note: "Hidden teams are not shown on the board; their reports are still stored.", team_id: "ID", name: "Name", reports: "Reports",
      best_qps: "Best QPS", state: "State", actions: "Actions", shown: "shown", hidden: "hidden",
      hide: "Hide", show: "Show", rename: "Rename", reset: "Reset", view_reports: "Reports", close: "Close",
      file: "File", time: "Time", avg_ms: "Avg ms", trash_one: "To trash", restore: "Restore",
      newer: "Newer", older: "Older", page: (a, b, n) => `${a}–${b} of ${n}`,
      trash: "Trash", trash_note: "Trashed reports count for no record, history or export, and come back byte for byte.", bytes: "Bytes", trash_empty: "The trash is empty",
      audit: "Audit log", audit_empty: "No action yet",
      reset_all_title: "Reset every team (the rehearsal is over)", reset_all: "Move every report to the trash", reload: "Reload the contest file",
      confirm_label: (p) => `Type “${p}” to confirm:`,
      confirm_reset: (id) => `Move every report of team ${id} to the trash?`,
      done: "Done", failed: (m) => `Failed: ${m}`, reloaded: "Contest file reloaded",
      conn_live: "Live", conn_polling: "Polling", conn_connecting: "Connecting…",
      switch_to: "中文", locale: "en-US", none: "—",
      reveal_title: "Freeze and reveal", reveal_note: "During the freeze the public board stays as at the freeze; the table above is live (admin token only). After the end, reveal team by team from the last place up.",
      reveal_start: "Start the reveal", reveal_next: "Next step", reveal_every: "Auto every (s)", reveal_auto: "Auto reveal",
      reveal_off: "No freeze ([contest] freeze is not set)", reveal_live: "Not frozen: the public board is this one",
      reveal_frozen: (at) => `Frozen since ${at}: the public board stays as at the freeze until the reveal`,
      reveal_at: (a, b, c) => `Revealing: step ${a} of ${b}${c ? ` · ${c}` : ""}`, reveal_done: "Reveal finished: the board is thawed, the public sees the live standings",
      reveal_moved: (n, f, to) => `${n}: #${f} → #${to}`,
      actions_names: { hide: "hide", show: "show", rename: "rename", trash: "to trash", restore: "restore", reset: "reset", "reset-all": "reset all", reload: "reload" },
    },
  };

  let lang = "zh";
  try { lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh"; } catch (_) { /* storage blocked */ }
  const t = (key) => I18N[lang][key];
  const $ = (id) => document.getElementById(id);

  let token = null;
  try { token = sessionStorage.getItem(TOKEN_KEY); } catch (_) { /* storage blocked */ }
  const state = { teams: [], trash: [], audit: [], reportsOf: null, offset: 0, reports: null };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function button(label, onClick, className) {
    const node = el("button", className, label);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmt = (v, digits) => (isNum(v) ? new Intl.NumberFormat(t("locale"), { maximumFractionDigits: digits }).format(v) : t("none"));
  function fmtTime(text) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? String(text || t("none")) : new Date(ms).toLocaleString(t("locale"), { hour12: false });
  }
  const seg = encodeURIComponent;

  // ---- talking to the server ----------------------------------------------
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
    let answer = null;
    try { answer = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) throw new ApiError(response.status, (answer && answer.error) || `HTTP ${response.status}`);
    return answer;
  }
  function say(text, bad) {
    const node = $("message");
    node.textContent = text;
    node.classList.toggle("bad", Boolean(bad));
  }
  async function act(method, path, body) {
    try {
      await api(method, path, body);
      say(t("done"));
    } catch (error) {
      if (!loginFailed(error)) say(t("failed")(error.message), true);
    }
    await refresh();
  }
  /** A 401/403 on any call: the token is wrong (or was changed by a reload). */
  function loginFailed(error) {
    if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403 && error.status !== 429)) return false;
    logout();
    $("login-error").textContent = error.status === 429 ? t("too_many") : /admin API is off/.test(error.message) ? t("no_admin") : t("bad_token");
    return true;
  }

  // ---- loading ------------------------------------------------------------
  async function refresh() {
    if (!token) return;
    try {
      const [teams, trash, audit] = await Promise.all([
        api("GET", "/api/admin/teams"), api("GET", "/api/admin/trash"), api("GET", "/api/admin/audit?limit=100"),
      ]);
      state.teams = teams.teams || [];
      state.trash = trash.reports || [];
      state.audit = audit.entries || [];
      if (state.reportsOf) state.reports = await api("GET", `/api/admin/teams/${seg(state.reportsOf)}/reports?limit=${PAGE}&offset=${state.offset}`);
      showConsole();
      render();
    } catch (error) {
      if (!loginFailed(error)) say(t("failed")(error.message), true);
    }
  }

  // ---- rendering ----------------------------------------------------------
  function renderTeams() {
    const rows = state.teams.map((team) => {
      const row = el("tr", team.hidden ? "hidden-team" : "");
      row.dataset.team = team.team_id;
      const stateTag = el("span", team.hidden ? "tag" : "tag on", team.hidden ? t("hidden") : t("shown"));
      const name = el("input");
      name.type = "text";
      name.value = team.team_name;
      name.setAttribute("aria-label", t("name"));
      const base = `/api/admin/teams/${seg(team.team_id)}`;
      const actions = el("td", "actions");
      actions.append(
        button(team.hidden ? t("show") : t("hide"), () => act("POST", `${base}/${team.hidden ? "show" : "hide"}`), "toggle"),
        name,
        button(t("rename"), () => act("POST", `${base}/rename`, { name: name.value }), "rename"),
        button(t("view_reports"), () => openReports(team.team_id), "open-reports"),
        button(t("reset"), () => { if (confirm(t("confirm_reset")(team.team_id))) act("POST", `${base}/reset`); }, "reset"),
      );
      const cells = [el("td", "", team.team_id), el("td", "team", team.team_name), el("td", "num", fmt(team.report_count, 0)),
        el("td", "num", fmt(team.qps, 1)), el("td", "num", fmt(team.best_qps, 1))];
      const stateCell = el("td");
      stateCell.append(stateTag);
      row.append(...cells, stateCell, actions);
      return row;
    });
    $("teams").tBodies[0].replaceChildren(...rows);
  }

  function renderReports() {
    const panel = $("reports-panel");
    panel.hidden = !state.reportsOf || !state.reports;
    if (panel.hidden) return;
    const answer = state.reports;
    $("reports-title").textContent = `${t("view_reports")} · ${state.reportsOf}`;
    const rows = (answer.reports || []).map((report) => {
      const row = el("tr");
      row.dataset.file = report.file_name;
      const actions = el("td", "actions");
      actions.append(button(t("trash_one"), () =>
        act("POST", `/api/admin/teams/${seg(state.reportsOf)}/reports/${seg(report.file_name)}/trash`), "trash-one"));
      row.append(el("td", "", report.file_name), el("td", "", fmtTime(report.timestamp)),
        el("td", "num", fmt(report.qps, 1)), el("td", "num", fmt(report.avg_latency, 2)), actions);
      return row;
    });
    $("reports").tBodies[0].replaceChildren(...rows);
    const total = answer.total || 0;
    $("reports-page").textContent = t("page")(total ? state.offset + 1 : 0, Math.min(total, state.offset + PAGE), total);
    $("reports-prev").disabled = state.offset === 0;
    $("reports-next").disabled = state.offset + PAGE >= total;
  }

  function renderTrash() {
    const rows = state.trash.map((item) => {
      const row = el("tr");
      row.dataset.team = item.team_id;
      row.dataset.file = item.file_name;
      const actions = el("td", "actions");
      actions.append(button(t("restore"), () =>
        act("POST", `/api/admin/trash/${seg(item.team_id)}/${seg(item.file_name)}/restore`), "restore"));
      row.append(el("td", "", item.team_id), el("td", "", item.file_name), el("td", "num", fmt(item.bytes, 0)), actions);
      return row;
    });
    if (!rows.length) {
      const row = el("tr");
      const cell = el("td", "panel-note", t("trash_empty"));
      cell.colSpan = 4;
      row.append(cell);
      rows.push(row);
    }
    $("trash").tBodies[0].replaceChildren(...rows);
  }

  function renderAudit() {
    const items = state.audit.map((entry) => {
      const item = el("li");
      const when = el("time", "", fmtTime(entry.at));
      const what = el("span", "what", t("actions_names")[entry.action] || entry.action);
      item.append(when, what);
      if (entry.team_id) item.append(el("span", "", entry.team_id));
      if (entry.file) item.append(el("span", "", entry.file));
      if (entry.detail && entry.detail.name) item.append(el("span", "", `→ ${entry.detail.name}`));
      if (entry.detail && isNum(entry.detail.reports)) item.append(el("span", "", `${entry.detail.reports} ×`));
      if (entry.from) item.append(el("span", "panel-note", entry.from));
      return item;
    });
    if (!items.length) items.push(el("li", "panel-note", t("audit_empty")));
    $("audit").replaceChildren(...items);
  }

  function render() {
    renderTeams();
    renderReports();
    renderTrash();
    renderAudit();
  }

  async function openReports(id) {
    state.reportsOf = id;
    state.offset = 0;
    await refresh();
    $("reports-panel").scrollIntoView({ block: "nearest" });
  }

  // ---- login --------------------------------------------------------------
  function showConsole() {
    $("login").hidden = true;
    $("console").hidden = false;
    $("logout").hidden = false;
  }
  function logout() {
    token = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* storage blocked */ }
    $("console").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("token").value = "";
  }
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    $("login-error").textContent = "";
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch (_) { /* this page load only */ }
    await refresh();
  });
  $("logout").addEventListener("click", logout);
  $("reports-close").addEventListener("click", () => { state.reportsOf = null; state.reports = null; renderReports(); });
  $("reports-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); });
  $("reports-next").addEventListener("click", () => { state.offset += PAGE; refresh(); });
  $("reset-all-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("reset-confirm").value.trim();
    $("reset-confirm").value = "";
    act("POST", "/api/admin/reset-all", { confirm: typed });
  });
  $("reload").addEventListener("click", async () => {
    try {
      const answer = await api("POST", "/api/admin/reload");
      say([t("reloaded"), ...(answer.warnings || [])].join(" · "));
    } catch (error) {
      if (!loginFailed(error)) say(t("failed")(error.message), true);
    }
    refresh();
  });

  // ---- freeze and reveal ------------------------------------------------------
  // The public board's state from GET /api/contest; while frozen the page polls,
  // since the board's messages no longer carry the live reports.
  let freezePoll = null;
  async function showReveal() {
    let answer = null;
    try { answer = await (await fetch("/api/contest", { cache: "no-store" })).json(); } catch (_) { return; }
    const freeze = (answer && answer.freeze) || {};
    const reveal = freeze.reveal;
    const hasFreeze = Boolean(answer && answer.contest && answer.contest.freeze);
    let text = t("reveal_off");
    if (reveal && reveal.status === "finished") text = t("reveal_done");
    else if (reveal) {
      const c = reveal.current;
      text = t("reveal_at")(reveal.step, reveal.steps, c ? t("reveal_moved")(String(c.team_name), c.from_rank, c.to_rank) : "");
    } else if (freeze.frozen) text = t("reveal_frozen")(fmtTime(freeze.since));
    else if (hasFreeze) text = t("reveal_live");
    $("reveal-status").textContent = text;
    $("reveal-start").disabled = !hasFreeze || Boolean(reveal);
    $("reveal-next").disabled = !reveal || reveal.status === "finished";
    const frozen = Boolean(freeze.frozen);
    if (frozen && freezePoll === null) freezePoll = setInterval(refresh, POLL_MS);
    if (!frozen && freezePoll !== null) { clearInterval(freezePoll); freezePoll = null; }
  }
  async function revealAction(body) {
    try {
      await api("POST", "/api/admin/reveal", body);
      say(t("done"));
    } catch (error) {
      if (!loginFailed(error)) say(t("failed")(error.message), true);
    }
    showReveal();
  }
  $("reveal-start").addEventListener("click", () => revealAction({ action: "start" }));
  $("reveal-next").addEventListener("click", () => revealAction({ action: "next" }));
  $("reveal-auto").addEventListener("click", () => revealAction({ action: "auto", every_secs: Number($("reveal-every").value) }));

  // ---- live: refresh on every board message, or poll -----------------------
  let pending = null;
  function soon() {
    if (pending === null) pending = setTimeout(() => { pending = null; refresh(); }, 250);
  }
  let pollTimer = null;
  function setConn(mode) {
    $("conn").dataset.state = mode;
    $("conn-text").textContent = t(`conn_${mode}`);
  }
  function connect() {
    let socket;
    try { socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`); } catch (_) { return fallBack(); }
    socket.onmessage = (event) => {
      setConn("live");
      if (pollTimer !== null) { clearInterval(pollTimer); pollTimer = null; }
      let message = null;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      if (message && (message.type === "freeze" || message.type === "contest")) showReveal();
      if (message && message.type !== "snapshot" && message.type !== "team_status") soon();
    };
    socket.onclose = () => { fallBack(); setTimeout(connect, 5000); };
  }
  function fallBack() {
    setConn("polling");
    if (pollTimer === null) pollTimer = setInterval(refresh, POLL_MS);
  }

  // ---- language -------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("page_title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = t("switch_to");
    $("reset-confirm-label").textContent = t("confirm_label")(CONFIRM);
    setConn($("conn").dataset.state || "connecting");
    render();
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* storage blocked */ }
    applyLanguage();
  });

  applyLanguage();
  if (token) refresh(); else logout();
  showReveal();
  connect();
})();
