// BenchBoard kiosk (`/?kiosk`): the board for a screen nobody touches. No controls,
// no cursor, pages of cards rotating (fit.js, `&rotate=N` seconds), and a QR code
// that opens the phone view: the server draws it (`/qr.svg`) for `&url=...` when
// given (the address phones in the room can reach), else for this page's origin.
// `&lang=en` picks the language (remembered, as the board's own switch).
// Loaded before app.js, so the language is set before the board first renders.
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const LANG_KEY = "benchboard.lang";
  const wanted = params.get("lang");
  if (wanted === "en" || wanted === "zh") {
    try { localStorage.setItem(LANG_KEY, wanted); } catch (_) { /* storage blocked */ }
  }
  const root = document.documentElement;
  const TEXT = {
    zh: { link: "大屏模式", title: "手机扫码查看看板", localhost: "（此地址只在本机可用：用 &url= 给出手机能访问的地址）" },
    en: { link: "Kiosk", title: "Scan to follow on your phone", localhost: " (this address works on this machine only: give phones one with &url=)" },
  };
  const words = () => TEXT[root.lang === "en" ? "en" : "zh"];
  // The board's "kiosk" button, in the board's language.
  const labelLink = () => { for (const a of document.querySelectorAll(".kiosk-link")) a.textContent = words().link; };
  new MutationObserver(labelLink).observe(root, { attributes: true, attributeFilter: ["lang"] });
  if (!params.has("kiosk")) return;
  root.classList.add("kiosk");

  const given = params.get("url");
  const target = given && /^https?:\/\/[^\s]+$/i.test(given) && given.length <= 512 ? given : `${location.origin}/`;
  const local = /^https?:\/\/(localhost|127\.|\[::1\])/i.test(target);

  function build() {
    // A static archive asks no server for a QR code.
    if (window.BenchBoardArchive) return;
    // At the foot of the side column, under the ranking and the alerts.
    const side = document.querySelector("main.board .side") || document.querySelector("main.board .ranking");
    if (!side) return;
    const box = document.createElement("aside");
    box.className = "qr-box";
    const img = document.createElement("img");
    img.alt = "";
    img.src = `/qr.svg?url=${encodeURIComponent(target)}`;
    const text = document.createElement("div");
    text.className = "qr-text";
    const title = document.createElement("span");
    title.className = "qr-title";
    const url = document.createElement("span");
    url.className = "qr-url";
    text.append(title, url);
    box.append(img, text);
    side.appendChild(box);
    const translate = () => {
      title.textContent = words().title;
      url.textContent = target + (local ? words().localhost : "");
    };
    translate();
    // app.js sets <html lang> when the language changes.
    new MutationObserver(translate).observe(root, { attributes: true, attributeFilter: ["lang"] });
    if (window.BenchBoardFit) window.BenchBoardFit.refit();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
})();
