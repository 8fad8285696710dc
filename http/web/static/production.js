"use strict";
// The production dashboard: sign in with the bearer token (kept in this tab's
// sessionStorage, sent only in the Authorization header), follow a paredão's
// report live (polled), per hour or per UTC day, download it as CSV, create
// paredões and close them.
(() => {
  const P = window.Paredao;
  const { fmt, el, $ } = P;
  const TOKEN = "paredao.productionToken";
  const POLL_MS = 2500;
  const LIST_MS = 10000;

  let token = null;
  let paredoes = [];
  let selected = null; // id of the paredão shown
  let report = null;
  let minutes = null;
  let pollTimer = 0;
  let pollGen = 0;
  let listTimer = 0;
  let charts = {};
  let closing = null; // paredão being confirmed in the dialog
  let chosenView = null; // "hour" or "day" once chosen; null: per day when hours are folded, else per hour

  // The words of the per-day view, in both languages; common.js has the
  // rest. t falls back to common.js.
  const WORDS = {
    "pt-BR": {
      "prod.by": "Gráfico e CSV",
      "prod.byHour": "Por hora",
      "prod.byDay": "Por dia",
      "prod.perDayChart": "Votos por dia (UTC)",
      "prod.chart.day.aria": "Gráfico de barras empilhadas: votos por dia (UTC), por participante",
      "prod.hoursFolded": "Os votos antes de {day} (UTC) estão só por dia: as horas foram agregadas em dias (PAREDAO_DAILY_ROLLUP_AFTER). Os totais continuam exatos.",
      "prod.csv.folded": "Não há mais CSV por hora deste paredão: as horas foram agregadas em dias. Baixe por dia.",
      "prod.photos": "Fotos dos participantes",
      "prod.photos.hint": "JPEG, PNG ou WebP até 2 MB; recortada ao quadrado no centro. Sem foto, o participante tem um avatar gerado.",
      "prod.photos.choose": "Enviar foto",
      "prod.photos.remove": "Remover foto",
      "prod.photos.sending": "Enviando a foto de {name}…",
      "prod.photos.done": "Foto de {name} atualizada.",
      "prod.photos.removed": "{name} voltou ao avatar gerado.",
      "prod.photos.fail": "A foto de {name} não foi aceita: {message}",
      "prod.photos.tooBig": "A foto de {name} passa de 2 MB.",
    },
    en: {
      "prod.by": "Chart and CSV",
      "prod.byHour": "By hour",
      "prod.byDay": "By day",
      "prod.perDayChart": "Votes per day (UTC)",
      "prod.chart.day.aria": "Stacked bar chart: votes per day (UTC), by housemate",
      "prod.hoursFolded": "Votes before {day} (UTC) are kept per day only: their hours were folded into days (PAREDAO_DAILY_ROLLUP_AFTER). Totals stay exact.",
      "prod.csv.folded": "This eviction has no hourly CSV any more: its hours were folded into days. Download it by day.",
      "prod.photos": "Housemates' photos",
      "prod.photos.hint": "JPEG, PNG or WebP up to 2 MB; cropped to a square at the centre. Without a photo a housemate has a generated avatar.",
      "prod.photos.choose": "Upload photo",
      "prod.photos.remove": "Remove photo",
      "prod.photos.sending": "Uploading {name}'s photo…",
      "prod.photos.done": "{name}'s photo updated.",
      "prod.photos.removed": "{name} is back on the generated avatar.",
      "prod.photos.fail": "{name}'s photo was refused: {message}",
      "prod.photos.tooBig": "{name}'s photo is over 2 MB.",
    },
  };
  function t(key, vars) {
    const s = (WORDS[P.lang()] || {})[key] ?? WORDS["pt-BR"][key];
    if (s === undefined) return P.t(key, vars);
    return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
  }
  // UTC days are labelled as UTC dates, whatever this computer's zone.
  const dayLabel = (d) => new Intl.DateTimeFormat(P.lang(), { day: "2-digit", month: "2-digit", timeZone: "UTC" }).format(new Date(d));

  // view is what the hour chart and the CSV show: the choice made, or per
  // day once the report says hours were folded.
  function view() {
    return chosenView || (report && report.hourlyFrom ? "day" : "hour");
  }

  // ---- signing in ---------------------------------------------------------

  function storedToken() {
    try { return sessionStorage.getItem(TOKEN); } catch { return null; }
  }

  // checkToken asks a production endpoint: 401 means the token is wrong; any
  // other answer means it was let through.
  async function checkToken(candidate) {
    const probe = (paredoes[0] && paredoes[0].id) || "-";
    try {
      await P.api(`/api/v1/production/paredoes/${encodeURIComponent(probe)}/report`, { token: candidate });
    } catch (e) {
      if (e.status === 401) return false;
      if (e.status === 0) throw e;
    }
    return true;
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const candidate = $("token").value.trim();
    if (!candidate) return;
    $("signin-error").textContent = "";
    $("signin-button").disabled = true;
    $("signin-button").textContent = t("prod.signin.checking");
    try {
      await loadList();
      if (await checkToken(candidate)) {
        token = candidate;
        try { sessionStorage.setItem(TOKEN, token); } catch { /* this page only */ }
        $("token").value = "";
        enter();
      } else {
        $("signin-error").textContent = t("prod.signin.wrong");
        $("token").select();
      }
    } catch {
      $("signin-error").textContent = t("prod.report.fail");
    } finally {
      $("signin-button").disabled = false;
      $("signin-button").textContent = t("prod.signin.submit");
    }
  });

  function showSignIn(message) {
    token = null;
    try { sessionStorage.removeItem(TOKEN); } catch { /* nothing kept */ }
    clearTimeout(pollTimer);
    clearTimeout(listTimer);
    clearTimeout(auditTimer);
    auditGen++;
    $("dash").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("token").focus();
  }

  $("signout").addEventListener("click", () => showSignIn(""));

  function enter() {
    $("signin").hidden = true;
    $("dash").hidden = false;
    $("signout").hidden = false;
    if (!selected) {
      const open = paredoes.find((p) => p.status === "open");
      const latest = [...paredoes].sort((a, b) => new Date(b.opensAt) - new Date(a.opensAt))[0];
      selected = (open || latest || {}).id || null;
    }
    renderList();
    resetPeople();
    poll();
    loadAudit();
    listTimer = setTimeout(refreshList, LIST_MS);
  }

  // A 401 anywhere: the token stopped working (changed on the server).
  function unauthorized(e) {
    if (e && e.status === 401) {
      showSignIn(t("prod.signin.expired"));
      return true;
    }
    return false;
  }

  // ---- the paredões ----------------------------------------------------------

  async function loadList() {
    paredoes = await P.api("/api/v1/paredoes");
    paredoes.sort((a, b) => new Date(b.opensAt) - new Date(a.opensAt));
  }

  async function refreshList() {
    clearTimeout(listTimer);
    try {
      await loadList();
      renderList();
    } catch { /* shown by the poll */ }
    if (token) listTimer = setTimeout(refreshList, LIST_MS);
  }

  function renderList() {
    const select = $("paredao-select");
    select.replaceChildren(...paredoes.map((p) =>
      el("option", { value: p.id, selected: p.id === selected, text: `${p.title} · ${t("status." + p.status)}` })));
    const body = $("paredoes").tBodies[0];
    if (!paredoes.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "muted", text: t("prod.none") })));
    } else {
      body.replaceChildren(...paredoes.map((p) => el("tr", { "data-paredao": p.id },
        el("td", {}, el("strong", { text: p.title }), el("span", { class: "mono muted id-under", text: p.id })),
        el("td", {}, el("span", { class: `status status-${p.status}`, text: t("status." + p.status) })),
        el("td", { text: fmt.short(p.opensAt), "data-label": t("prod.col.opens") }),
        el("td", { text: fmt.short(p.closesAt), "data-label": t("prod.col.closes") }),
        el("td", {}, ...(p.status === "closed" ? [] : [el("button", {
          type: "button", class: "ghost ghost-danger close-now", "data-close": p.id, text: t("prod.closeNow"),
          "aria-label": `${t("prod.closeNow")}: ${p.title}`, onclick: () => askClose(p),
        })])))));
    }
    renderStatus();
    renderPhotos();
    renderAuditButtons();
  }

  // ---- photos ------------------------------------------------------------------

  // renderPhotos lists the chosen paredão's participants with their picture,
  // an upload button and, for an uploaded photo, a remove button. It redraws
  // only when a photo changed, so the 10-second list refresh does not close
  // a file picker.
  let photosKey = "";
  function renderPhotos(force) {
    const p = current();
    $("photos-title").textContent = t("prod.photos");
    $("photos-hint").textContent = t("prod.photos.hint");
    const key = p ? P.lang() + "|" + p.id + "|" + p.participants.map((x) => x.id + "=" + (x.photoUrl || "")).join(",") : "";
    if (key === photosKey && !force) return;
    photosKey = key;
    const body = $("photos").tBodies[0];
    if (!p) {
      body.replaceChildren();
      return;
    }
    body.replaceChildren(...p.participants.map((x) => {
      const img = el("img", { class: "photo-thumb", src: P.photo(p.id, x), alt: "", width: "48", height: "48" });
      img.style.borderRadius = "50%";
      img.style.objectFit = "cover";
      const file = el("input", { type: "file", accept: "image/jpeg,image/png,image/webp", "data-photo": x.id, "aria-label": `${t("prod.photos.choose")}: ${x.name}` });
      file.addEventListener("change", () => { if (file.files[0]) uploadPhoto(p.id, x, file.files[0]); });
      const own = (x.photoUrl || "").startsWith("/photos/");
      return el("tr", { "data-participant": x.id },
        el("td", {}, img),
        el("th", { scope: "row", text: x.name }),
        el("td", {}, el("label", { class: "ghost" }, el("span", { text: t("prod.photos.choose") + " " }), file)),
        el("td", {}, ...(own ? [el("button", { type: "button", class: "ghost", "data-photo-remove": x.id, text: t("prod.photos.remove"),
          "aria-label": `${t("prod.photos.remove")}: ${x.name}`, onclick: () => removePhoto(p.id, x) })] : [])));
    }));
  }

  async function sendPhoto(paredaoId, x, method, file) {
    const path = `/api/v1/production/paredoes/${encodeURIComponent(paredaoId)}/participants/${encodeURIComponent(x.id)}/photo`;
    const headers = { Accept: "application/json", Authorization: "Bearer " + token };
    if (file) headers["Content-Type"] = file.type;
    let res;
    try {
      res = await fetch(path, { method, headers, credentials: "same-origin", body: file || undefined });
    } catch {
      throw new P.APIError(0, "network", t("prod.report.fail"));
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw new P.APIError(res.status, e.code || "http_" + res.status, e.message || res.statusText);
    }
    const i = paredoes.findIndex((q) => q.id === data.id);
    if (i >= 0) paredoes[i] = data;
    renderPhotos(true);
  }

  async function uploadPhoto(paredaoId, x, file) {
    const msg = $("photos-message");
    if (file.size > 2 << 20) {
      msg.textContent = t("prod.photos.tooBig", { name: x.name });
      renderPhotos(true);
      return;
    }
    msg.textContent = t("prod.photos.sending", { name: x.name });
    try {
      await sendPhoto(paredaoId, x, "PUT", file);
      msg.textContent = t("prod.photos.done", { name: x.name });
    } catch (e) {
      if (unauthorized(e)) return;
      msg.textContent = t("prod.photos.fail", { name: x.name, message: e.message });
      renderPhotos(true);
    }
  }

  async function removePhoto(paredaoId, x) {
    const msg = $("photos-message");
    try {
      await sendPhoto(paredaoId, x, "DELETE");
      msg.textContent = t("prod.photos.removed", { name: x.name });
    } catch (e) {
      if (unauthorized(e)) return;
      msg.textContent = t("prod.photos.fail", { name: x.name, message: e.message });
    }
  }

  $("paredao-select").addEventListener("change", (ev) => {
    selected = ev.target.value;
    report = null;
    minutes = null;
    chosenView = null;
    destroyCharts();
    renderList();
    poll();
    loadAudit();
  });

  // ---- the live report ---------------------------------------------------------

  async function poll() {
    clearTimeout(pollTimer);
    const gen = ++pollGen; // a newer poll (another paredão chosen) wins
    if (!token || !selected) return;
    const id = encodeURIComponent(selected);
    const now = new Date();
    const from = new Date(Math.floor(now.getTime() / 60000) * 60000 - 59 * 60000);
    try {
      const [r, m] = await Promise.all([
        P.api(`/api/v1/production/paredoes/${id}/report`, { token }),
        P.api(`/api/v1/production/paredoes/${id}/minutes?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(now.toISOString())}`, { token }),
      ]);
      if (gen !== pollGen) return;
      report = r;
      minutes = { data: m, from };
      setLive(true);
      $("dash-message").textContent = "";
      renderReport();
    } catch (e) {
      if (gen !== pollGen || unauthorized(e)) return;
      setLive(false);
      $("dash-message").textContent = e.status ? t("prod.report.missing", { code: e.code }) : t("prod.report.fail");
    }
    pollTimer = setTimeout(poll, POLL_MS);
  }

  function setLive(on) {
    $("live").classList.toggle("is-off", !on);
    $("live-text").textContent = on ? t("prod.live") : t("prod.paused");
  }

  function current() {
    return paredoes.find((p) => p.id === selected);
  }

  function renderStatus() {
    const p = current();
    if (!p) return;
    $("kpi-status").textContent = t("status." + p.status);
    $("kpi-status").className = `kpi-value kpi-text status-text-${p.status}`;
    $("kpi-closes").textContent = p.status === "scheduled" ? t("idle.opens", { when: fmt.short(p.opensAt) }) : t("vote.closes", { when: fmt.short(p.closesAt) });
  }

  function renderReport() {
    if (!report) return;
    const r = report;
    $("exact-until").textContent = t("prod.exactUntil", { time: fmt.time(r.exactUntil) });
    $("as-of").textContent = t("prod.asOf", { time: fmt.time(r.asOf) });
    $("kpi-total").textContent = fmt.num(r.total);

    const perMinute = minuteSeries();
    const lastHour = perMinute.totals.reduce((a, b) => a + b, 0);
    $("kpi-hour").textContent = fmt.num(lastHour);
    const recent = perMinute.totals[perMinute.totals.length - 1] ?? 0;
    $("kpi-rate").textContent = `${fmt.num(recent)} ${t("prod.perMinute")}`;

    const people = [...r.participants];
    const top = people.reduce((a, b) => (b.votes > (a ? a.votes : -1) ? b : a), null);
    $("kpi-leader").textContent = top && top.votes > 0 ? top.name : "—";
    $("kpi-leader-share").textContent = top && r.total > 0 ? fmt.pct((top.votes / r.total) * 100) : "";
    renderStatus();

    const body = $("by-participant").tBodies[0];
    body.replaceChildren(...people.map((p) => {
      const share = r.total > 0 ? (p.votes / r.total) * 100 : 0;
      const fill = el("span", { class: "share-fill" });
      fill.style.width = share + "%";
      fill.style.setProperty("--c", P.color(r.participants, p.id));
      return el("tr", { "data-participant": p.id },
        el("th", { scope: "row" }, el("span", { class: "swatch", "aria-hidden": "true" }), p.name),
        el("td", { class: "num votes", text: fmt.num(p.votes) }),
        el("td", { class: "share" }, el("span", { class: "share-wrap" }, el("span", { class: "share-track", "aria-hidden": "true" }, fill), el("span", { class: "share-pct", text: fmt.pct(share) }))));
    }));
    for (const row of body.rows) row.querySelector(".swatch").style.setProperty("--c", P.color(r.participants, row.dataset.participant));

    renderView();
    drawCharts(perMinute);
  }

  // renderView names the hour chart after the view, marks the chosen button
  // and says when hours were folded into days.
  function renderView() {
    const v = view();
    for (const b of $("granularity").querySelectorAll("[data-by]")) {
      b.setAttribute("aria-pressed", String(b.dataset.by === v));
      b.textContent = t(b.dataset.by === "day" ? "prod.byDay" : "prod.byHour");
    }
    $("granularity").setAttribute("aria-label", t("prod.by"));
    $("hour-title").textContent = t(v === "day" ? "prod.perDayChart" : "prod.perHourChart");
    $("hour-chart").setAttribute("aria-label", t(v === "day" ? "prod.chart.day.aria" : "prod.chart.hour.aria"));
    $("hours-folded").textContent = report && report.hourlyFrom ? t("prod.hoursFolded", { day: dayLabel(report.hourlyFrom) }) : "";
  }

  $("granularity").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-by]");
    if (!b || b.dataset.by === view()) return;
    chosenView = b.dataset.by;
    if (charts.hour) { charts.hour.destroy(); delete charts.hour; } // other bars, other labels
    if (report) renderReport(); else renderView();
  });

  // minuteSeries lays the minutes answer on a continuous last hour, zeros
  // where no vote came, one series per participant.
  function minuteSeries() {
    const out = { labels: [], totals: [], per: {} };
    if (!report || !minutes) return out;
    const ids = report.participants.map((p) => p.id);
    for (const id of ids) out.per[id] = [];
    const byMinute = new Map();
    for (const m of minutes.data.minutes || []) byMinute.set(new Date(m.minute).getTime(), m);
    for (let i = 0; i < 60; i++) {
      const at = minutes.from.getTime() + i * 60000;
      const m = byMinute.get(at);
      out.labels.push(fmt.hm(at));
      out.totals.push(m ? m.total : 0);
      const votes = new Map((m ? m.participants : []).map((x) => [x.id, x.votes]));
      for (const id of ids) out.per[id].push(votes.get(id) || 0);
    }
    return out;
  }

  function datasets(ids, per) {
    return ids.map((p) => ({
      label: p.name, data: per[p.id],
      backgroundColor: P.color(ids, p.id), borderRadius: 3, borderSkipped: false, maxBarThickness: 48,
    }));
  }

  function chartOptions(yTitle) {
    return {
      responsive: true, maintainAspectRatio: false,
      animation: P.reducedMotion() ? false : { duration: 400 },
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, usePointStyle: true } }, tooltip: { footer: (items) => `Σ ${fmt.num(items.reduce((a, i) => a + i.parsed.y, 0))}` } },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: !!yTitle, text: yTitle } },
      },
    };
  }

  function drawCharts(perMinute) {
    if (typeof window.Chart !== "function") return;
    const people = report.participants;
    const byDay = view() === "day";
    const rows = (byDay ? report.daily : report.hourly) || [];
    const per = {};
    for (const p of people) per[p.id] = rows.map((h) => ((h.participants || []).find((x) => x.id === p.id) || {}).votes || 0);
    const labels = rows.map((h) => (byDay ? dayLabel(h.day) : fmt.short(h.hour)));
    upsertChart("minute", $("minute-chart"), perMinute.labels, datasets(people, perMinute.per));
    upsertChart("hour", $("hour-chart"), labels, datasets(people, per));
  }

  function upsertChart(key, canvas, labels, sets) {
    const c = charts[key];
    if (c) {
      c.data.labels = labels;
      for (const s of sets) {
        const have = c.data.datasets.find((d) => d.label === s.label);
        if (have) have.data = s.data; else c.data.datasets.push(s);
      }
      c.update("none");
      return;
    }
    charts[key] = new window.Chart(canvas, { type: "bar", data: { labels, datasets: sets }, options: chartOptions("") });
  }

  function destroyCharts() {
    for (const c of Object.values(charts)) c.destroy();
    charts = {};
  }

  function styleCharts() {
    if (typeof window.Chart !== "function") return;
    const d = window.Chart.defaults;
    d.color = "#cfc6ee";
    d.borderColor = "rgba(255,255,255,.08)";
    d.font.family = getComputedStyle(document.body).fontFamily;
  }

  // ---- CSV -------------------------------------------------------------------------

  $("csv").addEventListener("click", async () => {
    if (!token || !selected) return;
    const byDay = view() === "day";
    const file = `paredao-${selected}-${byDay ? "daily" : "hourly"}.csv`;
    let res;
    try {
      res = await fetch(`/api/v1/production/paredoes/${encodeURIComponent(selected)}/report.csv${byDay ? "?by=day" : ""}`, { headers: { Authorization: "Bearer " + token } });
    } catch {
      $("dash-message").textContent = t("prod.csv.fail", { code: "network" });
      return;
    }
    if (res.status === 401) return unauthorized({ status: 401 });
    if (res.status === 410) {
      $("dash-message").textContent = t("prod.csv.folded");
      return;
    }
    if (!res.ok) {
      $("dash-message").textContent = t("prod.csv.fail", { code: res.status });
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: file, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    $("dash-message").textContent = t("prod.csv.done", { file });
  });

  // ---- audit ------------------------------------------------------------------------
  // The last recount of the chosen paredão: equal to the report or where it
  // differs, its certificate (roots and counts, downloadable), and a button
  // that starts one, followed every second while it runs.

  const AUDIT_MS = 1000;
  let audit = null; // { paredaoId, run } of the chosen paredão, run null before any recount
  let auditTimer = 0;
  let auditGen = 0;
  let auditStarting = false;

  const auditPath = (id, what) => `/api/v1/production/paredoes/${encodeURIComponent(id)}/${what}`;

  // loadAudit asks for the chosen paredão's last recount, and again every
  // second while it runs; a newer call (another paredão) wins.
  async function loadAudit() {
    clearTimeout(auditTimer);
    const gen = ++auditGen;
    const id = selected;
    if (!token || !id) return;
    if (!audit || audit.paredaoId !== id) {
      audit = null;
      $("audit-error").textContent = "";
      $("audit-message").textContent = "";
      renderAudit();
    }
    try {
      const res = await P.api(auditPath(id, "recount"), { token });
      if (gen !== auditGen) return;
      audit = { paredaoId: id, run: res.run || null };
      if ($("audit-error").dataset.kind === "network") $("audit-error").textContent = "";
      renderAudit();
      if (audit.run && audit.run.status === "running") auditTimer = setTimeout(loadAudit, AUDIT_MS);
    } catch (e) {
      if (gen !== auditGen || unauthorized(e)) return;
      showAuditError(e);
      auditTimer = setTimeout(loadAudit, e.status ? 10000 : 3000);
    }
  }

  function showAuditError(e) {
    const code = e.code || "network";
    const key = "prod.audit.err." + code;
    const box = $("audit-error");
    box.dataset.kind = code;
    box.textContent = t(key) === key ? t("prod.audit.err.generic", { message: e.message || code, code }) : t(key);
  }

  const auditRun = () => (audit && audit.paredaoId === selected ? audit.run : null);

  function renderAuditButtons() {
    const p = current();
    const run = auditRun();
    const running = auditStarting || (run && run.status === "running");
    let why = "";
    if (p && p.status !== "closed") why = t(p.status === "scheduled" ? "prod.audit.why.scheduled" : "prod.audit.why.open");
    else if (running) why = t("prod.audit.why.running");
    const b = $("recount");
    b.disabled = !p || !token || !!why;
    b.setAttribute("aria-busy", String(!!running));
    b.textContent = t(running ? "prod.audit.recounting" : "prod.audit.recount");
    $("audit-reason").textContent = why;
    $("certificate").disabled = !(run && run.certificate);
  }

  function duration(n) {
    n = Math.max(0, Math.round(n || 0));
    return n < 60 ? t("prod.audit.seconds", { n: fmt.num(n) }) : t("prod.audit.minutes", { m: fmt.num(Math.floor(n / 60)), s: fmt.num(n % 60) });
  }

  const bucketLabel = (b) => (b === "total" ? t("prod.audit.bucket.total") : Number.isNaN(Date.parse(b)) ? b : fmt.short(b));

  function renderAudit() {
    renderAuditButtons();
    const run = auditRun();
    const state = $("audit-state");
    const progressBox = $("audit-progress-box");
    const diffsBox = $("audit-diffs-box");
    const cert = $("audit-cert");
    state.className = "audit-state";
    if (!run) {
      state.textContent = audit && audit.paredaoId === selected ? t("prod.audit.none") : "";
      progressBox.hidden = diffsBox.hidden = cert.hidden = true;
      return;
    }
    progressBox.hidden = run.status !== "running";
    if (run.status === "running") {
      const bar = $("audit-progress");
      const total = Number(run.total) || 0;
      const read = Number(run.read) || 0;
      if (total > 0) {
        bar.max = total;
        bar.value = Math.min(read, total);
      } else {
        bar.removeAttribute("value"); // indeterminate
      }
      const rate = fmt.num(Math.round(Number(run.rate) || 0));
      $("audit-progress-text").textContent = total > 0
        ? t("prod.audit.progress", { read: fmt.num(read), total: fmt.num(total), rate, left: duration(run.secondsLeft) })
        : t("prod.audit.progressNoTotal", { read: fmt.num(read), rate });
      state.textContent = t("prod.audit.running", { time: fmt.time(run.startedAt) });
      state.classList.add("is-running");
    } else if (run.status === "failed") {
      state.textContent = t("prod.audit.failed", { when: fmt.short(run.startedAt), error: run.error || "?" });
      state.classList.add("is-bad");
    } else {
      const when = fmt.short(run.finishedAt || run.startedAt);
      const diffs = run.differences || [];
      if (run.equal === true || (run.equal == null && !diffs.length)) {
        state.textContent = t("prod.audit.equal", { when });
        state.classList.add("is-equal");
      } else {
        state.textContent = t("prod.audit.different", { when, n: fmt.num(diffs.length) });
        state.classList.add("is-bad");
      }
    }
    const diffs = run.status === "done" ? run.differences || [] : [];
    diffsBox.hidden = !diffs.length;
    const people = (current() || {}).participants || [];
    $("audit-diffs").tBodies[0].replaceChildren(...diffs.map((d) => {
      const who = people.find((x) => x.id === d.participant);
      return el("tr", { "data-participant": d.participant, "data-bucket": d.bucket },
        el("th", { scope: "row", text: who ? who.name : d.participant }),
        el("td", { text: bucketLabel(d.bucket) }),
        el("td", { class: "num", text: fmt.num(d.recount) }),
        el("td", { class: "num", text: fmt.num(d.report) }));
    }));
    const c = run.certificate;
    cert.hidden = !c;
    if (c) {
      $("audit-cert-made-v").textContent = c.madeAt ? fmt.short(c.madeAt) : "—";
      $("audit-cert-counted-v").textContent = fmt.num(c.counted ?? 0);
      $("audit-cert-refused-v").textContent = fmt.num(c.refused ?? 0);
      $("audit-cert-countedRoot-v").textContent = c.countedRoot || "";
      $("audit-cert-refusedRoot-v").textContent = c.refusedRoot || "";
    }
  }

  $("recount").addEventListener("click", async () => {
    const id = selected;
    if (!token || !id || $("recount").disabled) return;
    auditStarting = true;
    $("audit-error").textContent = "";
    renderAuditButtons();
    try {
      const res = await P.api(auditPath(id, "recount"), { method: "POST", token });
      if (id === selected) audit = { paredaoId: id, run: res.run || null };
    } catch (e) {
      if (unauthorized(e)) return;
      const justClosed = e.code === "paredao_open" && (current() || {}).status === "closed";
      if (id === selected) showAuditError(justClosed ? { code: "justClosed" } : e);
      if (e.code === "paredao_open") refreshList();
    } finally {
      auditStarting = false;
    }
    if (id !== selected) return;
    renderAudit();
    loadAudit();
  });

  $("certificate").addEventListener("click", async () => {
    const id = selected;
    if (!token || !id) return;
    const file = `paredao-${id}-certificate.json`;
    $("audit-error").textContent = "";
    $("audit-message").textContent = "";
    let res;
    try {
      res = await fetch(auditPath(id, "certificate"), { headers: { Accept: "application/json", Authorization: "Bearer " + token } });
    } catch {
      showAuditError({ code: "network" });
      return;
    }
    if (res.status === 401) return unauthorized({ status: 401 });
    if (!res.ok) {
      const data = await res.json().catch(() => null);
      const e = (data && data.error) || {};
      showAuditError({ code: e.code || "http_" + res.status, message: e.message || res.statusText });
      return;
    }
    const url = URL.createObjectURL(new Blob([await res.blob()], { type: "application/json" }));
    const a = el("a", { href: url, download: file, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    $("audit-message").textContent = t("prod.audit.saved", { file });
  });

  // ---- closing -----------------------------------------------------------------------

  function askClose(p) {
    closing = p;
    $("close-dialog-title").textContent = t("prod.dialog.title", { title: p.title });
    $("close-dialog").showModal();
  }

  $("close-dialog").addEventListener("close", async () => {
    const p = closing;
    closing = null;
    if (!p || $("close-dialog").returnValue !== "confirm") return;
    const button = $("paredoes").querySelector(`[data-close="${CSS.escape(p.id)}"]`);
    if (button) { button.disabled = true; button.textContent = t("prod.closing"); }
    $("manage-message").textContent = t("prod.closing");
    try {
      await P.api(`/api/v1/production/paredoes/${encodeURIComponent(p.id)}/close`, { method: "POST", token });
      $("manage-message").textContent = t("prod.closed.done", { title: p.title });
    } catch (e) {
      if (unauthorized(e)) return;
      $("manage-message").textContent = t("prod.close.fail", { message: e.message || e.code });
    }
    await refreshList();
  });

  // ---- creating -------------------------------------------------------------------------

  const slug = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);

  function personRow() {
    const name = el("input", { name: "name", required: true, maxlength: "100", autocomplete: "off" });
    const id = el("input", { name: "pid", pattern: "[a-z0-9_\\-]{1,64}", maxlength: "64", autocomplete: "off", spellcheck: "false", class: "mono" });
    const photo = el("input", { name: "photo", maxlength: "500", autocomplete: "off", placeholder: "/…" });
    name.addEventListener("input", () => { id.placeholder = slug(name.value); });
    photo.addEventListener("input", () => photo.setCustomValidity(""));
    const remove = el("button", { type: "button", class: "ghost icon-button remove-person" }, el("span", { "aria-hidden": "true", text: "×" }));
    remove.addEventListener("click", () => {
      if ($("people").children.length > 2) { li.remove(); numberPeople(); }
    });
    const li = el("li", { class: "person" },
      el("label", { class: "field" }, el("span", { "data-i18n": "prod.f.name", text: t("prod.f.name") }), name),
      el("label", { class: "field" }, el("span", { "data-i18n": "prod.f.pid", text: t("prod.f.pid") }), id),
      el("label", { class: "field field-photo" }, el("span", { "data-i18n": "prod.f.photo", text: t("prod.f.photo") }), photo),
      remove);
    return li;
  }

  function numberPeople() {
    [...$("people").children].forEach((li, i) => {
      const label = t("prod.f.participantN", { n: i + 1 });
      li.setAttribute("aria-label", label);
      li.querySelector(".remove-person").setAttribute("aria-label", t("prod.f.remove", { n: label }));
      li.querySelector(".remove-person").disabled = $("people").children.length <= 2;
    });
    $("add-person").disabled = $("people").children.length >= 20;
  }

  const localInput = (d) => {
    const z = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return z.toISOString().slice(0, 16);
  };

  function resetPeople() {
    const f = $("create-form");
    f.reset();
    $("people").replaceChildren(personRow(), personRow(), personRow());
    numberPeople();
    const start = new Date(Math.ceil(Date.now() / 60000) * 60000);
    f.elements.opensAt.value = localInput(start);
    f.elements.closesAt.value = localInput(new Date(start.getTime() + 24 * 3600000));
  }

  $("add-person").addEventListener("click", () => {
    if ($("people").children.length >= 20) return;
    const li = personRow();
    $("people").append(li);
    numberPeople();
    li.querySelector("input").focus();
  });

  $("create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const people = [...$("people").children].map((li) => {
      const name = li.querySelector('[name="name"]').value.trim();
      const id = li.querySelector('[name="pid"]').value.trim() || slug(name);
      const photoInput = li.querySelector('[name="photo"]');
      const photoUrl = photoInput.value.trim();
      return { li, photoInput, p: photoUrl ? { id, name, photoUrl } : { id, name } };
    });
    for (const x of people) {
      const u = x.p.photoUrl;
      if (u && !u.startsWith("/")) {
        x.photoInput.setCustomValidity(t("prod.f.photoOrigin"));
        x.photoInput.reportValidity();
        return;
      }
    }
    const body = {
      title: f.elements.title.value.trim(),
      opensAt: new Date(f.elements.opensAt.value).toISOString(),
      closesAt: new Date(f.elements.closesAt.value).toISOString(),
      participants: people.map((x) => x.p),
    };
    const id = f.elements.id.value.trim();
    if (id) body.id = id;
    $("create-button").disabled = true;
    $("create-message").textContent = t("prod.f.creating");
    try {
      const created = await P.api("/api/v1/production/paredoes", { method: "POST", body, token });
      $("create-message").textContent = t("prod.f.created", { title: created.title, id: created.id });
      resetPeople();
      await refreshList();
    } catch (e) {
      if (unauthorized(e)) return;
      $("create-message").textContent = t("prod.f.fail", { message: e.message || e.code });
    } finally {
      $("create-button").disabled = false;
    }
  });

  // ---- language ------------------------------------------------------------------------

  P.onLang(() => {
    renderList();
    numberPeople();
    setLive(!$("live").classList.contains("is-off"));
    renderAudit();
    if (report) {
      destroyCharts();
      renderReport();
    } else {
      renderView();
    }
  });

  // ---- start -------------------------------------------------------------------------------

  P.translate();
  renderView();
  styleCharts();
  // start signs in again with the token this tab kept, if any; a server that
  // cannot be reached is asked again, and does not cost the token.
  async function start() {
    const saved = storedToken();
    try {
      await loadList();
      if (saved && (await checkToken(saved))) {
        token = saved;
        enter();
        return;
      }
    } catch {
      $("signin").hidden = false;
      $("signin-error").textContent = t("prod.report.fail");
      setTimeout(start, 3000);
      return;
    }
    showSignIn("");
  }
  start();
})();
