// BenchBoard big screen: sizes the team cards and the ranking rows so that the board
// fills a landscape screen without scrolling (screen.css holds the layout). It only
// watches the DOM that app.js (or replay.js) renders, so it needs nothing from them:
// on a change of the cards, the ranking rows or the window it lays the board out again.
//
// Cards: for every density (full, compact, mini) and column count it computes the
// largest card font that fits, takes the best, checks the result in the real layout
// and shrinks it while a card overflows. When even the smallest readable cards cannot
// all fit, they are shown a page at a time, rotating every `?rotate=N` seconds (12).
// Ranking: the largest font with every row on screen; pages too below the smallest.
"use strict";
(() => {
  const FIT_QUERY = "(min-width: 600px) and (min-height: 440px) and (orientation: landscape)";
  const media = window.matchMedia(FIT_QUERY);
  const params = new URLSearchParams(location.search);
  const ROTATE_MS = Math.min(600, Math.max(3, Number(params.get("rotate")) || 12)) * 1000;
  // Fullest first: a denser card hides the secondary rows (screen.css). Each with the
  // narrowest width (in its own em) at which its labels fit; Chinese ones are long.
  const DENSITIES = [["full", 21], ["compact", 21], ["mini", 17]];
  const MIN_CARD_FONT = 0.8; // rem: below it a card is unreadable from the back of the room
  const COMFORT_CARD_FONT = 0.8; // rem: a fuller card this large beats a denser, larger one
  const MAX_CARD_FONT = 1.7; // rem: few teams need no poster-sized cards
  const MIN_RANK_FONT = 0.56; // rem
  const COMFORT_RANK_FONT = 0.85; // rem: smaller than this, long names may wrap
  const MAX_RANK_FONT = 1.3; // rem

  const root = document.documentElement;
  const cardsBox = document.getElementById("cards");
  const tableWrap = document.querySelector(".ranking .table-wrap");
  const tbody = tableWrap && tableWrap.querySelector("tbody");
  // The ranking's own box (heading, table, "more"): its size is what the side column
  // leaves it after the alerts and the QR code, whatever the table holds.
  const rankBox = tableWrap && tableWrap.parentNode;
  const side = rankBox && rankBox.parentNode;
  if (!cardsBox || !tableWrap || !tbody) return;
  /** The height the side column leaves the ranking, however tall the ranking is now. */
  const rankRoom = () => {
    if (!side.classList.contains("side")) return rankBox.clientHeight;
    const gap = parseFloat(getComputedStyle(side).rowGap) || 0;
    const others = [...side.children].filter((c) => c !== rankBox && c.offsetParent !== null);
    return side.clientHeight - others.reduce((sum, c) => sum + c.offsetHeight + gap, 0);
  };

  const pager = document.createElement("div");
  pager.className = "card-pages";
  pager.hidden = true;
  pager.setAttribute("aria-hidden", "true");
  cardsBox.after(pager);

  const state = { cardKey: "", rankKey: "", rankFont: 0, cardPages: 1, rankPages: 1, perPage: Infinity, rowsPerPage: Infinity, page: 0 };
  const rem = () => parseFloat(getComputedStyle(root).fontSize) || 16;
  const cards = () => [...cardsBox.children].filter((c) => c.classList.contains("card"));

  /** Natural height of a card in em, at each density (laid out off screen at 16 px). */
  function cardHeightsEm(sample) {
    const probe = document.createElement("div");
    probe.className = "cards";
    probe.style.cssText = "position:absolute;left:-9999px;top:0;visibility:hidden;display:block;font-size:16px;width:21em";
    const clone = sample.cloneNode(true);
    clone.classList.remove("off-page");
    probe.appendChild(clone);
    cardsBox.parentNode.appendChild(probe);
    const heights = {};
    for (const [density] of DENSITIES) {
      probe.dataset.density = density;
      heights[density] = clone.offsetHeight / 16;
    }
    probe.remove();
    return heights;
  }

  /** The best layout of `count` cards in a box: {density, cols, rows, font, cellH} or null.
   *  The fullest density whose cards are comfortable to read wins; else the largest font. */
  function bestLayout(count, width, height, heights, gap) {
    let largest = null;
    for (const [density, widthEm] of DENSITIES) {
      let best = null;
      for (let cols = 1; cols <= count; cols += 1) {
        const rows = Math.ceil(count / cols);
        const cellW = (width - gap * (cols - 1)) / cols;
        const cellH = (height - gap * (rows - 1)) / rows;
        const font = Math.min(cellW / widthEm, cellH / heights[density], MAX_CARD_FONT * rem());
        if (font < MIN_CARD_FONT * rem()) continue;
        if (!best || font > best.font) best = { density, cols, rows, font, cellH };
      }
      if (best && best.font >= COMFORT_CARD_FONT * rem()) return best;
      if (best && (!largest || best.font > largest.font)) largest = best;
    }
    return largest;
  }

  function applyCardLayout(layout) {
    cardsBox.dataset.density = layout.density;
    cardsBox.style.setProperty("--cols", layout.cols);
    cardsBox.style.setProperty("--card-h", `${Math.floor(layout.cellH)}px`);
    cardsBox.style.setProperty("--card-font", `${layout.font.toFixed(2)}px`);
  }

  function overflowing(list) {
    return list.some((card) => {
      const inner = card.firstElementChild || card;
      return inner.scrollHeight > inner.clientHeight + 1 || inner.scrollWidth > inner.clientWidth + 1;
    });
  }

  function fitCards(force) {
    const list = cards();
    const width = cardsBox.clientWidth, height = cardsBox.clientHeight;
    const key = `${list.length}|${width}x${height}`;
    if (!force && key === state.cardKey) return showPage();
    state.cardKey = key;
    if (!list.length) { state.cardPages = 1; return showPage(); }
    const gap = 0.8 * rem();
    cardsBox.style.setProperty("--card-gap", `${gap}px`);
    const heights = cardHeightsEm(list[0]);
    let count = list.length;
    let layout = bestLayout(count, width, height, heights, gap);
    // Too many for one screen: as many per page as fit, spread evenly over the pages.
    while (!layout && count > 1) {
      count -= 1;
      layout = bestLayout(count, width, height, heights, gap);
    }
    if (!layout) layout = { density: "mini", cols: 1, rows: 1, font: MIN_CARD_FONT * rem(), cellH: height };
    state.cardPages = Math.ceil(list.length / count);
    state.perPage = Math.ceil(list.length / state.cardPages);
    if (state.perPage < count) layout = bestLayout(state.perPage, width, height, heights, gap) || layout;
    applyCardLayout(layout);
    showPage();
    // Fonts differ from the estimate: shrink until no card overflows.
    for (let i = 0; i < 12 && overflowing(list.filter((c) => !c.classList.contains("off-page"))); i += 1) {
      layout.font *= 0.94;
      applyCardLayout(layout);
    }
  }

  /** Every shown row on screen, nothing cut at the side, no name over two lines. */
  function rankFits() {
    if (tableWrap.scrollHeight > tableWrap.clientHeight + 1 || tableWrap.scrollWidth > tableWrap.clientWidth + 1) return false;
    if (!tableWrap.classList.contains("wrap-names")) return true;
    return [...tbody.rows].every((row) => {
      const link = row.classList.contains("off-page") ? null : row.querySelector("td.team a");
      return !link || link.getClientRects().length <= 2;
    });
  }

  /** Binary search on the ranking's font: the largest that fits (set), or 0 when even
   *  the smallest does not. */
  function searchFont(setFont) {
    let low = MIN_RANK_FONT * rem(), high = MAX_RANK_FONT * rem();
    setFont(high);
    if (rankFits()) return high;
    setFont(low);
    if (!rankFits()) return 0;
    for (let i = 0; i < 7; i += 1) {
      const mid = (low + high) / 2;
      setFont(mid);
      if (rankFits()) low = mid; else high = mid;
    }
    setFont(low);
    return low;
  }

  function fitRanking(force) {
    const rows = [...tbody.rows];
    const names = rows.map((r) => (r.querySelector("td.team") || r).textContent).join("\u0001");
    const size = `${rows.length}|${rankBox.clientWidth}x${rankRoom()}`;
    const key = `${size}|${names}`;
    if (!force && key === state.rankKey) return showPage();
    // Only names or their order changed (reports arriving): the font stays while it
    // fits and a slightly larger one would not, so a burst of reports costs two
    // layouts of the table per frame, not the twenty of a full search.
    if (!force && state.rankKey.startsWith(`${size}|`) && state.rankFont) {
      state.rankKey = key;
      showPage();
      if (rankFits() && !fitsLarger()) return;
    }
    state.rankKey = key;
    tableWrap.classList.remove("hug");
    rankBox.classList.remove("hug");
    tableWrap.style.removeProperty("--rank-pad");
    for (const row of rows) row.classList.remove("off-page");
    const setFont = (px) => {
      state.rankFont = px;
      tableWrap.style.setProperty("--rank-font", `${px.toFixed(2)}px`);
    };
    state.rankPages = 1;
    state.rowsPerPage = Infinity;
    showPage();
    if (!fitRankFont(setFont) && rows.length > 1) {
      // Even the smallest font does not hold every row: pages of rows, as many per
      // page as that font holds, spread evenly; then the largest font for a page.
      const head = tableWrap.querySelector("thead");
      const rowHeight = rows.reduce((sum, r) => sum + r.offsetHeight, 0) / rows.length;
      const room = tableWrap.clientHeight - (head ? head.offsetHeight : 0);
      const perPage = Math.max(1, Math.floor(room / rowHeight));
      state.rankPages = Math.ceil(rows.length / perPage);
      state.rowsPerPage = Math.ceil(rows.length / state.rankPages);
      const page = state.page;
      state.page = 0; // the first page is the fullest
      showPage();
      fitRankFont(setFont);
      state.page = page;
    }
    showPage();
    spreadRows();
  }

  /** Height the largest font leaves over (few rows, or names that set the width): the
   *  rows get up to .4 em more padding each, and what is still left stays below the
   *  ranking ("hug", so the alerts follow it) rather than as an empty panel. */
  function spreadRows() {
    const table = tableWrap.querySelector("table");
    const shown = [...tbody.rows].filter((r) => !r.classList.contains("off-page")).length + 1;
    const slack = tableWrap.clientHeight - table.offsetHeight;
    const font = parseFloat(getComputedStyle(tableWrap).fontSize) || rem();
    if (slack > 1 && table) {
      const pad = Math.min(slack / (2 * shown), 0.4 * font);
      tableWrap.style.setProperty("--rank-pad", `${Math.floor(pad * 10) / 10}px`);
      if (!rankFits()) tableWrap.style.removeProperty("--rank-pad");
    }
    tableWrap.classList.add("hug");
    rankBox.classList.add("hug");
  }

  /** Would the ranking fit at a font a step above the current one (which is put back)? */
  function fitsLarger() {
    const larger = Math.min(state.rankFont * 1.06, MAX_RANK_FONT * rem());
    if (larger <= state.rankFont) return false;
    tableWrap.style.setProperty("--rank-font", `${larger.toFixed(2)}px`);
    const fits = rankFits();
    tableWrap.style.setProperty("--rank-font", `${state.rankFont.toFixed(2)}px`);
    return fits;
  }

  /** The largest ranking font for the rows shown, names on one line unless that
   *  makes the type much smaller than wrapping them would. */
  function fitRankFont(setFont) {
    tableWrap.classList.remove("wrap-names");
    const oneLine = searchFont(setFont);
    if (oneLine >= COMFORT_RANK_FONT * rem()) return true;
    tableWrap.classList.add("wrap-names");
    const wrapped = searchFont(setFont);
    if (wrapped && (!oneLine || wrapped > 1.2 * oneLine)) return true;
    tableWrap.classList.remove("wrap-names");
    if (oneLine) setFont(oneLine);
    return Boolean(oneLine);
  }

  /** Shows the current page of cards and of ranking rows. */
  function showPage() {
    // One counter for both: cards and rows each go round their own number of pages.
    const list = cards();
    const cardPage = state.page % state.cardPages;
    list.forEach((card, i) => {
      const on = state.cardPages === 1 || Math.floor(i / state.perPage) === cardPage;
      card.classList.toggle("off-page", !on);
    });
    const rankPage = state.page % state.rankPages;
    [...tbody.rows].forEach((row, i) => {
      const on = state.rankPages === 1 || Math.floor(i / state.rowsPerPage) === rankPage;
      row.classList.toggle("off-page", !on);
    });
    pager.hidden = state.cardPages < 2;
    if (!pager.hidden && pager.childElementCount !== state.cardPages) {
      pager.replaceChildren(...Array.from({ length: state.cardPages }, () => document.createElement("span")));
    }
    [...pager.children].forEach((dot, i) => dot.classList.toggle("on", i === cardPage));
  }

  function clear() {
    for (const card of cards()) card.classList.remove("off-page");
    for (const row of tbody.rows) row.classList.remove("off-page");
    for (const name of ["--cols", "--card-h", "--card-font", "--card-gap"]) cardsBox.style.removeProperty(name);
    delete cardsBox.dataset.density;
    tableWrap.style.removeProperty("--rank-font");
    tableWrap.classList.remove("wrap-names", "hug");
    rankBox.classList.remove("hug");
    tableWrap.style.removeProperty("--rank-pad");
    pager.hidden = true;
    Object.assign(state, { cardKey: "", rankKey: "", rankFont: 0, cardPages: 1, rankPages: 1, page: 0 });
  }

  let scheduled = false;
  function refit(force) {
    if (scheduled && !force) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (!media.matches) return clear();
      fitCards(force);
      fitRanking(force);
    });
  }

  // Our own class changes are attribute changes: only added or removed nodes and text count.
  new MutationObserver(() => refit(false)).observe(cardsBox, { childList: true });
  // New rows are put on their page at once (a microtask, before the frame is drawn), so
  // rows of other pages never show for a frame nor push the alerts about.
  new MutationObserver(() => { showPage(); refit(false); }).observe(tbody, { childList: true, subtree: true, characterData: true });
  window.addEventListener("resize", () => refit(true));
  // The board's boxes change without a resize too: a notice, a phase header or a banner
  // above the board, alerts or the QR code in the side column.
  if (window.ResizeObserver) {
    const boxes = new ResizeObserver(() => refit(false));
    boxes.observe(cardsBox);
    boxes.observe(side);
    for (const box of side.children) if (box !== rankBox) boxes.observe(box);
  }
  media.addEventListener("change", () => refit(true));
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(() => refit(true));
  setInterval(() => {
    if (Math.max(state.cardPages, state.rankPages) < 2) return;
    state.page += 1;
    showPage();
  }, ROTATE_MS);

  window.BenchBoardFit = { refit: () => refit(true), state };
  refit(true);
})();
