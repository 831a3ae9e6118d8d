// Log-in and sign-up; afterwards each role goes to its own page.
"use strict";

function go(me) {
  location.href = me.role === "operator" ? "/console" : "/owner";
}

document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  SC.hide("login-msg");
  try {
    go(await SC.api("POST", "/api/auth/login", SC.form(ev.target)));
  } catch (e) {
    SC.show("login-msg", e.status === 429 ? "尝试次数过多，请稍后再试。Too many attempts, try again later." : `登录失败 ${e.message}`);
  }
});

document.getElementById("signup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  SC.hide("signup-msg");
  try {
    go(await SC.api("POST", "/api/auth/signup", SC.form(ev.target)));
  } catch (e) {
    SC.show("signup-msg", `注册失败 ${e.message}`);
  }
});

SC.api("GET", "/api/me").then(go).catch(() => null);
