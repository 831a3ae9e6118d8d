// Log-in, sign-up with a code sent to the phone, and password reset by a code;
// afterwards each role goes to its own page.
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
    SC.show("login-msg", e.status === 429 ? SC.t("index.too_many") : SC.t("index.login_failed", { reason: e.message }));
  }
});

ACCOUNT.codeButton("signup-code-send", "/api/auth/signup/code", "signup-phone", "signup-msg");
ACCOUNT.onSubmit("signup-form", "signup-msg", async (data) => {
  try {
    go(await SC.api("POST", "/api/auth/signup", data));
  } catch (e) {
    throw new Error(SC.t("index.signup_failed", { reason: e.message }));
  }
});

document.getElementById("reset-open").addEventListener("click", () => {
  const card = document.getElementById("reset-card");
  card.classList.remove("hidden");
  const login = document.getElementById("login-login").value;
  if (login && !document.getElementById("reset-phone").value) document.getElementById("reset-phone").value = login;
  card.scrollIntoView();
});
ACCOUNT.codeButton("reset-code-send", "/api/auth/reset/code", "reset-phone", "reset-msg");
ACCOUNT.onSubmit("reset-form", "reset-msg", async (data) => {
  go(await SC.api("POST", "/api/auth/reset", data));
});

// texts first (the page has no session to wait for), then whoever is logged in moves on
SC.ready.then(() => SC.api("GET", "/api/me")).then(go).catch(() => null);
