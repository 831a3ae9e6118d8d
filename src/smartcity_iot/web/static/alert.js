// One alert: facts, the dog's track or the camera's photos, and the handling workflow.
"use strict";

const $ = (id) => document.getElementById(id);
const E = SC.el;
const alertId = decodeURIComponent(location.pathname.split("/").pop());
let zones = null;

async function show() {
  const d = await SC.api("GET", `/api/operator/alerts/${encodeURIComponent(alertId)}`);
  const a = d.alert;
  document.body.setAttribute("data-workflow", a.workflow);
  $("alert-title").textContent = `${SC.KINDS[a.kind] || a.kind} · ${a.device_id}`;
  const facts = [
    ["状态 Status", E("span", { class: `badge ${a.status}` }, a.status)],
    ["处置 Handling", E("span", { class: `badge ${a.workflow}`, id: "workflow" }, SC.WORKFLOW[a.workflow] || a.workflow)],
    ["处置结果 Disposition", a.disposition || "—"],
    ["区域 Zone", `${a.zone_name || "—"} (${a.zone_id || "—"})`],
    ["网格 / 中队 Grid / squad", `${a.grid || "—"} / ${d.squad || "—"}`],
    ["开始 Started", SC.time(a.started_at)], ["结束 Ended", a.ended_at ? SC.time(a.ended_at) : "进行中 ongoing"],
    ["升级 Step", a.escalation ? `${SC.STEPS[a.escalation] || a.escalation} (#${a.offence_number})` : "—"],
    ["位置 Position", a.lat === null ? "—" : `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`],
    ["版本 Revision", a.revision],
  ];
  $("alert-facts").replaceChildren(...facts.map(([k, v]) => E("tr", {}, E("th", {}, k), E("td", {}, v))));
  $("btn-acknowledge").disabled = a.workflow !== "new";
  $("btn-dispatch").disabled = a.workflow !== "acknowledged" || !a.grid;
  $("btn-close").disabled = !["acknowledged", "dispatched"].includes(a.workflow);
  $("events").replaceChildren(...d.events.map((e) => E("tr", { "data-action": e.action },
    E("td", {}, SC.time(e.at)), E("td", {}, e.action), E("td", {}, e.actor),
    E("td", {}, Object.entries(e.detail).filter(([k]) => k !== "from").map(([k, v]) => `${k}: ${v}`).join(", ")))));

  if (!zones) zones = await SC.api("GET", "/api/zones");
  const map = SCMap.create($("map"), zones);
  SCMap.track(map, d.track);
  SCMap.dots(map, [a]);
  const pts = d.track.map((p) => [p.lon, p.lat]);
  if (a.lat !== null) pts.push([a.lon, a.lat]);
  SCMap.focus(map, pts);
  $("track-note").textContent = d.track.length
    ? `轨迹 track: ${d.track.length} 个定位点 fixes, ${SC.time(d.track[0].ts)} — ${SC.time(d.track[d.track.length - 1].ts)}`
    : (d.images.length ? "" : "无轨迹数据 no track stored");
  $("map").classList.toggle("hidden", d.images.length > 0 && !d.track.length);
  $("photos").replaceChildren(...d.images.map((img) => E("figure", {},
    E("img", { src: img.url, alt: img.label || "evidence" }), E("figcaption", { class: "muted" }, `${img.label || ""} ${SC.time(img.ts)}`))));
}

async function step(action, body) {
  SC.hide("action-msg");
  try {
    await SC.api("POST", `/api/operator/alerts/${encodeURIComponent(alertId)}/${action}`, body || {});
    SC.show("action-msg", "已更新 Updated", "ok");
  } catch (e) { SC.show("action-msg", e.message); }
  await show();
}

$("btn-acknowledge").addEventListener("click", () => step("acknowledge"));
$("btn-dispatch").addEventListener("click", () => step("dispatch"));
$("close-form").addEventListener("submit", (ev) => { ev.preventDefault(); step("close", SC.form(ev.target)); });

SC.session("operator").then(show);
