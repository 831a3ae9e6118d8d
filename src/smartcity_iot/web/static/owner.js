// The owner's portal: dogs, tag requests, activation, tags and own violations.
"use strict";

const $ = (id) => document.getElementById(id);
const E = SC.el;

async function refresh() {
  const [dogs, requests, tags, violations] = await Promise.all([
    SC.api("GET", "/api/owner/dogs"), SC.api("GET", "/api/owner/tag-requests"),
    SC.api("GET", "/api/owner/tags"), SC.api("GET", "/api/owner/violations"),
  ]);
  // Only dogs that may get a tag now: none while one is active or a request is under way.
  const open = dogs.filter((d) => d.can_request);
  const select = $("request-dog");
  select.replaceChildren(...open.map((d) => E("option", { value: d.id }, `${d.name}（${d.breed || ""}）`)));
  $("request-submit").disabled = open.length === 0;
  $("request-none").classList.toggle("hidden", open.length > 0 || dogs.length === 0);

  const body = $("requests-table").querySelector("tbody");
  const withRequest = new Set(requests.map((r) => r.dog_id));
  body.replaceChildren(
    ...requests.map((r) => E("tr", { "data-request": r.id },
      E("td", {}, r.dog_name), E("td", {}, `#${r.id} ${SC.time(r.created_at)}`),
      E("td", {}, E("span", { class: `badge ${r.status}`, "data-status": r.status }, SC.label("tag_status", r.status)),
        r.status === "rejected" && r.reason ? E("div", { class: "muted", "data-reason": r.id }, SC.t("owner.requests.reason", { reason: r.reason })) : null),
      E("td", {}, r.tag_id || "—"), E("td", {}, r.postal_address))),
    ...dogs.filter((d) => !withRequest.has(d.id)).map((d) => (d.tag_id
      ? E("tr", { "data-dog": d.id }, // a tag that came another way (registered by the bureau)
        E("td", {}, d.name), E("td", { class: "muted" }, SC.t("owner.requests.at_bureau")),
        E("td", {}, E("span", { class: `badge ${d.tag_status}`, "data-status": d.tag_status }, SC.label("tag_status", d.tag_status))),
        E("td", {}, d.tag_id), E("td", {}, "—"))
      : E("tr", { "data-dog": d.id },
        E("td", {}, d.name), E("td", { colspan: 4, class: "muted" }, SC.t("owner.requests.none_yet"))))),
  );

  $("tags-table").querySelector("tbody").replaceChildren(...tags.map((t) => E("tr", { "data-tag": t.tag_id },
    E("td", {}, t.tag_id), E("td", {}, t.dog_name),
    E("td", {}, E("span", { class: `badge ${t.status}`, "data-status": t.status }, SC.label("tag_status", t.status)),
      t.offline_since ? E("span", { class: "badge open" }, SC.t("owner.tags.offline")) : null,
      t.deactivated_reason ? E("div", { class: "muted", "data-reason": t.tag_id }, SC.label("tag_reason", t.deactivated_reason),
        t.replaced_by ? ` → ${t.replaced_by}` : "") : null),
    E("td", {}, t.lat === null ? "—" : `${t.lat.toFixed(5)}, ${t.lon.toFixed(5)}`),
    E("td", {}, t.batt === null ? "—" : `${Math.round(t.batt)}%`,
      t.low_battery_since ? E("span", { class: "badge open" }, SC.t("owner.tags.charge")) : null),
    E("td", {}, SC.time(t.last_ts)))));

  const box = $("violations");
  if (violations.length) {
    box.replaceChildren(...violations.map((v) => E("div", { class: "card", "data-violation": v.id },
      E("div", {}, E("strong", {}, v.kind_label), " · ", v.dog_name || v.device_id, " · ", v.zone_name || ""),
      E("div", { class: "muted" }, `${SC.time(v.started_at)} — ${v.ended_at ? SC.time(v.ended_at) : SC.t("owner.violations.ongoing")}`,
        ` · ${SC.t("owner.violations.offence", { n: v.offence_number || "?" })} · `,
        E("span", { class: "badge" }, SC.label("step", v.escalation)),
        v.disposition ? E("span", { class: "badge resolved" }, SC.t("owner.violations.disposition", { disposition: SC.label("disposition", v.disposition) })) : null),
      E("div", { class: "guidance" }, v.guidance))));
  }
}

$("dog-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  SC.hide("dog-msg");
  try {
    const dog = await SC.api("POST", "/api/owner/dogs", SC.form(ev.target));
    SC.show("dog-msg", SC.t("owner.dog.registered", { name: dog.name }), "ok");
    ev.target.reset();
    await refresh();
  } catch (e) { SC.show("dog-msg", e.message); }
});

$("request-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  SC.hide("request-msg");
  const data = SC.form(ev.target);
  try {
    await SC.api("POST", `/api/owner/dogs/${encodeURIComponent(data.dog_id)}/tag-requests`,
      { postal_address: data.postal_address || "" });
    SC.show("request-msg", SC.t("owner.request.sent"), "ok");
    await refresh();
  } catch (e) { SC.show("request-msg", e.message); }
});

$("activate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  SC.hide("activate-msg");
  try {
    const cred = await SC.api("POST", "/api/owner/tags/activate", SC.form(ev.target));
    $("cred-user").textContent = cred.mqtt_username;
    $("cred-pass").textContent = cred.mqtt_password;
    $("cred-topic").textContent = cred.publish_topic;
    $("credentials").classList.remove("hidden");
    SC.show("activate-msg", SC.t("owner.activate.done", { tag_id: cred.tag_id }), "ok");
    ev.target.reset();
    await refresh();
  } catch (e) { SC.show("activate-msg", e.message); }
});

SC.session("owner").then(refresh);
setInterval(() => refresh().catch(() => null), 15000);
