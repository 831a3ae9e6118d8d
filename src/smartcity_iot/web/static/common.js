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
    return data.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  },

  // Who is logged in; sends anonymous visitors and the wrong role back to the log-in page.
  async session(role) {
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
  },

  KINDS: {
    dog_forbidden_zone: "禁入区域 Forbidden zone",
    dog_outside_walking_hours: "禁遛时段 Outside walking hours",
    sidewalk_parking: "人行道停车 Sidewalk parking",
    tag_offline: "设备离线 Tag offline",
    tag_low_battery: "电量低 Low battery",
  },
  WORKFLOW: { new: "新 New", acknowledged: "已确认 Acknowledged", dispatched: "已派遣 Dispatched", resolved: "已办结 Resolved" },
  STEPS: { education: "教育 Education", warning: "警告 Warning", penalty: "处罚 Penalty", strict: "从严 Strict" },
  TAG_STATUS: {
    requested: "已申请 Requested", approved: "已批准 Approved", shipped: "已寄出 Shipped",
    active: "已激活 Active", inactive: "停用 Inactive", rejected: "未通过 Rejected",
  },
  // why a tag ended (tags.deactivated_reason)
  TAG_REASONS: { lost: "丢失 Lost", broken: "损坏 Broken", deceased: "犬只死亡 Dog deceased", replaced: "已换牌 Replaced" },
};
