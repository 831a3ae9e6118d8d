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
  $("alert-title").textContent = `${SC.label("kind", a.kind)} · ${a.device_id}`;
  const F = (name) => SC.t(`alert.fact.${name}`);
  const facts = [
    [F("status"), E("span", { class: `badge ${a.status}`, id: "status" }, SC.label("status", a.status)), "fact-status"],
    [F("workflow"), E("span", { class: `badge ${a.workflow}`, id: "workflow" }, SC.label("workflow", a.workflow))],
    [F("disposition"), SC.label("disposition", a.disposition), "fact-disposition"],
    [F("zone"), `${a.zone_name || "—"} (${a.zone_id || "—"})`],
    [F("grid_squad"), `${a.grid || "—"} / ${a.grid ? SC.t("alert.squad", { grid: a.grid }) : "—"}`],
    [F("started"), SC.time(a.started_at)], [F("ended"), a.ended_at ? SC.time(a.ended_at) : SC.t("alert.ongoing"), "fact-ended"],
    [F("step"), a.escalation ? `${SC.label("step", a.escalation)} (#${a.offence_number})` : "—"],
    [F("position"), a.lat === null ? "—" : `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`],
    [F("revision"), a.revision],
  ];
  facts.splice(2, 0, ...whoAndWhat(d));
  $("alert-facts").replaceChildren(...facts.map(([k, v, id]) => E("tr", id ? { id } : {}, E("th", {}, k), E("td", {}, v))));
  showEarlier(a, d.earlier || []);
  $("btn-acknowledge").disabled = a.workflow !== "new";
  $("btn-dispatch").disabled = a.workflow !== "acknowledged" || !a.grid;
  $("btn-close").disabled = !["acknowledged", "dispatched"].includes(a.workflow);
  $("events").replaceChildren(...d.events.map((e) => E("tr", { "data-action": e.action },
    E("td", {}, SC.time(e.at)), E("td", {}, SC.label("alert.event", e.action)), E("td", {}, actor(e.actor)),
    E("td", {}, eventDetail(e)))));

  if (!zones) zones = await SC.api("GET", "/api/zones");
  const map = SCMap.create($("map"), zones);
  SCMap.track(map, d.track);
  SCMap.dots(map, [a]);
  const pts = d.track.map((p) => [p.lon, p.lat]);
  if (a.lat !== null) pts.push([a.lon, a.lat]);
  SCMap.focus(map, pts);
  $("track-note").textContent = d.track.length
    ? SC.t("alert.track_note", { n: d.track.length, from: SC.time(d.track[0].ts), to: SC.time(d.track[d.track.length - 1].ts) })
    : (d.images.length ? "" : SC.t("alert.no_track"));
  $("map").classList.toggle("hidden", d.images.length > 0 && !d.track.length);
  if (a.kind === "sidewalk_parking") await showPlate(a, d.images);
  const units = a.kind === "sidewalk_parking" ? await patrolUnits() : new Map();
  const patrol = d.images.some((img) => img.device_id) || units.has(a.device_id);
  const paired = patrol ? showCaptures(a, d.images, units) : [];
  $("captures-box").classList.toggle("hidden", !patrol);
  const seenBy = (img) => (img.device_id ? unitLabel(units, img.device_id) : d.device ? deviceLabel(d.device) : a.device_id);
  $("photos").replaceChildren(...d.images.filter((img) => !paired.includes(img)).map((img) => E("figure", { "data-role": img.role || img.label || "" },
    E("img", { src: img.url, alt: role(img) }), E("figcaption", { class: "muted" },
      E("strong", {}, role(img)), " · ", SC.time(img.ts), " · ", seenBy(img)))));
}

// A photo's role (first_seen, dwell_exceeded, latest, plate) as the reader says it.
const role = (img) => {
  const name = img.role || img.label;
  return name ? SC.label("alert.role", name) : SC.t("alert.photo");
};

// Who took a step: an operator by login, else the service's part that did it.
const actor = (who) => (who && who.startsWith("operator:") ? SC.t("alert.by_operator", { login: who.slice(9) }) : (who || "—"));

// A history line's details by name, each value as the reader says it; a plate check's
// `from` and `to` are plates, a workflow step's `from` its former state.
const PLATE_NAMES = { from: "previous", to: "plate" };
function eventDetail(e) {
  const d = e.detail || {};
  const shown = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined || v === "") continue;
    const plateEvent = e.action === "plate";
    if (!plateEvent && k === "from") continue; // the previous state: the row before says it
    if (k === "grid" && d.squad) continue; // the squad names its grid
    const name = SC.label("alert.event_detail", plateEvent ? (PLATE_NAMES[k] || k) : k);
    let value = v;
    if (k === "squad") value = d.grid ? SC.t("alert.squad", { grid: d.grid }) : v;
    else if (k === "disposition") value = SC.label("disposition", v);
    else if (k === "status" || k === "from_status") value = SC.label("alert.plate_status", v);
    else if (k === "escalation") value = SC.label("step", v);
    else if (k === "party") value = String(v).replace(/^\w+:/, "");
    shown.push(`${name}: ${value}`);
  }
  return shown.join(", ");
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
    rows.push([SC.t("alert.fact.dog"), `${dog.dog}${dog.breed ? ` (${dog.breed})` : ""} · ${SC.t("alert.tag_ref", { tag: dog.tag_id })}`, "fact-dog"]);
    rows.push([SC.t("alert.fact.owner"), dog.owner, "fact-owner"]);
    rows.push([SC.t("alert.fact.phone"), E("a", { href: `tel:${dog.phone}` }, dog.phone), "fact-phone"]);
  }
  if (d.health) {
    const h = d.health, fix = h.last_fix;
    rows.push([SC.t("alert.fact.battery"), SC.t("alert.battery_line", { then: pct(h.battery), now: pct(h.battery_now) }), "fact-battery"]);
    rows.push([SC.t("alert.fact.last_fix"), fix ? `${SC.time(fix.ts)} · ${fix.place || SC.t("alert.outside_zones")} · ${where(fix.lat, fix.lon)}` : SC.t("alert.no_fix"), "fact-last-fix"]);
  }
  if (d.device) {
    const dev = d.device;
    const title = SC.t(dev.mobile ? "alert.fact.patrol_unit" : "alert.fact.camera");
    const place = dev.place || where(dev.lat, dev.lon);
    rows.push([title, `${deviceLabel(dev)} · ${place}${dev.mobile ? SC.t("alert.where_it_stood") : ""}`, "fact-device"]);
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
    E("td", {}, SC.label("kind", c.kind)), E("td", {}, c.zone_name || c.zone_id || "—"),
    E("td", {}, SC.label("disposition", c.disposition)))));
}

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
const CAPTURES = [["first_seen", "alert.first_capture"], ["dwell_exceeded", "alert.confirming_capture"]];

function showCaptures(a, images, units) {
  const pair = CAPTURES.map(([role]) => images.find((img) => img.role === role));
  const unitOf = (img, role) => (img && img.device_id) || (role === "dwell_exceeded" ? a.device_id : null);
  $("captures").replaceChildren(...CAPTURES.map(([role, key], i) => {
    const img = pair[i], unit = unitOf(img, role), title = SC.t(key);
    return E("figure", { "data-role": role, "data-unit": unit || "" },
      img ? E("img", { src: img.url, alt: title }) : E("div", { class: "missing muted" }, SC.t("alert.no_photo")),
      E("figcaption", {}, E("strong", {}, title), E("br"),
        E("span", { class: "capture-unit" }, unitLabel(units, unit)), " · ", E("span", { class: "capture-time" }, img ? SC.time(img.ts) : "—")));
  }));
  const [first, confirm] = pair;
  const gap = first && confirm ? Math.round(confirm.ts - first.ts) : null;
  $("capture-gap").textContent = gap === null ? ""
    : SC.t("alert.capture_gap", { min: Math.floor(gap / 60), s: gap % 60 });
  const closeup = images.find((img) => img.label === "plate");
  const source = closeup && pair.findIndex((img) => img && img.ts === closeup.ts);
  $("plate-source").textContent = closeup && source >= 0
    ? SC.t("alert.closeup_from", { capture: SC.t(CAPTURES[source][1]), unit: unitLabel(units, unitOf(pair[source], CAPTURES[source][0])) }) : "";
  return pair.filter(Boolean);
}

async function showPlate(a, images) {
  $("plate-box").classList.remove("hidden");
  const closeup = images.find((img) => img.label === "plate");
  $("plate-closeup").classList.toggle("hidden", !closeup);
  if (closeup) $("plate-closeup").src = closeup.url;
  const conf = a.plate_conf === null ? "" : ` (${Math.round(a.plate_conf * 100)}%)`;
  $("plate-read").replaceChildren(E("strong", { id: "plate-text" }, a.plate || a.plate_candidate || "—"),
    " ", E("span", { class: `badge ${a.plate_status}`, id: "plate-status" }, SC.label("alert.plate_status", a.plate_status)), conf);
  $("plate-hint").textContent = a.plate ? SC.t("alert.party", { plate: a.plate }) : SC.t("alert.no_party");
  $("plate-input").value = a.plate || a.plate_candidate || "";
  const cases = a.plate ? await SC.api("GET", `/api/operator/vehicles/${encodeURIComponent(a.plate)}`) : [];
  $("vehicle-cases").replaceChildren(...cases.map((c) => E("tr", {},
    E("td", {}, E("a", { href: `/console/alerts/${encodeURIComponent(c.id)}` }, SC.time(c.started_at))),
    E("td", {}, c.zone_name || c.zone_id || "—"), E("td", {}, SC.label("step", c.escalation)),
    E("td", {}, SC.label("disposition", c.disposition)))));
}

async function step(action, body) {
  SC.hide("action-msg");
  try {
    await SC.api("POST", `/api/operator/alerts/${encodeURIComponent(alertId)}/${action}`, body || {});
    SC.show("action-msg", SC.t("alert.updated"), "ok");
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
    SC.show("plate-msg", SC.t("alert.plate_recorded"), "ok");
  } catch (e) { SC.show("plate-msg", e.message); }
  await show();
});
$("close-form").addEventListener("submit", (ev) => { ev.preventDefault(); step("close", SC.form(ev.target)); });

SC.session("operator").then(show);
