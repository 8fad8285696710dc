"use strict";
// The optional hosted captcha (Turnstile, hCaptcha or reCAPTCHA v2) of the
// voter page, shown next to the proof of work only when the server has one
// (GET /api/v1/config). Its script is loaded from the provider, which the
// page's CSP admits for that provider alone. Tokens count once: the page
// resets the widget after every vote it sends, so a resend carries a fresh one.
(() => {
  const P = window.Paredao;
  const words = {
    "pt-BR": { required: "Confirme a verificação (captcha) antes de votar.", failed: "A verificação (captcha) não carregou. Recarregue a página." },
    en: { required: "Complete the captcha check before voting.", failed: "The captcha check did not load. Reload the page." },
  };
  const say = (k) => (words[P.lang()] || words["pt-BR"])[k];

  let config = null; // {provider, siteKey, script}, or null: none
  let api = null; // window.turnstile, hcaptcha or grecaptcha
  let widgetId = null;
  let token = "";
  let loading = null;

  // load asks the server once which captcha to show and loads its script.
  function load() {
    if (loading) return loading;
    loading = P.api("/api/v1/config").then((c) => {
      config = (c && c.captcha) || null;
      if (!config) return;
      return new Promise((resolve, reject) => {
        window.paredaoCaptchaReady = () => {
          api = { turnstile: window.turnstile, hcaptcha: window.hcaptcha, recaptcha: window.grecaptcha }[config.provider];
          resolve();
        };
        const s = document.createElement("script");
        s.src = config.script;
        s.async = true;
        s.onerror = () => reject(new Error("captcha script"));
        document.head.append(s);
      });
    }).catch(() => {
      loading = null; // try again with the next render
      const box = document.getElementById("captcha");
      if (config && box) box.replaceChildren(P.el("p", { class: "vote-error", text: say("failed") }));
    });
    return loading;
  }

  // render shows the widget in #captcha, once.
  async function render() {
    await load();
    const box = document.getElementById("captcha");
    if (!config || !api || !box || widgetId !== null) return;
    box.hidden = false;
    widgetId = api.render(box, {
      sitekey: config.siteKey,
      callback: (t) => { token = t || ""; },
      "expired-callback": () => { token = ""; },
      "error-callback": () => { token = ""; },
    });
  }

  // reset forgets the token (used, or refused) and asks for a new one.
  function reset() {
    token = "";
    if (api && widgetId !== null) {
      try { api.reset(widgetId); } catch { /* the widget is gone: render makes another */ }
    }
  }

  P.captcha = {
    render,
    reset,
    enabled: () => !!config,
    token: () => token || (api && widgetId !== null && api.getResponse(widgetId)) || "",
    required: () => say("required"),
  };
})();
