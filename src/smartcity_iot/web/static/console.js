// The operators' console: live alert feed (server-sent events) beside the zone map with
// the patrol units' routes, tag requests, device health and statistics.
"use strict";

const $ = (id) => document.getElementById(id);
const E = SC.el;
const alerts = new Map(); // id -> alert (highest revision seen)
let map = null;

function filters() {
  return SC.form($("filters"));
}

// SPEC 5: upper case, no separators or spaces (the server normalises the same way)
const plateKey = (p) => (p || "").toUpperCase().replace(/[\s·•・.\-_/\\|]/g, "");

function passes(a, f) {
  return (!f.kind || a.kind === f.kind) && (!f.grid || a.grid === f.grid) &&
    (!f.status || a.status === f.status) && (!f.workflow || a.workflow === f.workflow) &&
    (!f.plate || a.plate === plateKey(f.plate));
}

function render(freshId) {
  const f = filters();
  const shown = [...alerts.values()].filter((a) => passes(a, f)).sort((a, b) => b.started_at - a.started_at).slice(0, 300);
  $("feed").replaceChildren(...shown.map((a) => E("li", {
    "data-alert-id": a.id, "data-workflow": a.workflow, "data-kind": a.kind,
    class: a.id === freshId ? "fresh" : "", onclick: () => { location.href = `/console/alerts/${a.id}`; },
  },
    E("div", { class: "title" }, SC.label("kind", a.kind), " ",
      E("span", { class: `badge ${a.status}` }, SC.label("status", a.status)), " ",
      E("span", { class: `badge ${a.workflow}` }, SC.label("workflow", a.workflow))),
    E("div", { class: "muted" }, `${SC.time(a.started_at)} · ${a.device_id} · ${a.zone_name || "—"} · ${a.grid || "—"}`,
      a.kind === "sidewalk_parking" ? ` · ${a.plate || SC.t("console.plate_unread")}` : "",
      a.escalation ? ` · ${SC.label("step", a.escalation)}` : ""))));
  $("feed-count").textContent = `(${shown.length})`;
  if (map) SCMap.dots(map, shown, (a) => { location.href = `/console/alerts/${a.id}`; });
}

function upsert(a) {
  const old = alerts.get(a.id);
  if (old && old.revision >= a.revision) return false;
  alerts.set(a.id, a);
  return true;
}

async function load() {
  const f = filters();
  const q = new URLSearchParams({ limit: "300", ...f });
  alerts.clear();
  for (const a of await SC.api("GET", `/api/operator/alerts?${q}`)) upsert(a);
  render();
}

function live() {
  const es = new EventSource("/api/operator/alerts/stream");
  es.onopen = () => { $("live-dot").classList.add("live"); $("live-text").textContent = SC.t("console.live"); };
  es.onerror = () => { $("live-dot").classList.remove("live"); $("live-text").textContent = SC.t("console.reconnecting"); };
  es.addEventListener("alert", (ev) => {
    const a = JSON.parse(ev.data);
    if (upsert(a)) render(a.id);
  });
}

const PATROLS_EVERY_MS = 10000; // the units send a frame every few seconds; the map follows

async function patrols() {
  try {
    SCMap.patrols(map, await SC.api("GET", "/api/operator/patrols"));
  } catch (e) { console.error(e); }
}

const LIVE_TAG = new Set(["approved", "shipped", "active"]); // issued and not yet ended

// What an operator may do with a request or its tag, by its status.
function requestActions(r) {
  const out = [];
  if (r.status === "requested") {
    out.push(E("button", { type: "button", "data-approve": r.id, onclick: () => approve(r.id) }, SC.t("console.requests.approve")),
      E("input", { "data-reject-reason": r.id, maxlength: 300, placeholder: SC.t("console.requests.reject_reason") }),
      E("button", { type: "button", "data-reject": r.id, onclick: () => reject(r.id) }, SC.t("console.requests.reject")));
  }
  if (r.status === "approved") {
    out.push(E("button", { type: "button", "data-ship": r.id, onclick: () => ship(r.id) }, SC.t("console.requests.ship")));
  }
  if (r.tag_id && LIVE_TAG.has(r.status)) {
    out.push(E("select", { "data-deactivate-reason": r.tag_id },
      ...["lost", "broken", "deceased"].map((k) => E("option", { value: k }, SC.label("tag_reason", k)))),
    E("button", { type: "button", "data-deactivate": r.tag_id, onclick: () => deactivate(r.tag_id) }, SC.t("console.requests.deactivate")),
    E("button", { type: "button", "data-replace": r.tag_id, onclick: () => replace(r.tag_id) }, SC.t("console.requests.replace")));
  }
  return out;
}

function statusNote(r) {
  if (r.status === "rejected" && r.reason) return SC.t("console.requests.reason_note", { reason: r.reason });
  if (r.status === "inactive" && r.tag_reason) {
    return ` ${SC.label("tag_reason", r.tag_reason)}${r.replaced_by ? ` → ${r.replaced_by}` : ""}`;
  }
  return "";
}

async function requests() {
  const rows = await SC.api("GET", "/api/operator/tag-requests");
  $("requests-table").querySelector("tbody").replaceChildren(...rows.map((r) => E("tr", { "data-request": r.id, "data-status": r.status },
    E("td", {}, r.id), E("td", {}, `${r.owner_name} ${r.owner_phone}`), E("td", {}, r.dog_name),
    E("td", {}, r.postal_address), E("td", {}, E("span", { class: `badge ${r.status}` }, SC.label("tag_status", r.status)),
      E("span", { class: "muted", "data-note": r.id }, statusNote(r))),
    E("td", {}, r.tag_id || "—"), E("td", { class: "actions" }, ...requestActions(r)))));
}

// A serial and its activation code, shown this once to print with the tag.
function showCode(text, a) {
  SC.show("requests-msg", SC.t("console.requests.code_shown", { what: text, serial: a.tag_id, code: a.activation_code }), "ok");
  $("requests-msg").setAttribute("data-serial", a.tag_id);
  $("requests-msg").setAttribute("data-code", a.activation_code);
}

async function approve(id) {
  try {
    showCode(SC.t("console.requests.request_ref", { id }), await SC.api("POST", `/api/operator/tag-requests/${id}/approve`, {}));
  } catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function ship(id) {
  try { await SC.api("POST", `/api/operator/tag-requests/${id}/ship`); SC.show("requests-msg", SC.t("console.requests.shipped", { id }), "ok"); }
  catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function reject(id) {
  const reason = document.querySelector(`[data-reject-reason="${id}"]`).value.trim();
  if (reason.length < 2) { SC.show("requests-msg", SC.t("console.requests.reason_needed")); return; }
  try { await SC.api("POST", `/api/operator/tag-requests/${id}/reject`, { reason }); SC.show("requests-msg", SC.t("console.requests.rejected", { id }), "ok"); }
  catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function deactivate(tag) {
  const reason = document.querySelector(`[data-deactivate-reason="${tag}"]`).value;
  try {
    await SC.api("POST", `/api/operator/tags/${encodeURIComponent(tag)}/deactivate`, { reason });
    SC.show("requests-msg", SC.t("console.requests.deactivated", { tag, reason: SC.label("tag_reason", reason) }), "ok");
  } catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function replace(tag) {
  const cause = document.querySelector(`[data-deactivate-reason="${tag}"]`).value;
  try {
    const body = cause === "deceased" ? {} : { cause }; // the old tag was lost or broken
    showCode(SC.t("console.requests.replaced", { tag }), await SC.api("POST", `/api/operator/tags/${encodeURIComponent(tag)}/replace`, body));
  } catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

function tagTable(title, rows) {
  return E("div", {}, E("h2", {}, `${title} (${rows.length})`), E("div", { class: "table-wrap" }, E("table", {},
    E("thead", {}, E("tr", {}, ...["tag", "dog", "owner", "battery", "last_seen"].map((h) => E("th", {}, SC.t(`console.devices.${h}`))))),
    E("tbody", {}, ...rows.map((t) => E("tr", { "data-tag": t.tag_id }, E("td", {}, t.tag_id), E("td", {}, t.dog_name),
      E("td", {}, `${t.owner_name} ${t.owner_phone}`), E("td", {}, t.batt === null ? "—" : `${Math.round(t.batt)}%`),
      E("td", {}, SC.time(t.last_seen))))))));
}

async function devices() {
  const d = await SC.api("GET", "/api/operator/devices");
  $("devices").replaceChildren(
    E("p", {}, SC.t("console.devices.summary", { active: d.active_tags, never: d.never_reported.length })),
    tagTable(SC.t("console.devices.offline"), d.offline), tagTable(SC.t("console.devices.low_battery"), d.low_battery));
}

const TABS = { alerts: null, requests, devices, stats: SCStats.show }; // stats.js
for (const b of document.querySelectorAll("[data-tab]")) {
  b.addEventListener("click", () => {
    for (const o of document.querySelectorAll("[data-tab]")) o.classList.toggle("on", o === b);
    for (const name of Object.keys(TABS)) $(`tab-${name}`).classList.toggle("hidden", name !== b.dataset.tab);
    const fn = TABS[b.dataset.tab];
    if (fn) fn().catch((e) => console.error(e));
  });
}

$("filters").addEventListener("change", () => load());
$("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });

const KINDS = ["dog_forbidden_zone", "dog_outside_walking_hours", "sidewalk_parking", "tag_offline", "tag_low_battery"];

SC.session("operator").then(async () => {
  for (const k of KINDS) $("f-kind").append(E("option", { value: k }, SC.label("kind", k)));
  live();
  const zones = await SC.api("GET", "/api/zones");
  map = SCMap.create($("map"), zones);
  await patrols();
  setInterval(patrols, PATROLS_EVERY_MS);
  await load();
});
