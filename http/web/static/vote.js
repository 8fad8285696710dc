"use strict";
// The voter page: the open paredão's participants, the ALTCHA widget (it
// proves work when the form is submitted, then submits it again), the vote,
// its receipt and the live standings (Server-Sent Events). With no paredão
// open: when the next one opens, and the last one's final result.
(() => {
  const P = window.Paredao;
  const { t, fmt, el, $ } = P;
  // smallPhoto is an uploaded photo's 128-pixel size (the address of the
  // 512-pixel one with "-128"), for pictures drawn at 72 pixels or less.
  const smallPhoto = (u) => (/^\/photos\/[0-9a-f]{64}\.jpg$/.test(u) ? u.replace(/\.jpg$/, "-128.jpg") : u);

  let paredao = null; // the open paredão
  let widget = null; // <altcha-widget>
  let nextChallenge = null; // from the last 202: the widget's next challenge, used once
  let stream = null; // EventSource of the standings
  let standings = null; // last standings shown
  let receipt = null; // last receipt shown
  let busy = false;
  let retryTimer = 0;
  let reloadTimer = 0;

  const form = $("vote-form");

  // ---- loading: which view ----------------------------------------------

  async function load() {
    clearTimeout(reloadTimer);
    let list;
    try {
      list = await P.api("/api/v1/paredoes");
    } catch {
      $("load-error").textContent = t("err.load");
      reloadTimer = setTimeout(load, 5000);
      return;
    }
    $("load-error").textContent = "";
    $("loading").hidden = true;
    fillCheckParedoes(list);
    const open = list.find((p) => p.status === "open");
    if (open) {
      showVote(open);
    } else {
      await showIdle(list);
    }
  }

  function showVote(p) {
    const changed = !paredao || paredao.id !== p.id;
    paredao = p;
    $("idle").hidden = true;
    $("vote").hidden = false;
    document.title = `${p.title} — Paredão`;
    $("title").textContent = p.title;
    renderCloses();
    if (changed) {
      renderCards();
      setUpWidget();
      P.captcha.render(); // the hosted captcha, when the server has one
      standings = null;
      $("panorama").hidden = true;
      follow();
    }
  }

  function renderCloses() {
    if (paredao) $("closes").textContent = t("vote.closes", { when: fmt.when(paredao.closesAt) });
  }

  function renderCards() {
    const cards = paredao.participants.map((p) => {
      const input = el("input", { type: "radio", name: "participant", value: p.id, class: "card-input", required: true, "aria-describedby": "vote-hint" });
      input.addEventListener("change", onPick);
      input.addEventListener("invalid", onInvalid);
      return el("label", { class: "card", "data-participant": p.id },
        input,
        el("span", { class: "card-body" },
          el("span", { class: "card-photo-wrap" }, el("img", { class: "card-photo", src: P.photo(paredao.id, p), alt: "", width: "160", height: "160" })),
          el("span", { class: "card-name", text: p.name }),
          el("span", { class: "card-badge", "aria-hidden": "true", "data-i18n": "vote.badge", text: t("vote.badge") })));
    });
    $("cards").replaceChildren(...cards);
    onPick();
  }

  function chosen() {
    const id = form.elements.participant && new FormData(form).get("participant");
    return paredao && paredao.participants.find((p) => p.id === id);
  }

  function onPick() {
    const p = chosen();
    $("vote-label").textContent = p ? t("vote.eliminateWho", { name: p.name }) : t("vote.eliminate");
    if (p) $("vote-error").textContent = "";
  }

  // A submit without a choice: say so in our words, not the browser's.
  function onInvalid(ev) {
    ev.preventDefault();
    $("vote-error").textContent = t("vote.pick");
    const first = form.querySelector(".card-input");
    if (first && document.activeElement?.name !== "participant") first.focus();
  }

  // ---- the widget ----------------------------------------------------------

  function widgetStrings() {
    return {
      label: t("altcha.label"), verifying: t("altcha.verifying"), verified: t("altcha.verified"),
      error: t("altcha.error"), expired: t("altcha.expired"), verificationRequired: t("altcha.required"),
      loading: t("loading"), waitAlert: "", footer: "", ariaLinkLabel: "ALTCHA",
    };
  }

  // customFetch hands the widget the nextChallenge of the last vote, once;
  // otherwise it asks the server (which also sets the voter cookie).
  async function customFetch(url, init) {
    if (nextChallenge) {
      const c = nextChallenge;
      nextChallenge = null;
      return new Response(JSON.stringify(c), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    return fetch(url, Object.assign({}, init, { credentials: "same-origin" }));
  }

  async function setUpWidget() {
    await customElements.whenDefined("altcha-widget");
    widget = $("altcha");
    const configure = () => widget.configure({
      challengeurl: `/api/v1/challenge?paredao=${encodeURIComponent(paredao.id)}`,
      customfetch: customFetch,
      strings: widgetStrings(),
    });
    if (typeof widget.configure === "function") configure();
    else widget.addEventListener("load", configure, { once: true });
    if (!widget.dataset.listening) {
      widget.dataset.listening = "1";
      widget.addEventListener("statechange", onWidgetState);
    }
  }

  function onWidgetState(ev) {
    const state = ev.detail && ev.detail.state;
    if (state === "verifying") {
      $("vote-status").textContent = t("vote.proving");
    } else if (state === "error" || state === "expired") {
      // The widget refuses submits in these states: start over, and say why.
      $("vote-status").textContent = "";
      $("vote-error").textContent = t("err.verify");
      setBusy(false);
      // After the widget's own promise chain (which re-submits the form and
      // must find it still in error, not start over), not before.
      setTimeout(() => widget.reset(), 0);
    } else if (state === "unverified") {
      $("vote-status").textContent = "";
    }
  }

  function setBusy(on) {
    busy = on;
    $("vote-button").setAttribute("aria-busy", String(on));
    form.classList.toggle("is-busy", on);
  }

  // ---- voting --------------------------------------------------------------

  form.addEventListener("submit", (ev) => {
    // The widget handles the first submit (capture phase): it proves work and
    // then submits the form again, with the payload in the hidden "altcha".
    if (ev.defaultPrevented) {
      if (chosen()) setBusy(true);
      return;
    }
    ev.preventDefault();
    const p = chosen();
    const payload = new FormData(form).get("altcha");
    if (!p) {
      onInvalid(ev);
      return;
    }
    if (busy && !payload) return;
    if (!payload) {
      if (widget && typeof widget.verify === "function") {
        setBusy(true);
        widget.verify();
      }
      return;
    }
    if (P.captcha.enabled() && !P.captcha.token()) {
      setBusy(false);
      $("vote-error").textContent = P.captcha.required();
      return; // the proof of work stays good: vote again once the captcha is done
    }
    vote(p, payload);
  });

  // doubtful is the proof of work of a vote whose outcome is unknown (503 or
  // no answer): sent again, a 409 challenge_used means it was recorded.
  let doubtful = null;

  async function vote(p, payload) {
    clearTimeout(retryTimer);
    setBusy(true);
    $("vote-error").textContent = "";
    $("vote-status").textContent = t("vote.sending");
    const captcha = P.captcha.token(); // counts once: the widget resets below, a resend takes a fresh one
    try {
      const res = await P.api(`/api/v1/paredoes/${encodeURIComponent(paredao.id)}/votes`, {
        method: "POST", body: Object.assign({ participantId: p.id, altcha: payload }, captcha ? { captcha } : {}),
      });
      nextChallenge = res.nextChallenge || null;
      doubtful = null;
      $("vote-status").textContent = "";
      showReceipt(res.receipt);
      showStandings(res.results);
    } catch (e) {
      $("vote-status").textContent = "";
      const code = e.code || "network";
      if (code === "challenge_used" && payload === doubtful) e = { code: "recorded" };
      doubtful = code === "unavailable" || code === "network" ? payload : null;
      failed(e);
    } finally {
      if (captcha) P.captcha.reset();
      setBusy(false);
    }
  }

  function failed(e) {
    const code = e.code || "network";
    switch (code) {
      case "rate_limited":
        countdown(e.retryAfter || 60);
        return; // the proof of work is still good until it expires
      case "unavailable":
      case "network":
        $("vote-error").textContent = t("err." + code);
        return; // outcome unknown: the same proof of work may be sent again, it counts once
      case "invalid_challenge":
      case "challenge_used":
      case "recorded":
        widget.reset();
        $("vote-error").textContent = t("err." + code);
        return;
      case "paredao_not_open":
      case "not_found":
        widget.reset();
        $("vote-error").textContent = t("err." + code);
        reloadTimer = setTimeout(load, 2500);
        return;
      case "unknown_participant":
        widget.reset();
        $("vote-error").textContent = t("err." + code);
        return;
      default:
        widget.reset();
        $("vote-error").textContent = t("err.generic", { code });
    }
  }

  // countdown shows "try again in N s", counting down, then clears.
  function countdown(n) {
    const tick = () => {
      if (n <= 0) {
        $("vote-error").textContent = "";
        return;
      }
      $("vote-error").textContent = t("err.rate_limited", { n });
      n--;
      retryTimer = setTimeout(tick, 1000);
    };
    tick();
  }

  function showReceipt(r) {
    receipt = r;
    rememberReceipt(r);
    renderReceipt();
    form.hidden = true;
    $("receipt").hidden = false;
    $("receipt").focus();
  }

  function renderReceipt() {
    if (!receipt || !paredao) return;
    const who = paredao.participants.find((x) => x.id === receipt.participantId);
    const name = who ? who.name : receipt.participantId;
    $("receipt-lead").textContent = t("receipt.lead", { name });
    $("receipt-participant").textContent = name;
    $("receipt-time").textContent = fmt.time(receipt.acceptedAt);
    $("receipt-id").textContent = receipt.voteId;
  }

  $("again").addEventListener("click", () => {
    form.reset(); // the widget resets with its form: a fresh proof for the next vote
    widget.reset();
    onPick();
    $("vote-error").textContent = "";
    $("receipt").hidden = true;
    form.hidden = false;
    const first = form.querySelector(".card-input");
    if (first) first.focus();
  });

  // ---- standings -------------------------------------------------------------

  // follow keeps the standings live while the page is open; the browser
  // reconnects by itself when the stream drops.
  function follow() {
    if (stream) stream.close();
    stream = new EventSource(`/api/v1/paredoes/${encodeURIComponent(paredao.id)}/results/stream`);
    stream.addEventListener("standings", (ev) => {
      let s;
      try { s = JSON.parse(ev.data); } catch { return; }
      if (s.paredaoId !== paredao.id) return;
      if (s.status === "closed") {
        stream.close();
        stream = null;
        reloadTimer = setTimeout(load, 1000);
      }
      if (!$("panorama").hidden || s.status === "closed") showStandings(s);
      else standings = s;
    });
    // A stream refused (503: the server holds all it can) is not retried by
    // the browser: try again in 15 to 30 s; each vote's answer brings fresh
    // standings meanwhile.
    const mine = stream;
    stream.onerror = () => {
      if (mine.readyState !== EventSource.CLOSED || stream !== mine) return;
      stream = null;
      setTimeout(() => { if (stream === null && paredao) follow(); }, 15000 + Math.random() * 15000);
    };
  }

  // showStandings shows s, or the newer standings the stream brought already.
  function showStandings(s) {
    if (standings && new Date(standings.asOf) > new Date(s.asOf)) s = standings;
    standings = s;
    $("panorama").hidden = false;
    renderBars($("bars"), paredao, s);
    $("panorama-none").hidden = s.participants.some((p) => p.percent > 0);
    $("asof").textContent = t("panorama.asOf", { time: fmt.time(s.asOf) });
  }

  // renderBars draws one row per participant, in the paredão's order, and
  // updates the rows in place so the bars glide to their new widths.
  function renderBars(list, par, s) {
    const top = Math.max(...s.participants.map((p) => p.percent));
    for (const p of s.participants) {
      let row = list.querySelector(`[data-participant="${CSS.escape(p.id)}"]`);
      if (!row) {
        const info = par.participants.find((x) => x.id === p.id) || { id: p.id, name: p.name };
        row = el("li", { class: "bar-row", "data-participant": p.id },
          el("img", { class: "bar-photo", src: smallPhoto(P.photo(par.id, info)), alt: "", width: "48", height: "48" }),
          el("span", { class: "bar-name", text: p.name }),
          el("span", { class: "bar-pct" }),
          el("span", { class: "bar-track", "aria-hidden": "true" }, el("span", { class: "bar-fill" })));
        row.querySelector(".bar-fill").style.setProperty("--c", P.color(par.participants, p.id));
        list.append(row);
      }
      row.querySelector(".bar-pct").textContent = fmt.pct(p.percent);
      row.querySelector(".bar-fill").style.width = p.percent + "%";
      row.classList.toggle("is-top", p.percent > 0 && p.percent === top);
      row.setAttribute("aria-label", t("panorama.share", { name: p.name, pct: fmt.pct(p.percent) }));
    }
  }

  // ---- no paredão open -----------------------------------------------------

  async function showIdle(list) {
    if (stream) { stream.close(); stream = null; }
    paredao = null;
    $("vote").hidden = true;
    $("idle").hidden = false;
    document.title = "Paredão";
    const now = Date.now();
    const next = list.filter((p) => p.status === "scheduled").sort((a, b) => new Date(a.opensAt) - new Date(b.opensAt))[0];
    const last = list.filter((p) => p.status === "closed").sort((a, b) => new Date(b.closesAt) - new Date(a.closesAt))[0];

    $("next").hidden = !next;
    if (next) {
      $("next").dataset.opensAt = next.opensAt;
      $("next-title").textContent = next.title;
      $("next-opens").textContent = t("idle.opens", { when: fmt.when(next.opensAt) });
      $("next-faces").replaceChildren(...next.participants.map((p) =>
        el("li", { class: "face" }, el("img", { src: smallPhoto(P.photo(next.id, p)), alt: "", width: "72", height: "72" }), el("span", { text: p.name }))));
      // Open the vote by itself when the time comes (timers past ~24 days overflow).
      const wait = new Date(next.opensAt) - now + 1000;
      if (wait < 2 ** 31 - 1) reloadTimer = setTimeout(load, Math.max(wait, 1000));
    } else {
      reloadTimer = setTimeout(load, 60000);
    }

    $("last").hidden = !last;
    if (last) {
      let s;
      try {
        s = await P.api(`/api/v1/paredoes/${encodeURIComponent(last.id)}/results`);
      } catch {
        $("last").hidden = true;
        return;
      }
      $("last").dataset.id = last.id;
      $("last-title").textContent = last.title;
      $("last-bars").replaceChildren();
      renderBars($("last-bars"), last, s);
      renderOut(last, s);
      $("last").lastResults = s;
    }
  }

  function renderOut(par, s) {
    const out = $("last-out");
    const top = Math.max(...s.participants.map((p) => p.percent));
    if (!(top > 0)) {
      out.replaceChildren(el("p", { class: "muted", text: t("idle.noVotes") }));
      return;
    }
    const leaders = s.participants.filter((p) => p.percent === top);
    if (leaders.length > 1) {
      out.replaceChildren(el("p", { class: "out-lead", text: t("idle.tie", { names: leaders.map((p) => p.name).join(", "), pct: fmt.pct(top) }) }));
      return;
    }
    const info = par.participants.find((x) => x.id === leaders[0].id) || leaders[0];
    out.replaceChildren(
      el("img", { class: "out-photo", src: P.photo(par.id, info), alt: "", width: "120", height: "120" }),
      el("div", {},
        el("p", { class: "out-lead", text: t("idle.out", { pct: fmt.pct(top) }) }),
        el("p", { class: "out-name", text: leaders[0].name })));
  }

  // ---- checking a receipt ------------------------------------------------------
  // A viewer enters a receipt's voteId (the last receipt's, or the one in a
  // /?receipt=<voteId>&paredao=<id> link) and sees whether the independent
  // recount counted it, and why not, and the Merkle proof of the answer
  // checked here against the recount's certificate (RFC 9162 §2.1.3.2).

  const LAST = "paredao.lastReceipt";
  const query = new URLSearchParams(location.search);
  let checkList = []; // paredões that can have votes
  let checked = null; // { answer } or { error } last shown, redrawn on a language change
  let checkGen = 0;

  function rememberReceipt(r) {
    if (!r || !r.voteId) return;
    const pid = r.paredaoId || (paredao && paredao.id);
    try { localStorage.setItem(LAST, JSON.stringify({ voteId: r.voteId, paredaoId: pid })); } catch { /* this page only */ }
    $("check-id").value = r.voteId;
    if (pid) pickCheckParedao(pid);
  }

  function lastReceipt() {
    try {
      const v = JSON.parse(localStorage.getItem(LAST) || "null");
      return v && typeof v.voteId === "string" ? v : null;
    } catch { return null; }
  }

  // fillCheckParedoes lists the open and closed paredões, the latest first,
  // keeping the choice made; the first time it picks the link's paredão,
  // else the last receipt's, else the open one, else the last closed.
  let checkFilled = false;
  function fillCheckParedoes(list) {
    const select = $("check-paredao");
    const keep = select.value;
    checkList = list.filter((p) => p.status !== "scheduled").sort((a, b) => new Date(b.closesAt) - new Date(a.closesAt));
    const options = checkList.map((p) => el("option", { value: p.id, text: p.title }));
    const wanted = query.get("paredao");
    if (wanted && !checkList.some((p) => p.id === wanted)) options.push(el("option", { value: wanted, text: wanted }));
    select.replaceChildren(...options);
    if (checkFilled && keep) {
      pickCheckParedao(keep);
      return;
    }
    checkFilled = true;
    const last = lastReceipt();
    const open = checkList.find((p) => p.status === "open");
    pickCheckParedao(wanted || (last && last.paredaoId) || (open && open.id) || (checkList[0] && checkList[0].id) || "");
  }

  function pickCheckParedao(id) {
    const select = $("check-paredao");
    if (id && ![...select.options].some((o) => o.value === id)) select.append(el("option", { value: id, text: id }));
    select.value = id;
  }

  $("check-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    checkReceipt(true);
  });

  async function checkReceipt(focus) {
    const voteId = $("check-id").value.trim();
    const pid = $("check-paredao").value;
    $("check-error").textContent = "";
    if (!pid) {
      $("check-error").textContent = t("check.noParedao");
      $("check-paredao").focus();
      return;
    }
    if (!voteId) {
      $("check-error").textContent = t("check.empty");
      $("check-id").focus();
      return;
    }
    const gen = ++checkGen;
    $("check-result").hidden = true;
    $("check-status").textContent = t("check.checking");
    $("check-button").setAttribute("aria-busy", "true");
    let answer, proofOK = null;
    try {
      answer = await P.api(`/api/v1/paredoes/${encodeURIComponent(pid)}/receipts/${encodeURIComponent(voteId)}`);
      proofOK = await verifyReceipt(answer, voteId);
    } catch (e) {
      if (gen !== checkGen) return;
      $("check-status").textContent = "";
      $("check-button").removeAttribute("aria-busy");
      checked = { error: e.code || "network" };
      renderCheck();
      return;
    }
    if (gen !== checkGen) return;
    $("check-status").textContent = "";
    $("check-button").removeAttribute("aria-busy");
    checked = { answer, proofOK, paredaoId: pid };
    renderCheck();
    if (focus) $("check-result").focus();
  }

  function renderCheck() {
    if (!checked) return;
    if (checked.error) {
      const code = checked.error;
      const key = "check.err." + code;
      $("check-result").hidden = true;
      $("check-error").textContent = t(key) === key ? t("check.err.generic", { code }) : t(key);
      return;
    }
    $("check-error").textContent = "";
    const a = checked.answer;
    const c = a.certificate || {};
    const box = $("check-result");
    box.hidden = false;
    box.classList.toggle("is-counted", a.counted === true);
    box.classList.toggle("is-refused", a.counted !== true);
    $("check-verdict").textContent = a.counted ? t("check.counted") : t("check.notCounted");
    if (a.counted) {
      $("check-why").textContent = Number.isFinite(c.counted) ? t("check.countedLead", { n: fmt.num(c.counted) }) : "";
    } else {
      const key = "check.why." + a.reason;
      const why = t(key) === key ? t("check.why.other", { reason: a.reason || "?" }) : t(key);
      $("check-why").textContent = t("check.reason", { why });
    }
    // A replay names the vote whose proof of work it repeated (a retry
    // after an unanswered attempt: that attempt is the voter's vote).
    const original = !a.counted && a.reason === "replay" && typeof a.replayOf === "string" ? a.replayOf : "";
    $("check-replay").hidden = !original;
    if (original) {
      $("check-replay-text").textContent = t("check.replayOf", { id: original });
      const again = new URL("/", location.href);
      again.searchParams.set("receipt", original);
      again.searchParams.set("paredao", checked.paredaoId);
      $("check-replay-link").href = again.pathname + again.search;
    }
    $("check-made").textContent = c.madeAt ? t("check.madeAt", { when: fmt.when(c.madeAt) }) : "";
    const proof = $("check-proof");
    proof.classList.toggle("is-ok", checked.proofOK === true);
    proof.classList.toggle("is-bad", checked.proofOK === false);
    proof.textContent = checked.proofOK === null ? t("check.proof.unsupported") : checked.proofOK ? t("check.proof.ok") : t("check.proof.bad");
    const pr = a.proof || {};
    $("check-detail").textContent = pr.tree ? t("check.proof.detail", {
      index: fmt.num((pr.leafIndex ?? 0) + 1), size: fmt.num(pr.treeSize ?? 0),
      tree: t(pr.tree === "counted" ? "check.tree.counted" : "check.tree.refused"), root: pr.root || "",
    }) : "";
    const link = new URL("/", location.href);
    link.searchParams.set("receipt", a.voteId || $("check-id").value.trim());
    link.searchParams.set("paredao", checked.paredaoId);
    $("check-link").href = link.pathname + link.search;
  }

  // verifyReceipt tells whether the answer's proof holds: the leaf is this
  // vote's (its voteId, or "voteId reason" for a refused one, "voteId replay
  // original" for a replay) in the tree the
  // answer says, the proof's root is the certificate's root of that tree,
  // and the inclusion proof leads from the leaf to that root. null: this
  // browser has no Web Crypto (not a secure context).
  async function verifyReceipt(a, voteId) {
    if (!(window.crypto && crypto.subtle)) return null;
    const pr = a.proof, c = a.certificate;
    if (!pr || !c || typeof pr.leaf !== "string" || typeof pr.root !== "string") return false;
    const path = pr.path;
    if (!Array.isArray(path)) return false;
    const id = a.voteId || voteId;
    if (a.counted === true) {
      if (pr.tree !== "counted" || pr.leaf !== id || !sameHex(pr.root, c.countedRoot)) return false;
    } else {
      if (pr.tree !== "refused" || !pr.leaf.startsWith(id + " ") || !sameHex(pr.root, c.refusedRoot)) return false;
      const replayOf = a.reason === "replay" && a.replayOf ? " " + a.replayOf : "";
      if (a.reason && pr.leaf !== id + " " + a.reason + replayOf) return false;
    }
    try {
      return await verifyInclusion(pr.leaf, pr.leafIndex, pr.treeSize, path, pr.root);
    } catch {
      return false;
    }
  }

  const sameHex = (x, y) => typeof x === "string" && typeof y === "string" && /^[0-9a-f]{64}$/i.test(x) && x.toLowerCase() === y.toLowerCase();

  function unhex(s) {
    if (typeof s !== "string" || !/^[0-9a-f]{64}$/i.test(s)) throw new Error("not a SHA-256 hash: " + s);
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
    return b;
  }
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));

  // RFC 6962 hashes: a leaf is SHA-256(0x00 ‖ data), an inner node
  // SHA-256(0x01 ‖ left ‖ right).
  function leafHash(leaf) {
    const data = new TextEncoder().encode(leaf);
    const b = new Uint8Array(data.length + 1);
    b.set(data, 1);
    return sha256(b);
  }
  function nodeHash(left, right) {
    const b = new Uint8Array(65);
    b[0] = 1;
    b.set(left, 1);
    b.set(right, 33);
    return sha256(b);
  }

  // verifyInclusion is RFC 9162 §2.1.3.2: the proof of leaf index of a tree
  // of size leaves leads to root.
  async function verifyInclusion(leaf, index, size, path, root) {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
    let fn = index, sn = size - 1;
    let r = await leafHash(leaf);
    const half = (n) => Math.floor(n / 2); // no 32-bit shifts: sizes may pass 2^31
    for (const h of path) {
      const p = unhex(h);
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && hex(r) === root.toLowerCase();
  }

  // Prefill from the link, else from the last receipt; a link checks at once.
  (() => {
    const last = lastReceipt();
    const fromLink = query.get("receipt");
    $("check-id").value = fromLink || (last ? last.voteId : "");
    if (query.get("paredao")) pickCheckParedao(query.get("paredao"));
    else if (last && last.paredaoId) pickCheckParedao(last.paredaoId);
    if (fromLink && query.get("paredao")) {
      checkReceipt(false);
      $("check").scrollIntoView({ block: "start" });
    }
  })();

  // ---- language --------------------------------------------------------------

  P.onLang(() => {
    renderCloses();
    onPick();
    renderReceipt();
    renderCheck();
    if (standings && paredao && !$("panorama").hidden) showStandings(standings);
    if (widget && typeof widget.configure === "function") widget.configure({ strings: widgetStrings() });
    if (!$("idle").hidden) load();
  });

  P.translate();
  load();
})();
