// Plausibility warnings as both pages show them. The server's `message` is an
// English sentence; in Chinese each code gets its own words, with the field path.
// The result is plain text: callers put it in textContent or a title attribute.
"use strict";
window.BenchBoardWarnings = (() => {
  const ZH = {
    negative_count: "计数为负数",
    beyond_js_precision: "数值超过 2^53，浏览器中显示会被舍入",
    more_done_than_sent: "已完成加待处理的请求多于已发送的请求",
    counter_went_down: "累计计数比本轮上一次上报时变小了",
    buckets_disagree: "延迟分桶之和与该类操作数相差很大",
    qps_disagrees: "avgCompletedQPS 与 totalOps / totalElapsed 相差很大",
    avg_outside_range: "平均值不在 [min, max] 范围内",
    p99_below_average: "由分桶算出的 P99 低于平均值",
    more_warnings: "还有更多警告未列出",
  };
  const HEADING = { zh: "数据可疑", en: "Implausible numbers" };
  const list = (warnings) => (Array.isArray(warnings) ? warnings : []);
  /** One warning as a line of text in `lang` ("zh" or "en"). */
  function text(warning, lang) {
    const zh = lang === "zh" && ZH[warning.code];
    if (zh) return warning.field ? `${warning.field}：${zh}` : zh;
    return String(warning.message || warning.code);
  }
  /** A tooltip listing every warning, under a heading. */
  function tooltip(warnings, lang) {
    return [HEADING[lang] || HEADING.en, ...list(warnings).map((w) => text(w, lang))].join("\n");
  }
  return { text, tooltip, list };
})();
