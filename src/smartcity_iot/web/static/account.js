// The account's own controls, on every page that has them: sending a one-time code
// (with the pause before another), proving an older account's phone, changing the
// password and signing out everywhere. Pages without an element skip that part.
"use strict";

const ACCOUNT = {
  // A "send code" button: POSTs the phone (or nothing, when logged in) and counts down.
  codeButton(buttonId, path, phoneId, msgId) {
    const button = document.getElementById(buttonId);
    if (!button) return;
    const label = button.textContent;
    button.addEventListener("click", async () => {
      SC.hide(msgId);
      const phone = phoneId ? document.getElementById(phoneId).value : null;
      if (phoneId && !phone.trim()) {
        SC.show(msgId, "请先填写手机号。Type the mobile number first.");
        return;
      }
      button.disabled = true;
      try {
        const sent = await SC.api("POST", path, phoneId ? { phone } : undefined);
        SC.show(msgId, `验证码已发送至 ${sent.phone}，${Math.round(sent.expires_in_s / 60)} 分钟内有效。Code sent to ${sent.phone}.`, "ok");
        ACCOUNT.countdown(button, label, sent.resend_after_s);
      } catch (e) {
        button.disabled = false;
        SC.show(msgId, e.status === 429 ? `请稍后再试。Wait before asking again. ${e.message}` : e.message);
      }
    });
  },

  countdown(button, label, seconds) {
    let left = seconds;
    button.textContent = `${left} s`;
    const timer = setInterval(() => {
      left -= 1;
      if (left > 0) { button.textContent = `${left} s`; return; }
      clearInterval(timer);
      button.textContent = label;
      button.disabled = false;
    }, 1000);
  },

  // The logged-in owner portal: verify banner, password change, sign out everywhere.
  async portal() {
    if (!document.getElementById("account-card")) return;
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
      SC.show("password-msg", "密码已修改，其他设备上的登录已失效。Password changed; other log-ins ended.", "ok");
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
