// The account's own controls, on every page that has them: sending a one-time code
// (with the pause before another), proving an older account's phone, changing the
// password and signing out everywhere. Pages without an element skip that part.
"use strict";

const ACCOUNT = {
  // A "send code" button: POSTs the phone (or nothing, when logged in) and counts down.
  codeButton(buttonId, path, phoneId, msgId) {
    const button = document.getElementById(buttonId);
    if (!button) return;
    button.addEventListener("click", async () => {
      const label = button.textContent; // in the page's language by now
      SC.hide(msgId);
      const phone = phoneId ? document.getElementById(phoneId).value : null;
      if (phoneId && !phone.trim()) {
        SC.show(msgId, SC.t("account.ui.phone_first"));
        return;
      }
      button.disabled = true;
      try {
        const sent = await SC.api("POST", path, phoneId ? { phone } : undefined);
        SC.show(msgId, SC.t("account.ui.code_sent", { phone: sent.phone, minutes: Math.round(sent.expires_in_s / 60) }), "ok");
        ACCOUNT.countdown(button, label, sent.resend_after_s);
      } catch (e) {
        button.disabled = false;
        SC.show(msgId, e.status === 429 ? SC.t("account.ui.wait", { reason: e.message }) : e.message);
      }
    });
  },

  countdown(button, label, seconds) {
    let left = seconds;
    button.textContent = SC.t("account.ui.seconds", { n: left });
    const timer = setInterval(() => {
      left -= 1;
      if (left > 0) { button.textContent = SC.t("account.ui.seconds", { n: left }); return; }
      clearInterval(timer);
      button.textContent = label;
      button.disabled = false;
    }, 1000);
  },

  // The logged-in owner portal: verify banner, password change, sign out everywhere.
  async portal() {
    if (!document.getElementById("account-card")) return;
    await SC.ready;
    const me = await SC.api("GET", "/api/me").catch(() => null);
    if (!me) return;
    SC.csrf = SC.csrf || me.csrf_token;
    if (me.role === "owner" && !me.phone_verified) {
      document.getElementById("verify-card").classList.remove("hidden");
    }
    ACCOUNT.codeButton("verify-code-send", "/api/auth/verify/code", null, "verify-msg");
    ACCOUNT.onSubmit("verify-form", "verify-msg", async (data) => {
      await SC.api("POST", "/api/auth/verify", data);
      location.reload();
    });
    ACCOUNT.onSubmit("password-form", "password-msg", async (data, form) => {
      await SC.api("POST", "/api/auth/password", data);
      form.reset();
      SC.show("password-msg", SC.t("account.ui.password_changed"), "ok");
    });
    document.getElementById("logout-all").addEventListener("click", async () => {
      await SC.api("POST", "/api/auth/logout-all").catch(() => null);
      location.href = "/";
    });
  },

  onSubmit(formId, msgId, action) {
    const form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      SC.hide(msgId);
      try {
        await action(SC.form(form), form);
      } catch (e) {
        SC.show(msgId, e.message);
      }
    });
  },
};

document.addEventListener("DOMContentLoaded", () => ACCOUNT.portal());
