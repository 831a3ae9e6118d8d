// One alert: facts, the dog's track or the camera's photos (a patrol's two captures side
// by side), and the handling workflow.
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
  facts.splice(2, 0, ...whoAndWhat(d));
  $("alert-facts").replaceChildren(...facts.map(([k, v, id]) => E("tr", id ? { id } : {}, E("th", {}, k), E("td", {}, v))));
  showEarlier(a, d.earlier || []);
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
  if (a.kind === "sidewalk_parking") await showPlate(a, d.images);
  const units = a.kind === "sidewalk_parking" ? await patrolUnits() : new Map();
  const patrol = d.images.some((img) => img.device_id) || units.has(a.device_id);
  const paired = patrol ? showCaptures(a, d.images, units) : [];
  $("captures-box").classList.toggle("hidden", !patrol);
  const seenBy = (img) => (img.device_id ? unitLabel(units, img.device_id) : d.device ? deviceLabel(d.device) : a.device_id);
  $("photos").replaceChildren(...d.images.filter((img) => !paired.includes(img)).map((img) => E("figure", { "data-role": img.role || img.label || "" },
    E("img", { src: img.url, alt: ROLES[img.role] || ROLES[img.label] || img.label || "evidence" }), E("figcaption", { class: "muted" },
      E("strong", {}, ROLES[img.role] || ROLES[img.label] || img.label || "照片 Photo"), " · ", SC.time(img.ts), " · ", seenBy(img)))));
}

const deviceLabel = (dev) => (dev.name && dev.name !== dev.id ? `${dev.name} (${dev.id})` : dev.id);
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v)}%`);
const where = (lat, lon) => (lat === null || lat === undefined ? "—" : `${lat.toFixed(5)}, ${lon.toFixed(5)}`);

// The facts beside the alert: who to call for a dog, a tag's battery and last fix, the
// camera or patrol unit of a parking alert ([label, value, row id] rows).
function whoAndWhat(d) {
  const rows = [];
  if (d.dog) {
    const dog = d.dog;
    rows.push(["犬只 Dog", `${dog.dog}${dog.breed ? ` (${dog.breed})` : ""} · 犬牌 tag ${dog.tag_id}`, "fact-dog"]);
    rows.push(["犬主 Owner", dog.owner, "fact-owner"]);
    rows.push(["电话 Phone", E("a", { href: `tel:${dog.phone}` }, dog.phone), "fact-phone"]);
  }
  if (d.health) {
    const h = d.health, fix = h.last_fix;
    rows.push(["电量 Battery", `${pct(h.battery)} (当前 now ${pct(h.battery_now)})`, "fact-battery"]);
    rows.push(["最后定位 Last fix", fix ? `${SC.time(fix.ts)} · ${fix.place || "区域外 outside the zones"} · ${where(fix.lat, fix.lon)}` : "无定位 no fix stored", "fact-last-fix"]);
  }
  if (d.device) {
    const dev = d.device;
    const title = dev.mobile ? "巡查车 Patrol unit" : "摄像头 Camera";
    const place = dev.place || where(dev.lat, dev.lon);
    rows.push([title, `${deviceLabel(dev)} · ${place}${dev.mobile ? " (抓拍时位置 where it stood)" : ""}`, "fact-device"]);
  }
  return rows;
}

// A dog's owner's earlier cases (a vehicle's are in the plate box), one click each.
function showEarlier(a, earlier) {
  const dogAlert = a.kind.startsWith("dog_");
  $("earlier-box").classList.toggle("hidden", !dogAlert);
  $("earlier-none").classList.toggle("hidden", earlier.length > 0);
  $("earlier-cases").replaceChildren(...earlier.map((c) => E("tr", {},
    E("td", {}, E("a", { href: `/console/alerts/${encodeURIComponent(c.id)}` }, SC.time(c.started_at))),
    E("td", {}, SC.KINDS[c.kind] || c.kind), E("td", {}, c.zone_name || c.zone_id || "—"),
    E("td", {}, c.disposition || "—"))));
}

const ROLES = {
  first_seen: "首次发现 First seen", dwell_exceeded: "超过时限 Dwell exceeded", latest: "最新 Latest",
  plate: "车牌特写 Plate close-up",
};

// Mobile units by id -> name; none when the list cannot be had (the page still works).
async function patrolUnits() {
  try {
    return new Map((await SC.api("GET", "/api/operator/patrols")).map((u) => [u.id, u.name]));
  } catch (e) {
    console.error(e);
    return new Map();
  }
}

const unitLabel = (units, id) => (!id ? "—" : units.has(id) && units.get(id) !== id ? `${units.get(id)} (${id})` : id);

// SPEC 5.1: a patrol violation is the same plate at two captures (possibly by two units).
const CAPTURES = [["first_seen", "首次抓拍 First capture"], ["dwell_exceeded", "确认抓拍 Confirming capture"]];

function showCaptures(a, images, units) {
  const pair = CAPTURES.map(([role]) => images.find((img) => img.role === role));
  const unitOf = (img, role) => (img && img.device_id) || (role === "dwell_exceeded" ? a.device_id : null);
  $("captures").replaceChildren(...CAPTURES.map(([role, title], i) => {
    const img = pair[i], unit = unitOf(img, role);
    return E("figure", { "data-role": role, "data-unit": unit || "" },
      img ? E("img", { src: img.url, alt: title }) : E("div", { class: "missing muted" }, "无照片 no photo"),
      E("figcaption", {}, E("strong", {}, title), E("br"),
        E("span", { class: "capture-unit" }, unitLabel(units, unit)), " · ", E("span", { class: "capture-time" }, img ? SC.time(img.ts) : "—")));
  }));
  const [first, confirm] = pair;
  const gap = first && confirm ? Math.round(confirm.ts - first.ts) : null;
  $("capture-gap").textContent = gap === null ? ""
    : `两次抓拍间隔 ${Math.floor(gap / 60)} 分 ${gap % 60} 秒 · ${Math.floor(gap / 60)} min ${gap % 60} s between the captures`;
  const closeup = images.find((img) => img.label === "plate");
  const source = closeup && pair.findIndex((img) => img && img.ts === closeup.ts);
  $("plate-source").textContent = closeup && source >= 0 ? `特写取自 close-up from: ${CAPTURES[source][1]} · ${unitLabel(units, unitOf(pair[source], CAPTURES[source][0]))}` : "";
  return pair.filter(Boolean);
}

const PLATE_STATUS = { unread: "未识别 Unread", read: "自动识别 Read", confirmed: "已确认 Confirmed", corrected: "已更正 Corrected" };

async function showPlate(a, images) {
  $("plate-box").classList.remove("hidden");
  const closeup = images.find((img) => img.label === "plate");
  $("plate-closeup").classList.toggle("hidden", !closeup);
  if (closeup) $("plate-closeup").src = closeup.url;
  const conf = a.plate_conf === null ? "" : ` (${Math.round(a.plate_conf * 100)}%)`;
  $("plate-read").replaceChildren(E("strong", { id: "plate-text" }, a.plate || a.plate_candidate || "—"),
    " ", E("span", { class: `badge ${a.plate_status}`, id: "plate-status" }, PLATE_STATUS[a.plate_status] || a.plate_status || "—"), conf);
  $("plate-hint").textContent = a.plate
    ? `当事方 party: ${a.party}`
    : "未确定车牌，无当事方：请对照特写确认或输入车牌 No party until the plate is confirmed: check the close-up, confirm or type it";
  $("plate-input").value = a.plate || a.plate_candidate || "";
  const cases = a.plate ? await SC.api("GET", `/api/operator/vehicles/${encodeURIComponent(a.plate)}`) : [];
  $("vehicle-cases").replaceChildren(...cases.map((c) => E("tr", {},
    E("td", {}, E("a", { href: `/console/alerts/${encodeURIComponent(c.id)}` }, SC.time(c.started_at))),
    E("td", {}, c.zone_name || c.zone_id || "—"), E("td", {}, c.escalation ? (SC.STEPS[c.escalation] || c.escalation) : "—"),
    E("td", {}, c.disposition || "—"))));
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
$("plate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  SC.hide("plate-msg");
  try {
    await SC.api("POST", `/api/operator/alerts/${encodeURIComponent(alertId)}/plate`, SC.form(ev.target));
    SC.show("plate-msg", "车牌已确认 Plate recorded", "ok");
  } catch (e) { SC.show("plate-msg", e.message); }
  await show();
});
$("close-form").addEventListener("submit", (ev) => { ev.preventDefault(); step("close", SC.form(ev.target)); });

SC.session("operator").then(show);
