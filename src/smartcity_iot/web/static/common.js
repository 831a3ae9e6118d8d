// Shared helpers of every page: the JSON API with the CSRF header, and formatting.
"use strict";

const SC = {
  csrf: null,
  tz: null,
  me: null,

  async api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && SC.csrf) headers["X-CSRF-Token"] = SC.csrf;
    const res = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(SC.detail(data) || SC.t("error.unexpected", { status: res.status }));
      err.status = res.status;
      throw err;
    }
    return data;
  },

  detail(data) {
    if (!data || !data.detail) return "";
    if (typeof data.detail === "string") return data.detail;
    // a 422 names each field by its label in the reader's language (web/lang.py)
    return data.detail.map((d) => SC.t("error.invalid_field", { field: d.field || (d.loc || []).slice(1).join("."), problem: d.msg })).join("; ");
  },

  // Who is logged in; sends anonymous visitors and the wrong role back to the log-in page.
  async session(role) {
    await SC.ready;
    try {
      SC.me = await SC.api("GET", "/api/me");
    } catch (e) {
      location.href = "/";
      throw e;
    }
    SC.csrf = SC.me.csrf_token;
    SC.tz = SC.me.timezone;
    if (role && SC.me.role !== role) {
      location.href = SC.me.role === "operator" ? "/console" : "/owner";
      throw new Error("wrong role");
    }
    const who = document.getElementById("who");
    if (who) who.textContent = `${SC.me.name} (${SC.me.login})`;
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => {
      await SC.api("POST", "/api/auth/logout").catch(() => null);
      location.href = "/";
    });
    return SC.me;
  },

  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  },

  time(ts) {
    if (ts === null || ts === undefined) return "—";
    // In the city's time zone, whatever the browser's (sv-SE formats as 2026-11-23 10:00:00).
    const opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    try {
      return new Date(ts * 1000).toLocaleString("sv-SE", { ...opts, timeZone: SC.tz || undefined });
    } catch (e) {
      return new Date(ts * 1000).toLocaleString("sv-SE", opts);
    }
  },

  show(id, text, kind) {
    const box = document.getElementById(id);
    if (!box) return;
    box.textContent = text;
    box.className = `msg show ${kind || "error"}`;
  },

  hide(id) {
    const box = document.getElementById(id);
    if (box) box.className = "msg";
  },

  form(formEl) {
    const data = {};
    for (const [k, v] of new FormData(formEl).entries()) if (v !== "") data[k] = v;
    return data;
  }
};

// One language at a time (i18n.md): the catalogue in the reader's language (the `lang`
// cookie, zh by default) from /api/messages; SC.t renders a key, SC.label a value's label.
SC.texts = {};
SC.lang = "zh";
SC.t = (key, params) => {
  const template = SC.texts[key] === undefined ? key : SC.texts[key];
  return template.replace(/\{(\w+)\}/g, (m, name) => (params && params[name] !== undefined ? String(params[name]) : m));
};
SC.label = (group, value) => {
  if (value === null || value === undefined || value === "") return "—";
  const text = SC.texts[`${group}.${value}`];
  return text === undefined ? String(value) : text;
};
SC.applyTexts = (root) => {
  const scope = root || document;
  for (const node of scope.querySelectorAll("[data-t]")) node.textContent = SC.t(node.dataset.t);
  for (const attr of ["placeholder", "title", "aria-label", "alt"]) {
    for (const node of scope.querySelectorAll(`[data-t-${attr}]`)) node.setAttribute(attr, SC.t(node.getAttribute(`data-t-${attr}`)));
  }
};
SC.ready = (async () => {
  try {
    const res = await fetch("/api/messages", { credentials: "same-origin", headers: { "Accept": "application/json" } });
    const data = await res.json();
    SC.texts = data.messages || {};
    SC.lang = data.lang || "zh";
  } catch (e) { console.error(e); }
  document.documentElement.lang = SC.lang === "en" ? "en" : "zh-CN";
  SC.applyTexts(document);
  const swap = document.getElementById("lang");
  if (swap) {
    swap.textContent = SC.t("app.switch_language");
    swap.title = SC.t("app.switch_language_title");
    swap.addEventListener("click", () => {
      document.cookie = `lang=${SC.lang === "en" ? "zh" : "en"}; path=/; max-age=31536000; SameSite=Lax`;
      location.reload();
    });
  }
})();
