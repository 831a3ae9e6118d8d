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
    E("div", { class: "title" }, SC.KINDS[a.kind] || a.kind, " ",
      E("span", { class: `badge ${a.status}` }, a.status === "open" ? "进行中 open" : "已结束 closed"), " ",
      E("span", { class: `badge ${a.workflow}` }, SC.WORKFLOW[a.workflow] || a.workflow)),
    E("div", { class: "muted" }, `${SC.time(a.started_at)} · ${a.device_id} · ${a.zone_name || "—"} · ${a.grid || "—"}`,
      a.kind === "sidewalk_parking" ? ` · ${a.plate || "车牌未识别 plate unread"}` : "",
      a.escalation ? ` · ${SC.STEPS[a.escalation] || a.escalation}` : ""))));
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
  es.onopen = () => { $("live-dot").classList.add("live"); $("live-text").textContent = "实时 live"; };
  es.onerror = () => { $("live-dot").classList.remove("live"); $("live-text").textContent = "重连中 reconnecting"; };
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
    out.push(E("button", { type: "button", "data-approve": r.id, onclick: () => approve(r.id) }, "批准并分配编号 Approve"),
      E("input", { "data-reject-reason": r.id, maxlength: 300, placeholder: "驳回原因（犬主可见）Reason, shown to the owner" }),
      E("button", { type: "button", "data-reject": r.id, onclick: () => reject(r.id) }, "驳回 Reject"));
  }
  if (r.status === "approved") {
    out.push(E("button", { type: "button", "data-ship": r.id, onclick: () => ship(r.id) }, "已寄出 Mark shipped"));
  }
  if (r.tag_id && LIVE_TAG.has(r.status)) {
    out.push(E("select", { "data-deactivate-reason": r.tag_id },
      ...["lost", "broken", "deceased"].map((k) => E("option", { value: k }, SC.TAG_REASONS[k]))),
    E("button", { type: "button", "data-deactivate": r.tag_id, onclick: () => deactivate(r.tag_id) }, "停用 Deactivate"),
    E("button", { type: "button", "data-replace": r.tag_id, onclick: () => replace(r.tag_id) }, "换牌 Replace"));
  }
  return out;
}

function statusNote(r) {
  if (r.status === "rejected" && r.reason) return `：${r.reason}`;
  if (r.status === "inactive" && r.tag_reason) {
    return ` ${SC.TAG_REASONS[r.tag_reason] || r.tag_reason}${r.replaced_by ? ` → ${r.replaced_by}` : ""}`;
  }
  return "";
}

async function requests() {
  const rows = await SC.api("GET", "/api/operator/tag-requests");
  $("requests-table").querySelector("tbody").replaceChildren(...rows.map((r) => E("tr", { "data-request": r.id, "data-status": r.status },
    E("td", {}, r.id), E("td", {}, `${r.owner_name} ${r.owner_phone}`), E("td", {}, r.dog_name),
    E("td", {}, r.postal_address), E("td", {}, E("span", { class: `badge ${r.status}` }, SC.TAG_STATUS[r.status] || r.status),
      E("span", { class: "muted", "data-note": r.id }, statusNote(r))),
    E("td", {}, r.tag_id || "—"), E("td", { class: "actions" }, ...requestActions(r)))));
}

// A serial and its activation code, shown this once to print with the tag.
function showCode(text, a) {
  SC.show("requests-msg", `${text}：犬牌编号 serial ${a.tag_id}，激活码 activation code ${a.activation_code}（随犬牌打印寄出，只显示一次 print it with the tag; shown once）`, "ok");
  $("requests-msg").setAttribute("data-serial", a.tag_id);
  $("requests-msg").setAttribute("data-code", a.activation_code);
}

async function approve(id) {
  try {
    showCode(`申请 #${id}`, await SC.api("POST", `/api/operator/tag-requests/${id}/approve`, {}));
  } catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function ship(id) {
  try { await SC.api("POST", `/api/operator/tag-requests/${id}/ship`); SC.show("requests-msg", `#${id} 已寄出 shipped`, "ok"); }
  catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function reject(id) {
  const reason = document.querySelector(`[data-reject-reason="${id}"]`).value.trim();
  if (reason.length < 2) { SC.show("requests-msg", "请填写驳回原因（犬主可见）Type the reason: the owner reads it"); return; }
  try { await SC.api("POST", `/api/operator/tag-requests/${id}/reject`, { reason }); SC.show("requests-msg", `#${id} 已驳回 rejected`, "ok"); }
  catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function deactivate(tag) {
  const reason = document.querySelector(`[data-deactivate-reason="${tag}"]`).value;
  try {
    await SC.api("POST", `/api/operator/tags/${encodeURIComponent(tag)}/deactivate`, { reason });
    SC.show("requests-msg", `犬牌 ${tag} 已停用（${SC.TAG_REASONS[reason]}）；请重新生成密码文件并重载代理 Tag deactivated: run users tag-passwords and reload the broker`, "ok");
  } catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

async function replace(tag) {
  const cause = document.querySelector(`[data-deactivate-reason="${tag}"]`).value;
  try {
    const body = cause === "deceased" ? {} : { cause }; // the old tag was lost or broken
    showCode(`犬牌 ${tag} 已换牌 replaced`, await SC.api("POST", `/api/operator/tags/${encodeURIComponent(tag)}/replace`, body));
  } catch (e) { SC.show("requests-msg", e.message); }
  await requests();
}

function tagTable(title, rows) {
  return E("div", {}, E("h2", {}, `${title} (${rows.length})`), E("div", { class: "table-wrap" }, E("table", {},
    E("thead", {}, E("tr", {}, ...["犬牌 Tag", "犬只 Dog", "犬主 Owner", "电量 Battery", "最后通信 Last seen"].map((h) => E("th", {}, h)))),
    E("tbody", {}, ...rows.map((t) => E("tr", { "data-tag": t.tag_id }, E("td", {}, t.tag_id), E("td", {}, t.dog_name),
      E("td", {}, `${t.owner_name} ${t.owner_phone}`), E("td", {}, t.batt === null ? "—" : `${Math.round(t.batt)}%`),
      E("td", {}, SC.time(t.last_seen))))))));
}

async function devices() {
  const d = await SC.api("GET", "/api/operator/devices");
  $("devices").replaceChildren(
    E("p", {}, `在用犬牌 active tags: ${d.active_tags} · 未上报 never reported: ${d.never_reported.length}`),
    tagTable("离线 Offline", d.offline), tagTable("电量低 Low battery", d.low_battery));
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

for (const [k, label] of Object.entries(SC.KINDS)) $("f-kind").append(E("option", { value: k }, label));
$("filters").addEventListener("change", () => load());
$("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });

SC.session("operator").then(async () => {
  live();
  const zones = await SC.api("GET", "/api/zones");
  map = SCMap.create($("map"), zones);
  await patrols();
  setInterval(patrols, PATROLS_EVERY_MS);
  await load();
});
