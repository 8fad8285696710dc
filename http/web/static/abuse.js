"use strict";
// The abuse panel of the production dashboard: GET
// /api/v1/production/paredoes/{id}/abuse of the replica that answers, polled
// while the dashboard is shown — votes refused by reason and difficulty
// levels per minute, and the top 10 address prefixes and voters of the last
// hour with their share. It reads the token production.js keeps in this
// tab's sessionStorage and the paredão chosen in its select.
(() => {
  const P = window.Paredao;
  const { fmt, el, $ } = P;
  const POLL_MS = 5000;
  const ROWS = 15; // minutes with activity shown, newest first
  const WORDS = {
    "pt-BR": {
      title: "Abusos — última hora", minute: "Minuto", accepted: "Aceitos", difficulty: "Dificuldade",
      prefixes: "Prefixos de endereço", voters: "Eleitores (id curto)", source: "Origem", votes: "Votos", share: "Parcela",
      none: "Nenhum voto na última hora.", fail: "Não foi possível ler os abusos.",
      note: "Figuras da réplica {replica} apenas; cada réplica responde as suas. Contagens por minuto exatas; fontes estimadas com {counters} contadores por minuto: votos superestima no máximo ± erro.",
    },
    en: {
      title: "Abuse — last hour", minute: "Minute", accepted: "Accepted", difficulty: "Difficulty",
      prefixes: "Address prefixes", voters: "Voters (short id)", source: "Source", votes: "Votes", share: "Share",
      none: "No vote in the last hour.", fail: "Could not read the abuse figures.",
      note: "Figures of replica {replica} only; every replica answers its own. Per-minute counts are exact; sources are estimated with {counters} counters per minute: votes overestimates by at most ± error.",
    },
  };
  const w = (k, vars) => {
    const s = (WORDS[P.lang()] || WORDS["pt-BR"])[k];
    return vars ? s.replace(/\{(\w+)\}/g, (m, x) => (x in vars ? String(vars[x]) : m)) : s;
  };
  let timer = 0;
  let last = null;

  async function poll() {
    clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
    const token = sessionStorage.getItem("paredao.productionToken");
    const id = $("paredao-select") && $("paredao-select").value;
    if (!token || !id || $("dash").hidden || document.hidden) return;
    try {
      last = await P.api(`/api/v1/production/paredoes/${encodeURIComponent(id)}/abuse?top=10`, { token });
      render();
    } catch {
      $("abuse-note").textContent = w("fail");
    }
  }

  function render() {
    const a = last;
    if (!a) return;
    $("abuse-title").textContent = w("title");
    $("abuse-note").textContent = w("note", { replica: a.replica, counters: fmt.num(a.counters) });
    const reasons = [...new Set(a.minutes.flatMap((m) => Object.keys(m.refused)))].sort();
    const levels = (m) => Object.keys(m.difficulty).sort((x, y) => x - y).map((l) => `${l}: ${fmt.num(m.difficulty[l])}`).join(" · ");
    const active = (m) => m.accepted > 0 || Object.keys(m.refused).length > 0 || Object.keys(m.difficulty).length > 0;
    const rows = a.minutes.filter(active).slice(-ROWS).reverse();
    $("abuse-minutes").replaceChildren(
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: w("minute") }), el("th", { scope: "col", class: "num", text: w("accepted") }),
        ...reasons.map((r) => el("th", { scope: "col", class: "num", text: r })),
        el("th", { scope: "col", text: w("difficulty") }))),
      el("tbody", {}, ...(rows.length ? [] : [el("tr", {}, el("td", { colspan: String(reasons.length + 3), text: w("none") }))]), ...rows.map((m) => el("tr", {},
        el("th", { scope: "row", text: fmt.hm(m.minute) }), el("td", { class: "num", text: fmt.num(m.accepted) }),
        ...reasons.map((r) => el("td", { class: "num", text: m.refused[r] ? fmt.num(m.refused[r]) : "·" })),
        el("td", { text: levels(m) || "·" })))));
    sources("abuse-prefixes", w("prefixes"), a.topPrefixes, (s) => s.prefix);
    sources("abuse-voters", w("voters"), a.topVoters, (s) => s.voter);
  }

  function sources(tableId, caption, list, name) {
    $(tableId).replaceChildren(
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: w("source") }), el("th", { scope: "col", class: "num", text: w("votes") }), el("th", { scope: "col", class: "num", text: w("share") }))),
      el("tbody", {}, ...(list.length ? list.map((s) => el("tr", {},
        el("th", { scope: "row" }, el("code", { text: name(s) })),
        el("td", { class: "num", text: fmt.num(s.votes) + (s.maxError ? ` ± ${fmt.num(s.maxError)}` : "") }),
        el("td", { class: "num", text: fmt.pct(s.share * 100) }))) : [el("tr", {}, el("td", { colspan: "3", text: w("none") }))])));
  }

  P.onLang(render);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  $("paredao-select").addEventListener("change", () => { last = null; poll(); });
  poll();
})();
