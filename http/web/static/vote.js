"use strict";
// A plain voter page: pick, prove work (SHA-256, ALTCHA v1), vote, see results.
(() => {
  const $ = (id) => document.getElementById(id);
  let paredao = null;
  let challenge = null;

  async function api(path, opts) {
    const res = await fetch(path, Object.assign({ credentials: "same-origin" }, opts));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error((body.error && body.error.message) || res.statusText), { status: res.status, body });
    return body;
  }

  async function sha256hex(text) {
    const buf = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function solve(c) {
    const max = c.maxNumber ?? c.maxnumber;
    for (let n = 0; n <= max; n++) {
      if ((await sha256hex(c.salt + n)) === c.challenge) {
        return btoa(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature }));
      }
    }
    throw new Error("no solution");
  }

  function showResults(r) {
    const ul = $("results");
    ul.replaceChildren(...r.participants.map((p) => {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = `${p.name}: ${p.percent.toFixed(1)}%`;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = p.percent + "%";
      li.append(label, bar);
      return li;
    }));
    $("asof").textContent = "Atualizado " + new Date(r.asOf).toLocaleTimeString();
  }

  async function load() {
    const list = await api("/api/v1/paredoes");
    paredao = list.find((p) => p.status === "open");
    if (!paredao) { $("status").textContent = "Nenhum paredão aberto agora."; return; }
    $("title").textContent = paredao.title;
    $("participants").replaceChildren(...paredao.participants.map((p) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio"; input.name = "participant"; input.value = p.id; input.required = true;
      const img = document.createElement("img");
      img.src = p.photoUrl; img.alt = "";
      const name = document.createElement("span");
      name.textContent = p.name;
      label.append(input, img, name);
      return label;
    }));
    $("vote-form").hidden = false;
    $("status").textContent = "";
    showResults(await api(`/api/v1/paredoes/${paredao.id}/results`));
    const es = new EventSource(`/api/v1/paredoes/${paredao.id}/results/stream`);
    es.addEventListener("standings", (e) => showResults(JSON.parse(e.data)));
  }

  async function vote(ev) {
    ev.preventDefault();
    const choice = new FormData($("vote-form")).get("participant");
    if (!choice) return;
    $("vote-button").disabled = true;
    $("status").textContent = "Verificando que você não é um robô…";
    try {
      if (!challenge) challenge = await api(`/api/v1/challenge?paredao=${paredao.id}`);
      const altcha = await solve(challenge);
      challenge = null;
      const res = await api(`/api/v1/paredoes/${paredao.id}/votes`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ participantId: choice, altcha }),
      });
      challenge = res.nextChallenge || null;
      const r = res.receipt;
      $("receipt").hidden = false;
      $("receipt").textContent = `Voto ${r.voteId} registrado às ${new Date(r.acceptedAt).toLocaleTimeString()}.`;
      $("status").textContent = "Voto computado! Pode votar de novo.";
      showResults(res.results);
    } catch (e) {
      challenge = null;
      $("status").textContent = e.status === 429 ? "Muitos votos seguidos, tente de novo em instantes." : "Não deu: " + e.message;
    } finally {
      $("vote-button").disabled = false;
    }
  }

  $("vote-form").addEventListener("submit", vote);
  load().catch((e) => { $("status").textContent = "Erro: " + e.message; });
})();
