// The console's statistics tab: what a bureau reports.
"use strict";

const SCStats = {
  async show() {
    return stats();
  },
};

async function stats() {
  const s = await SC.api("GET", "/api/operator/stats?days=30");
  const byDay = new Map();
  for (const r of s.per_day) {
    const key = `${r.day}|${r.kind}|${r.grid}`;
    byDay.set(key, r);
  }
  document.getElementById("stats").replaceChildren(
    E("h2", {}, "“721” 处置结构 Dispositions against the 721 shares"),
    E("table", { id: "stats-721" }, E("thead", {}, E("tr", {}, ...["处置 Disposition", "数量 Count", "占比 Share", "目标 Target"].map((h) => E("th", {}, h)))),
      E("tbody", {}, ...s.dispositions.map((d) => E("tr", {}, E("td", {}, SC.STEPS[d.disposition] || d.disposition),
        E("td", {}, d.count), E("td", {}, `${Math.round(d.share * 100)}%`, E("div", { class: "bar", "data-w": d.share })),
        E("td", {}, `${Math.round(d.target * 100)}%`))))),
    E("p", { class: "muted" }, `不予处理 dismissed: ${s.dismissed} · 告警总数 total alerts: ${s.total}`),
    E("h2", {}, "每日告警 Alerts per day by kind and grid"),
    E("div", { class: "table-wrap" }, E("table", { id: "stats-daily" },
      E("thead", {}, E("tr", {}, ...["日期 Day", "类型 Kind", "网格 Grid", "数量 Count"].map((h) => E("th", {}, h)))),
      E("tbody", {}, ...s.per_day.slice().reverse().map((r) => E("tr", {}, E("td", {}, r.day), E("td", {}, SC.KINDS[r.kind] || r.kind),
        E("td", {}, r.grid), E("td", {}, r.count)))))));
  for (const bar of document.querySelectorAll(".bar[data-w]")) bar.style.width = `${Math.round(Number(bar.dataset.w) * 100)}%`;
}

