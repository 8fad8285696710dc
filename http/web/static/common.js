"use strict";
// Shared by both pages: the language (pt-BR by default, English on request,
// remembered in localStorage), the words in both, number and date formats,
// the API helper and the participants' colours. No dependencies.
(() => {
  const LANGS = ["pt-BR", "en"];
  const KEY = "paredao.lang";

  const words = {
    "pt-BR": {
      "lang.label": "Idioma",
      "skip": "Pular para a votação",
      "brand.tagline": "Big Brother Brasil",
      "loading": "Carregando…",
      "vote.open": "Votação aberta",
      "vote.closes": "Encerra {when}",
      "vote.question": "Quem você quer eliminar?",
      "vote.hint": "Escolha um participante, confirme que você não é um robô e vote. Você pode votar quantas vezes quiser.",
      "vote.eliminate": "Eliminar",
      "vote.eliminateWho": "Eliminar {name}",
      "vote.pick": "Escolha quem você quer eliminar.",
      "vote.proving": "Verificando que você não é um robô…",
      "vote.sending": "Registrando seu voto…",
      "vote.badge": "Eliminar",
      "vote.fineprint": "Votação protegida por verificação anti-robô (ALTCHA), sem rastreamento. Cada voto pede uma nova verificação.",
      "receipt.title": "Voto registrado!",
      "receipt.lead": "Seu voto para eliminar {name} foi computado.",
      "receipt.id": "Comprovante",
      "receipt.participant": "Participante",
      "receipt.time": "Horário",
      "receipt.again": "Votar de novo",
      "panorama.title": "Parcial da votação",
      "panorama.live": "Ao vivo",
      "panorama.asOf": "Atualizado às {time}",
      "panorama.none": "Ainda não há votos.",
      "panorama.share": "{name}: {pct} dos votos",
      "err.rate_limited": "Muitos votos seguidos, tente em {n} s.",
      "err.unavailable": "Sistema ocupado: não deu para confirmar seu voto. Envie de novo em instantes; é seguro, o mesmo voto só conta uma vez.",
      "err.paredao_not_open": "A votação deste paredão está encerrada.",
      "err.invalid_challenge": "A verificação anti-robô expirou ou falhou. Confirme de novo e vote.",
      "err.challenge_used": "Esta verificação já foi usada. Confirme de novo e vote.",
      "err.recorded": "Seu voto anterior foi registrado (conta uma vez só). Confirme de novo para votar outra vez.",
      "err.unknown_participant": "Participante não encontrado. Recarregue a página.",
      "err.not_found": "Este paredão não existe mais. Recarregue a página.",
      "err.network": "Sem conexão com o servidor: não deu para confirmar seu voto. Envie de novo; é seguro, o mesmo voto só conta uma vez.",
      "err.verify": "A verificação anti-robô falhou. Tente de novo.",
      "err.generic": "Não foi possível registrar seu voto ({code}). Tente de novo.",
      "err.load": "Não foi possível carregar a votação. Tentando de novo…",
      "idle.title": "Nenhum paredão aberto agora",
      "idle.lead": "Volte na hora da votação: a página abre sozinha.",
      "idle.next": "Próximo paredão",
      "idle.opens": "A votação abre {when}.",
      "idle.last": "Resultado final",
      "idle.out": "Com {pct} dos votos, quem sai é",
      "idle.tie": "Empate: {names} com {pct} cada",
      "idle.noVotes": "Este paredão terminou sem votos.",
      "altcha.label": "Não sou um robô",
      "altcha.verifying": "Verificando…",
      "altcha.verified": "Verificado",
      "altcha.error": "A verificação falhou. Tente de novo.",
      "altcha.expired": "A verificação expirou. Tente de novo.",
      "altcha.required": "Confirme que você não é um robô.",
      "check.title": "Conferir um comprovante",
      "check.lead": "Depois da apuração, confira se o seu voto foi contado: a recontagem independente publica um certificado, e esta página confere a prova do seu comprovante nele.",
      "check.paredao": "Paredão",
      "check.id": "Número do comprovante",
      "check.idHint": "Aparece no comprovante depois de votar (\"Comprovante\").",
      "check.submit": "Conferir",
      "check.checking": "Conferindo…",
      "check.empty": "Digite o número do comprovante.",
      "check.noParedao": "Escolha o paredão.",
      "check.counted": "Voto contado",
      "check.notCounted": "Voto não contado",
      "check.countedLead": "Este voto está entre os {n} votos contados na recontagem.",
      "check.reason": "Motivo: {why}",
      "check.why.replay": "a mesma verificação anti-robô já tinha sido usada num voto anterior; ela só vale para um voto.",
      "check.replayOf": "Este envio repetiu a verificação do voto {id}: se você tentou de novo depois de um erro, esse é o seu voto.",
      "check.replayCheck": "Conferir esse voto",
      "check.why.rate_limited": "passou do limite de votos por minuto deste votante.",
      "check.why.closed": "foi enviado fora do horário da votação.",
      "check.why.expired": "a verificação anti-robô já tinha expirado quando o voto chegou.",
      "check.why.superseded": "a verificação anti-robô foi substituída por uma mais nova antes de o voto chegar.",
      "check.why.invalid_vote": "o voto estava incompleto ou era inválido.",
      "check.why.unknown_participant": "o participante não faz parte deste paredão.",
      "check.why.other": "{reason}.",
      "check.madeAt": "Recontagem de {when}",
      "check.proof.ok": "Prova verificada: o comprovante está no certificado da recontagem.",
      "check.proof.bad": "A prova NÃO confere com o certificado.",
      "check.proof.unsupported": "Este navegador não consegue conferir a prova (é preciso uma conexão segura).",
      "check.proof.detail": "Folha {index} de {size} na árvore de votos {tree}; raiz {root}",
      "check.tree.counted": "contados",
      "check.tree.refused": "recusados",
      "check.link": "Link para esta conferência",
      "check.err.not_recounted": "Este paredão ainda não foi recontado. Volte depois da apuração.",
      "check.err.receipt_not_found": "Nenhum voto com este comprovante neste paredão.",
      "check.err.invalid_vote_id": "Este não parece um número de comprovante. Confira o que foi digitado.",
      "check.err.not_found": "Este paredão não existe.",
      "check.err.network": "Sem conexão com o servidor. Tente de novo.",
      "check.err.generic": "Não foi possível conferir agora ({code}). Tente de novo.",

      "prod.title": "Painel de produção",
      "prod.signin.lead": "Entre com o token de produção para acompanhar a votação e gerenciar os paredões.",
      "prod.signin.token": "Token de produção",
      "prod.signin.hint": "O token aparece no terminal quando o paredao run começa (ou em PAREDAO_PRODUCTION_TOKEN). Ele fica só nesta aba.",
      "prod.signin.submit": "Entrar",
      "prod.signin.checking": "Verificando…",
      "prod.signin.wrong": "Token recusado. Confira e tente de novo.",
      "prod.signin.expired": "Sua sessão não vale mais. Entre de novo.",
      "prod.signout": "Sair",
      "prod.paredao": "Paredão",
      "prod.live": "Ao vivo",
      "prod.paused": "Sem conexão",
      "prod.exactUntil": "Exato até {time}",
      "prod.asOf": "Atualizado às {time}",
      "prod.total": "Total de votos",
      "prod.lastHour": "Última hora",
      "prod.perMinute": "no minuto atual",
      "prod.leader": "Mais votado",
      "prod.status": "Situação",
      "prod.byParticipant": "Por participante",
      "prod.col.participant": "Participante",
      "prod.col.votes": "Votos",
      "prod.col.share": "Parcela",
      "prod.perMinuteChart": "Votos por minuto (última hora)",
      "prod.perHourChart": "Votos por hora",
      "prod.chart.minute.aria": "Gráfico de barras empilhadas: votos por minuto na última hora, por participante",
      "prod.chart.hour.aria": "Gráfico de barras empilhadas: votos por hora, por participante",
      "prod.csv": "Baixar CSV",
      "prod.csv.done": "Relatório {file} baixado.",
      "prod.csv.fail": "Não foi possível baixar o CSV ({code}).",
      "prod.report.missing": "O relatório deste paredão ainda não está disponível ({code}).",
      "prod.report.fail": "Sem conexão com o servidor; tentando de novo…",
      "prod.manage": "Paredões",
      "prod.col.title": "Título",
      "prod.col.status": "Situação",
      "prod.col.opens": "Abre",
      "prod.col.closes": "Encerra",
      "prod.col.actions": "Ações",
      "prod.closeNow": "Encerrar agora",
      "prod.closing": "Encerrando…",
      "prod.closed.done": "Paredão «{title}» encerrado.",
      "prod.close.fail": "Não foi possível encerrar: {message}",
      "prod.dialog.title": "Encerrar «{title}» agora?",
      "prod.dialog.body": "Os votos enviados depois do encerramento são recusados e nunca contados. Não dá para desfazer.",
      "prod.dialog.cancel": "Cancelar",
      "prod.dialog.confirm": "Encerrar agora",
      "prod.create": "Novo paredão",
      "prod.f.title": "Título",
      "prod.f.id": "Identificador (opcional)",
      "prod.f.id.hint": "Letras minúsculas, números, - ou _. Em branco, o sistema escolhe.",
      "prod.f.opens": "Abre em",
      "prod.f.closes": "Encerra em",
      "prod.f.localTime": "Horário local deste computador.",
      "prod.f.participants": "Participantes (2 a 20)",
      "prod.f.name": "Nome",
      "prod.f.pid": "Identificador",
      "prod.f.photo": "Foto (URL deste site, opcional)",
      "prod.f.remove": "Remover {n}",
      "prod.f.add": "Adicionar participante",
      "prod.f.submit": "Criar paredão",
      "prod.f.creating": "Criando…",
      "prod.f.created": "Paredão «{title}» criado ({id}).",
      "prod.f.fail": "Não foi possível criar: {message}",
      "prod.f.photoOrigin": "A foto precisa estar neste site (começar com /): a política de segurança bloqueia imagens de outros endereços.",
      "prod.f.participantN": "Participante {n}",
      "status.open": "Aberto",
      "status.scheduled": "Agendado",
      "status.closed": "Encerrado",
      "prod.none": "Nenhum paredão cadastrado.",
      "prod.audit": "Auditoria",
      "prod.audit.lead": "Recontagem independente a partir do registro bruto de votos, comparada com o relatório de produção; o certificado permite a cada espectador conferir o seu comprovante.",
      "prod.audit.recount": "Recontar",
      "prod.audit.recounting": "Recontando…",
      "prod.audit.download": "Baixar certificado",
      "prod.audit.diffs": "Diferenças entre a recontagem e o relatório",
      "prod.audit.col.bucket": "Hora",
      "prod.audit.col.recount": "Recontagem",
      "prod.audit.col.report": "Relatório",
      "prod.audit.bucket.total": "Total",
      "prod.audit.cert.madeAt": "Certificado de",
      "prod.audit.cert.counted": "Votos contados",
      "prod.audit.cert.refused": "Votos recusados",
      "prod.audit.cert.countedRoot": "Raiz da árvore dos contados",
      "prod.audit.cert.refusedRoot": "Raiz da árvore dos recusados",
      "prod.audit.none": "Este paredão ainda não foi recontado.",
      "prod.audit.equal": "Recontado em {when}: igual ao relatório.",
      "prod.audit.different": "Recontado em {when}: {n} diferença(s) com o relatório.",
      "prod.audit.failed": "A recontagem iniciada em {when} falhou: {error}",
      "prod.audit.running": "Recontagem em andamento, iniciada às {time}.",
      "prod.audit.progress": "{read} de {total} votos lidos · {rate} votos/s · faltam {left}",
      "prod.audit.progressNoTotal": "{read} votos lidos · {rate} votos/s",
      "prod.audit.seconds": "{n} s",
      "prod.audit.minutes": "{m} min {s} s",
      "prod.audit.why.open": "A recontagem só pode ser feita depois que a votação encerra.",
      "prod.audit.why.scheduled": "Este paredão ainda não abriu: não há votos para recontar.",
      "prod.audit.why.running": "Uma recontagem está em andamento.",
      "prod.audit.err.paredao_open": "A votação deste paredão ainda está aberta: recontagem recusada.",
      "prod.audit.err.justClosed": "A votação acabou de encerrar: os últimos votos ainda podem estar chegando ao registro. Tente de novo em alguns segundos.",
      "prod.audit.err.recount_running": "Já há uma recontagem em andamento; acompanhando-a.",
      "prod.audit.err.not_recounted": "Não há certificado: este paredão ainda não foi recontado.",
      "prod.audit.err.generic": "Falha na auditoria: {message} ({code}).",
      "prod.audit.err.network": "Sem conexão com o servidor; a auditoria tenta de novo…",
      "prod.audit.saved": "Certificado {file} baixado."
    },
    "en": {
      "lang.label": "Language",
      "skip": "Skip to the vote",
      "brand.tagline": "Big Brother Brasil",
      "loading": "Loading…",
      "vote.open": "Voting is open",
      "vote.closes": "Closes {when}",
      "vote.question": "Who do you want to evict?",
      "vote.hint": "Pick a housemate, confirm you are not a robot and vote. You may vote as often as you like.",
      "vote.eliminate": "Evict",
      "vote.eliminateWho": "Evict {name}",
      "vote.pick": "Choose who you want to evict.",
      "vote.proving": "Checking that you are not a robot…",
      "vote.sending": "Recording your vote…",
      "vote.badge": "Evict",
      "vote.fineprint": "Voting is protected by an anti-robot check (ALTCHA), with no tracking. Each vote needs a new check.",
      "receipt.title": "Vote recorded!",
      "receipt.lead": "Your vote to evict {name} was counted.",
      "receipt.id": "Receipt",
      "receipt.participant": "Housemate",
      "receipt.time": "Time",
      "receipt.again": "Vote again",
      "panorama.title": "Live standings",
      "panorama.live": "Live",
      "panorama.asOf": "Updated at {time}",
      "panorama.none": "No votes yet.",
      "panorama.share": "{name}: {pct} of the votes",
      "err.rate_limited": "Too many votes in a row, try again in {n} s.",
      "err.unavailable": "The system is busy: your vote could not be confirmed. Send it again in a moment; it is safe, the same vote counts only once.",
      "err.paredao_not_open": "Voting for this eviction has closed.",
      "err.invalid_challenge": "The anti-robot check expired or failed. Confirm again and vote.",
      "err.challenge_used": "This check was used already. Confirm again and vote.",
      "err.recorded": "Your earlier attempt was recorded (it counts once). Confirm again to vote again.",
      "err.unknown_participant": "Housemate not found. Reload the page.",
      "err.not_found": "This eviction no longer exists. Reload the page.",
      "err.network": "No connection to the server: your vote could not be confirmed. Send it again; it is safe, the same vote counts only once.",
      "err.verify": "The anti-robot check failed. Try again.",
      "err.generic": "Your vote could not be recorded ({code}). Try again.",
      "err.load": "The vote could not be loaded. Trying again…",
      "idle.title": "No eviction vote is open now",
      "idle.lead": "Come back when voting opens: this page opens it by itself.",
      "idle.next": "Next eviction",
      "idle.opens": "Voting opens {when}.",
      "idle.last": "Final result",
      "idle.out": "With {pct} of the votes, leaving the house is",
      "idle.tie": "A tie: {names} with {pct} each",
      "idle.noVotes": "This eviction ended without votes.",
      "altcha.label": "I'm not a robot",
      "altcha.verifying": "Verifying…",
      "altcha.verified": "Verified",
      "altcha.error": "Verification failed. Try again.",
      "altcha.expired": "Verification expired. Try again.",
      "altcha.required": "Confirm that you are not a robot.",
      "check.title": "Check a receipt",
      "check.lead": "After the count, check that your vote was counted: the independent recount publishes a certificate, and this page checks your receipt's proof against it.",
      "check.paredao": "Eviction",
      "check.id": "Receipt number",
      "check.idHint": "It is on the receipt shown after you vote (\"Receipt\").",
      "check.submit": "Check",
      "check.checking": "Checking…",
      "check.empty": "Enter the receipt number.",
      "check.noParedao": "Choose the eviction.",
      "check.counted": "Vote counted",
      "check.notCounted": "Vote not counted",
      "check.countedLead": "This vote is one of the {n} votes the recount counted.",
      "check.reason": "Why: {why}",
      "check.why.replay": "the same anti-robot check had been used for an earlier vote already; it is good for one vote only.",
      "check.replayOf": "This request repeated the check of vote {id}: if you tried again after an error, that one is your vote.",
      "check.replayCheck": "Check that vote",
      "check.why.rate_limited": "it was over this voter's cap of votes per minute.",
      "check.why.closed": "it was cast outside the voting period.",
      "check.why.expired": "its anti-robot check had expired when the vote arrived.",
      "check.why.superseded": "its anti-robot check was replaced by a newer one before the vote arrived.",
      "check.why.invalid_vote": "the vote was incomplete or invalid.",
      "check.why.unknown_participant": "the housemate is not on this eviction.",
      "check.why.other": "{reason}.",
      "check.madeAt": "Recount of {when}",
      "check.proof.ok": "Proof verified: the receipt is in the recount's certificate.",
      "check.proof.bad": "The proof does NOT verify against the certificate.",
      "check.proof.unsupported": "This browser cannot check the proof (it needs a secure connection).",
      "check.proof.detail": "Leaf {index} of {size} in the tree of {tree} votes; root {root}",
      "check.tree.counted": "counted",
      "check.tree.refused": "refused",
      "check.link": "Link to this check",
      "check.err.not_recounted": "This eviction has not been recounted yet. Come back after the count.",
      "check.err.receipt_not_found": "No vote with this receipt on this eviction.",
      "check.err.invalid_vote_id": "This does not look like a receipt number. Check what you typed.",
      "check.err.not_found": "This eviction does not exist.",
      "check.err.network": "No connection to the server. Try again.",
      "check.err.generic": "The receipt could not be checked now ({code}). Try again.",

      "prod.title": "Production dashboard",
      "prod.signin.lead": "Sign in with the production token to follow the vote and manage evictions.",
      "prod.signin.token": "Production token",
      "prod.signin.hint": "paredao run prints the token when it starts (or set PAREDAO_PRODUCTION_TOKEN). It is kept in this tab only.",
      "prod.signin.submit": "Sign in",
      "prod.signin.checking": "Checking…",
      "prod.signin.wrong": "Token refused. Check it and try again.",
      "prod.signin.expired": "Your session is no longer valid. Sign in again.",
      "prod.signout": "Sign out",
      "prod.paredao": "Eviction",
      "prod.live": "Live",
      "prod.paused": "Offline",
      "prod.exactUntil": "Exact until {time}",
      "prod.asOf": "Updated at {time}",
      "prod.total": "Total votes",
      "prod.lastHour": "Last hour",
      "prod.perMinute": "in the current minute",
      "prod.leader": "Most voted",
      "prod.status": "Status",
      "prod.byParticipant": "By housemate",
      "prod.col.participant": "Housemate",
      "prod.col.votes": "Votes",
      "prod.col.share": "Share",
      "prod.perMinuteChart": "Votes per minute (last hour)",
      "prod.perHourChart": "Votes per hour",
      "prod.chart.minute.aria": "Stacked bar chart: votes per minute in the last hour, by housemate",
      "prod.chart.hour.aria": "Stacked bar chart: votes per hour, by housemate",
      "prod.csv": "Download CSV",
      "prod.csv.done": "Report {file} downloaded.",
      "prod.csv.fail": "The CSV could not be downloaded ({code}).",
      "prod.report.missing": "The report of this eviction is not available yet ({code}).",
      "prod.report.fail": "No connection to the server; trying again…",
      "prod.manage": "Evictions",
      "prod.col.title": "Title",
      "prod.col.status": "Status",
      "prod.col.opens": "Opens",
      "prod.col.closes": "Closes",
      "prod.col.actions": "Actions",
      "prod.closeNow": "Close now",
      "prod.closing": "Closing…",
      "prod.closed.done": "Eviction «{title}» closed.",
      "prod.close.fail": "Could not close: {message}",
      "prod.dialog.title": "Close «{title}» now?",
      "prod.dialog.body": "Votes sent after the close are refused and never counted. This cannot be undone.",
      "prod.dialog.cancel": "Cancel",
      "prod.dialog.confirm": "Close now",
      "prod.create": "New eviction",
      "prod.f.title": "Title",
      "prod.f.id": "Identifier (optional)",
      "prod.f.id.hint": "Lower-case letters, digits, - or _. Leave empty to get one.",
      "prod.f.opens": "Opens at",
      "prod.f.closes": "Closes at",
      "prod.f.localTime": "This computer's local time.",
      "prod.f.participants": "Housemates (2 to 20)",
      "prod.f.name": "Name",
      "prod.f.pid": "Identifier",
      "prod.f.photo": "Photo (URL on this site, optional)",
      "prod.f.remove": "Remove {n}",
      "prod.f.add": "Add a housemate",
      "prod.f.submit": "Create eviction",
      "prod.f.creating": "Creating…",
      "prod.f.created": "Eviction «{title}» created ({id}).",
      "prod.f.fail": "Could not create: {message}",
      "prod.f.photoOrigin": "The photo must be on this site (start with /): the security policy blocks images from other addresses.",
      "prod.f.participantN": "Housemate {n}",
      "status.open": "Open",
      "status.scheduled": "Scheduled",
      "status.closed": "Closed",
      "prod.none": "No evictions yet.",
      "prod.audit": "Audit",
      "prod.audit.lead": "An independent recount from the raw votes log, compared with the production report; its certificate lets every viewer check their receipt.",
      "prod.audit.recount": "Recount",
      "prod.audit.recounting": "Recounting…",
      "prod.audit.download": "Download certificate",
      "prod.audit.diffs": "Differences between the recount and the report",
      "prod.audit.col.bucket": "Hour",
      "prod.audit.col.recount": "Recount",
      "prod.audit.col.report": "Report",
      "prod.audit.bucket.total": "Total",
      "prod.audit.cert.madeAt": "Certificate of",
      "prod.audit.cert.counted": "Votes counted",
      "prod.audit.cert.refused": "Votes refused",
      "prod.audit.cert.countedRoot": "Root of the counted tree",
      "prod.audit.cert.refusedRoot": "Root of the refused tree",
      "prod.audit.none": "This eviction has not been recounted yet.",
      "prod.audit.equal": "Recounted at {when}: equal to the report.",
      "prod.audit.different": "Recounted at {when}: {n} difference(s) with the report.",
      "prod.audit.failed": "The recount started at {when} failed: {error}",
      "prod.audit.running": "Recount running, started at {time}.",
      "prod.audit.progress": "{read} of {total} votes read · {rate} votes/s · {left} left",
      "prod.audit.progressNoTotal": "{read} votes read · {rate} votes/s",
      "prod.audit.seconds": "{n} s",
      "prod.audit.minutes": "{m} min {s} s",
      "prod.audit.why.open": "A recount can run only once voting has closed.",
      "prod.audit.why.scheduled": "This eviction has not opened yet: there are no votes to recount.",
      "prod.audit.why.running": "A recount is running.",
      "prod.audit.err.paredao_open": "Voting on this eviction is still open: recount refused.",
      "prod.audit.err.justClosed": "Voting has just closed: the last votes may still be reaching the log. Try again in a few seconds.",
      "prod.audit.err.recount_running": "A recount is running already; following it.",
      "prod.audit.err.not_recounted": "No certificate: this eviction has not been recounted yet.",
      "prod.audit.err.generic": "Audit failed: {message} ({code}).",
      "prod.audit.err.network": "No connection to the server; the audit tries again…",
      "prod.audit.saved": "Certificate {file} downloaded."
    }
  };

  const stored = (() => { try { return localStorage.getItem(KEY); } catch { return null; } })();
  let lang = LANGS.includes(stored) ? stored : "pt-BR";
  const listeners = [];

  function t(key, vars) {
    const s = words[lang][key] ?? words["pt-BR"][key] ?? key;
    return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
  }

  // translate fills every [data-i18n] element, and the attributes named in
  // data-i18n-attr ("aria-label:key;placeholder:key").
  function translate(root = document) {
    document.documentElement.lang = lang;
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of el.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":");
        el.setAttribute(attr.trim(), t(key.trim()));
      }
    }
    for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }

  function setLang(next) {
    if (!LANGS.includes(next) || next === lang) return;
    lang = next;
    try { localStorage.setItem(KEY, lang); } catch { /* private mode: this page only */ }
    translate();
    for (const fn of listeners) fn(lang);
  }

  const pct = (v) => new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v / 100);
  const num = (v) => new Intl.NumberFormat(lang).format(v);
  const time = (d) => new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(d));
  const hm = (d) => new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(new Date(d));
  const when = (d) => new Intl.DateTimeFormat(lang, { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" }).format(new Date(d));
  const short = (d) => new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(d));

  // APIError carries the contract's error code, the HTTP status and Retry-After.
  class APIError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message || code);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  // api calls the JSON API; a failed answer throws an APIError (status 0 when
  // the server could not be reached).
  async function api(path, { method = "GET", body, token } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    let res;
    try {
      res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new APIError(0, "network", "");
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw new APIError(res.status, e.code || "http_" + res.status, e.message || res.statusText, Number(res.headers.get("Retry-After")) || 0);
    }
    return data;
  }

  // A participant's colour in bars and charts comes from their place on the
  // paredão: ten colours far apart, each readable on the dark background.
  const PALETTE = ["#ff4f7b", "#4b8bff", "#ffc53d", "#35e0a1", "#b57bff", "#ff8a3d", "#3fd4f0", "#f072d8", "#9be15d", "#ff6b6b"];
  function color(participants, id) {
    const i = participants.findIndex((p) => p.id === id);
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }

  // photo is the picture to show: the participant's own when it is on this
  // site (the CSP allows no other), else the generated avatar.
  function photo(paredaoId, p) {
    try {
      const u = new URL(p.photoUrl || "", location.href);
      if (p.photoUrl && (u.origin === location.origin || u.protocol === "data:")) return p.photoUrl;
    } catch { /* fall through */ }
    return `/avatars/${encodeURIComponent(paredaoId)}/${encodeURIComponent(p.id)}.svg`;
  }

  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, "");
      else if (v !== false && v != null) e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  };

  const reducedMotion = () => matchMedia("(prefers-reduced-motion: reduce)").matches;

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-lang]");
    if (b) setLang(b.dataset.lang);
  });

  window.Paredao = {
    t, translate, setLang, lang: () => lang, onLang: (fn) => listeners.push(fn),
    fmt: { pct, num, time, hm, when, short }, api, APIError, color, photo, el, reducedMotion,
    $: (id) => document.getElementById(id),
  };
})();
