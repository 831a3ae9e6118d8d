// The console's statistics tab: what a bureau reports (web/stats.py defines each number).
// Every chart has a table beside it with the same numbers (screen readers, copying, print);
// the charts are Chart.js (vendor/chart.js), drawn on canvas, so the page's CSP holds.
"use strict";

const SCStats = (() => {
  const DAYS = 30; // the heading (stats.heading) says 30 days too
  const E = SC.el;
  const KIND_COLOURS = {
    dog_forbidden_zone: "#d9534f", dog_outside_walking_hours: "#f0ad4e", sidewalk_parking: "#5b6b7c",
    tag_offline: "#8e7cc3", tag_low_battery: "#6aa84f",
  };
  const STEP_COLOURS = { acknowledge: "#f0ad4e", dispatch: "#3d7bd9", close: "#2e8b57" };
  const STEPS = ["acknowledge", "dispatch", "close"];
  const charts = [];

  const locale = () => (SC.lang === "en" ? "en" : "zh-CN");
  const num = (n) => new Intl.NumberFormat(locale()).format(n);
  const pct = (x) => (x === null || x === undefined ? SC.t("app.none")
    : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(x));
  const decimal = (x) => new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(x);

  // a median in the unit that reads best: seconds, minutes or hours
  function duration(s) {
    if (s === null || s === undefined) return SC.t("app.none");
    if (s < 60) return SC.t("stats.seconds", { n: decimal(s) });
    if (s < 3600) return SC.t("stats.minutes", { n: decimal(s / 60) });
    return SC.t("stats.hours", { n: decimal(s / 3600) });
  }
  const day = (ts) => SC.time(ts).slice(0, 10);
  const grid = (g) => (g === "-" ? SC.t("stats.no_grid") : g);
  const squad = (g) => SC.t("stats.squad_of", { grid: g });

  // a table of `heads` (catalogue keys, or {text} for a label already rendered)
  function table(id, heads, rows) {
    return E("div", { class: "table-wrap" }, E("table", { id },
      E("thead", {}, E("tr", {}, ...heads.map((h) => E("th", { scope: "col" }, h.text ?? SC.t(h))))),
      E("tbody", {}, ...rows)));
  }

  function canvas(id, labelKey) {
    return E("div", { class: "chart" }, E("canvas", { id, role: "img", "aria-label": SC.t(labelKey) }));
  }

  function draw(id, config) {
    if (typeof Chart === "undefined") return; // the tables still say it all
    const el = document.getElementById(id);
    config.options = { animation: false, responsive: true, maintainAspectRatio: true, aspectRatio: 1.8,
      locale: locale(), ...config.options };
    charts.push(new Chart(el, config));
  }

  function summary(s) {
    const h = s.handling;
    const rows = [
      ["stats.resolution_rate", pct(h.resolution_rate), "resolution_rate"],
      ["stats.resolved_of_due", SC.t("stats.n_of_m", { n: num(h.resolved), m: num(h.due) }), "resolved"],
      ["stats.overdue", num(h.overdue), "overdue"],
      ["stats.in_progress", num(h.in_progress), "in_progress"],
      ...STEPS.map((step) => [`stats.median_${step}`, duration(h.median_s[step]), `median_${step}`]),
      ["stats.total", num(s.total), "total"],
    ];
    return [
      E("h3", {}, SC.t("stats.handling_heading")),
      table("stats-summary", ["stats.measure", "stats.value"],
        rows.map(([key, value, name]) => E("tr", { "data-measure": name }, E("th", { scope: "row" }, SC.t(key)), E("td", {}, value)))),
      E("p", { class: "muted" }, SC.t("stats.handling_note", { hours: num(s.due_after_s / 3600) })),
    ];
  }

  function shares(s) {
    return [
      E("h3", {}, SC.t("stats.shares_heading")),
      canvas("chart-721", "stats.chart_721"),
      table("stats-721", ["stats.disposition", "stats.count", "stats.share", "stats.target"],
        s.dispositions.map((d) => E("tr", { "data-disposition": d.disposition },
          E("td", {}, SC.label("disposition", d.disposition)), E("td", {}, num(d.count)),
          E("td", {}, pct(d.share)), E("td", {}, pct(d.target))))),
      E("p", { class: "muted" }, SC.t("stats.dismissed_total", { dismissed: num(s.dismissed), total: num(s.total) })),
    ];
  }

  // every day of the window in the city's time zone, so a day without alerts shows as one
  function windowDays(s) {
    const days = new Set();
    for (let ts = s.since; ts < s.until; ts += 6 * 3600) days.add(day(ts));
    days.add(day(s.until));
    return [...days].sort();
  }

  function daily(s) {
    const days = windowDays(s);
    const kinds = Object.keys(KIND_COLOURS).filter((k) => s.per_day.some((r) => r.kind === k));
    const count = (d, k) => s.per_day.filter((r) => r.day === d && r.kind === k).reduce((n, r) => n + r.count, 0);
    const busy = days.filter((d) => s.per_day.some((r) => r.day === d)).reverse(); // the table: newest first
    return {
      nodes: [
        E("h3", {}, SC.t("stats.daily_heading")),
        canvas("chart-daily", "stats.chart_daily"),
        table("stats-daily", ["stats.day", ...kinds.map((k) => ({ text: SC.label("kind", k) })), "stats.day_total"],
          busy.map((d) => E("tr", { "data-day": d }, E("td", {}, d), ...kinds.map((k) => E("td", { "data-kind": k }, num(count(d, k)))),
            E("td", {}, num(kinds.reduce((n, k) => n + count(d, k), 0)))))),
        E("p", { class: "muted" }, SC.t("stats.daily_note")),
      ],
      chart: { type: "bar", data: { labels: days, datasets: kinds.map((k) => ({
        label: SC.label("kind", k), data: days.map((d) => count(d, k)), backgroundColor: KIND_COLOURS[k] })) },
      options: { aspectRatio: 3, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } },
    };
  }

  const HANDLING_HEADS = ["stats.raised", "stats.resolved", "stats.overdue", "stats.in_progress", "stats.rate",
    "stats.median_acknowledge", "stats.median_dispatch", "stats.median_close"];
  const handlingCells = (h) => [num(h.raised), num(h.resolved), num(h.overdue), num(h.in_progress),
    pct(h.resolution_rate), ...STEPS.map((step) => duration(h.median_s[step]))].map((v) => E("td", {}, v));

  function byKind(s) {
    return [
      E("h3", {}, SC.t("stats.kinds_heading")),
      table("stats-kinds", ["stats.kind", ...HANDLING_HEADS],
        s.by_kind.map((k) => E("tr", { "data-kind": k.kind }, E("td", {}, SC.label("kind", k.kind)), ...handlingCells(k)))),
      E("p", { class: "muted" }, SC.t("stats.kinds_note")),
    ];
  }

  function byGrid(s) {
    const minutes = (x) => (x === null ? null : Math.round((x / 60) * 10) / 10);
    return {
      nodes: [
        E("h3", {}, SC.t("stats.grids_heading")),
        canvas("chart-grids", "stats.chart_grids"),
        table("stats-grids", ["stats.grid", ...HANDLING_HEADS],
          s.by_grid.map((g) => E("tr", { "data-grid": g.grid }, E("td", {}, grid(g.grid)), ...handlingCells(g)))),
        E("h3", {}, SC.t("stats.squads_heading")),
        table("stats-squads", ["stats.squad", ...HANDLING_HEADS],
          s.by_squad.map((g) => E("tr", { "data-squad": g.grid }, E("td", {}, squad(g.grid)), ...handlingCells(g)))),
        E("p", { class: "muted" }, SC.t("stats.squads_note")),
      ],
      chart: { type: "bar", data: { labels: s.by_grid.map((g) => grid(g.grid)), datasets: STEPS.map((step) => ({
        label: SC.t(`stats.median_${step}`), data: s.by_grid.map((g) => minutes(g.median_s[step])),
        backgroundColor: STEP_COLOURS[step] })) },
      options: { aspectRatio: 3, scales: { y: { beginAtZero: true, title: { display: true, text: SC.t("stats.axis_minutes") } } } } },
    };
  }

  function caseLinks(cases) {
    return E("td", {}, ...cases.map((c, i) => [i ? " · " : "",
      E("a", { href: `/console/alerts/${encodeURIComponent(c.id)}`, "data-alert-id": c.id }, SC.time(c.started_at).slice(5, 16))]));
  }

  function offenders(s) {
    const r = s.repeat_offenders;
    const more = (found) => (found.total > found.parties.length
      ? E("p", { class: "muted" }, SC.t("stats.more_offenders", { shown: num(found.parties.length), total: num(found.total) })) : null);
    const none = (found, cols) => (found.parties.length ? [] : [E("tr", {}, E("td", { colspan: cols }, SC.t("stats.no_offenders")))]);
    return [
      E("h3", {}, SC.t("stats.offenders_heading")),
      E("p", { class: "muted" }, SC.t("stats.offenders_note", { least: num(r.least), since: day(r.since) })),
      E("div", { class: "grid2" },
        E("div", {}, E("h3", {}, SC.t("stats.owners_heading")),
          table("stats-owners", ["stats.owner", "stats.cases", "stats.last_case", "stats.case_links"], [
            ...r.owners.parties.map((o) => E("tr", { "data-party": o.party },
              E("td", {}, o.name === null ? SC.t("stats.owner_unknown", { id: o.owner_id ?? o.party }) : o.name),
              E("td", {}, num(o.count)), E("td", {}, day(o.last_at)), caseLinks(o.cases))),
            ...none(r.owners, 4)]), more(r.owners)),
        E("div", {}, E("h3", {}, SC.t("stats.plates_heading")),
          table("stats-plates", ["stats.plate", "stats.cases", "stats.last_case", "stats.case_links"], [
            ...r.plates.parties.map((v) => E("tr", { "data-party": v.party },
              E("td", {}, v.plate), E("td", {}, num(v.count)), E("td", {}, day(v.last_at)), caseLinks(v.cases))),
            ...none(r.plates, 4)]), more(r.plates))),
    ];
  }

  function chart721(s) {
    return { type: "bar", data: { labels: s.dispositions.map((d) => SC.label("disposition", d.disposition)), datasets: [
      { label: SC.t("stats.share"), data: s.dispositions.map((d) => Math.round(d.share * 1000) / 10), backgroundColor: "#3d7bd9" },
      { label: SC.t("stats.target"), data: s.dispositions.map((d) => Math.round(d.target * 1000) / 10), backgroundColor: "#c9d3df" }] },
    options: { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: SC.t("stats.axis_percent") } } } } };
  }

  async function show() {
    await SC.ready;
    const box = document.getElementById("stats");
    const s = await SC.api("GET", `/api/operator/stats?days=${DAYS}`);
    while (charts.length) charts.pop().destroy();
    const perDay = daily(s);
    const grids = byGrid(s);
    box.replaceChildren(E("div", { class: "grid2" }, E("div", {}, ...summary(s)), E("div", {}, ...shares(s))),
      ...perDay.nodes, ...byKind(s), ...grids.nodes, ...offenders(s));
    draw("chart-721", chart721(s));
    draw("chart-daily", perDay.chart);
    draw("chart-grids", grids.chart);
    box.dataset.drawn = String(Date.now()); // tests wait for this
  }

  return { show };
})();
