// The owner's notices: the unread badge in the header and the list, each notice with its
// time, place, escalation step and the bureau's text; opening one marks it read.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const E = SC.el;
  let shown = null; // the unread count the list was last drawn for
  let polls = 0;

  function badge(count) {
    const el = byId("notices-unread");
    el.textContent = String(count);
    el.dataset.unread = String(count);
    el.classList.toggle("none", count === 0);
  }

  function place(n) {
    const parts = [];
    if (n.zone_name) parts.push(n.zone_name);
    if (n.grid) parts.push(SC.t("owner.notice.grid", { grid: n.grid }));
    if (!parts.length && n.lat !== null) parts.push(`${n.lat.toFixed(5)}, ${n.lon.toFixed(5)}`);
    return parts.join(" · ") || "—";
  }

  function step(n) {
    if (!n.escalation) return n.step_label;
    return SC.t("owner.notice.step", { n: n.offence_number || "?", step: n.step_label });
  }

  async function open(item, n) {
    if (!item.open || n.read) return;
    n.read = true;
    item.classList.remove("unread");
    item.dataset.read = "true";
    const dot = item.querySelector(".dot");
    if (dot) dot.remove();
    try {
      await SC.api("POST", `/api/owner/notices/${n.id}/read`);
    } catch (e) {
      n.read = false;
      return;
    }
    // only the badge changes: the list stays as it is, this notice open
    const { unread } = await SC.api("GET", "/api/owner/notices/unread");
    shown = unread;
    badge(unread);
  }

  function item(n) {
    const row = E("details", {
      class: `notice${n.read ? "" : " unread"}${n.withdrawn ? " withdrawn" : ""}`,
      "data-notice": n.id, "data-kind": n.kind, "data-read": String(n.read),
    },
      E("summary", {},
        n.read || n.withdrawn ? null : E("span", { class: "dot", title: SC.t("owner.notice.unread") }),
        E("strong", {}, n.kind_label), " · ", n.dog_name || n.tag_id,
        n.zone_name ? ` · ${n.zone_name}` : null, " · ", SC.time(n.started_at),
        " ", E("span", { class: `badge step ${n.escalation || "notice"}` }, step(n)),
        n.withdrawn ? E("span", { class: "badge" }, SC.t("owner.notice.withdrawn")) : null),
      E("div", { class: "notice-body" },
        E("div", { class: "muted" }, SC.t("owner.notice.when_where", { time: SC.time(n.started_at), place: place(n) })),
        // the bureau's text is what the owner's phone received (Chinese): shown as sent,
        // labelled in the page's language, never machine-translated
        E("div", { class: "muted notice-as-sent" }, SC.t("owner.notice.as_sent")),
        E("div", { class: "guidance notice-text", lang: "zh-CN" }, n.text),
        n.withdrawn ? E("div", { class: "muted" }, SC.t("owner.notice.withdrawn_note")) : null,
        E("div", { class: "muted" }, SC.label("owner.notice.sms", n.sms))));
    row.addEventListener("toggle", () => open(row, n));
    return row;
  }

  async function draw() {
    const list = await SC.api("GET", "/api/owner/notices");
    const box = byId("notices");
    if (!list.length) {
      box.replaceChildren(E("p", { class: "muted" }, SC.t("owner.notices.none")));
      return;
    }
    const opened = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.notice));
    box.replaceChildren(...list.map((n) => {
      const row = item(n);
      if (opened.has(String(n.id))) row.open = true;
      return row;
    }));
  }

  // The count is cheap to ask for; the list is drawn again only when it changed.
  async function poll(force) {
    const { unread } = await SC.api("GET", "/api/owner/notices/unread");
    polls += 1;
    if (force === true || unread !== shown || polls % 6 === 0) { // else redrawn twice a minute
      await draw();
      shown = unread;
    }
    badge(unread); // after the list, so a badge never counts what the list does not show yet
  }

  byId("notices-read-all").addEventListener("click", async () => {
    await SC.api("POST", "/api/owner/notices/read-all").catch(() => null);
    await poll(true).catch(() => null);
  });
  byId("notices-badge").addEventListener("click", () => {
    const first = byId("notices").querySelector("details.unread");
    if (first) first.open = true;
  });

  SC.ready.then(() => poll(true)).catch(() => null);
  setInterval(() => poll().catch(() => null), 5000);
})();
