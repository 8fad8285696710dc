package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paredao/paredao/load"
	"github.com/paredao/paredao/pipeline"
)

// The audit in a real browser against the real binary: a paredão that
// closed, with a replayed proof of work in its votes log, is recounted from
// the dashboard (progress while it runs, then "equal to the report", the
// certificate's roots and counts, the certificate downloaded); on the voter
// page a counted receipt reads "counted" with its Merkle proof verified in
// the browser, and the replay reads "not counted" with its reason.
func TestAuditBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	const token = "browser-audit-token-0123456789abcdef"
	const id = "auditoria"
	env := runEnv(t, t.TempDir())
	env["PAREDAO_PRODUCTION_TOKEN"] = token
	p := start(t, env, "run")

	closesAt := time.Now().Add(20 * time.Second).UTC().Truncate(time.Second)
	if st, b := authPost(t, p.http+"/api/v1/production/paredoes", token, map[string]any{
		"id": id, "title": "Paredão da auditoria", "opensAt": time.Now().Add(-time.Minute), "closesAt": closesAt,
		"participants": []map[string]string{{"id": "ana", "name": "Ana"}, {"id": "bruno", "name": "Bruno"}, {"id": "carla", "name": "Carla"}},
	}); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}

	// Three voters, three votes each.
	var counted []string
	for v := range 3 {
		c := load.NewVoter(p.http, nil)
		for _, who := range []string{"ana", "bruno", "carla"}[:v+1] {
			out, err := c.Cast(context.Background(), id, who, 30*time.Second)
			if err != nil || out.Status != http.StatusAccepted {
				t.Fatalf("vote for %s: %d %v %+v", who, out.Status, err, out.Reply)
			}
			counted = append(counted, out.Reply.Receipt.VoteID)
		}
	}
	if time.Now().After(closesAt.Add(-2 * time.Second)) {
		t.Fatalf("voting took too long: the paredão closed at %v", closesAt)
	}

	// A replay in the log: a vote of this paredão written again with the same
	// proof of work (challenge) under an id of its own, so its receipt is the
	// replay's. guard drops it, and so must the recount.
	replayID := replayVote(t, env["PAREDAO_BROKER_ADDR"], id)
	waitFor(t, 30*time.Second, "guard to drop the replay", metricsShow(p.admin, `paredao_guard_votes_total{outcome="replay"} 1`))
	waitReportTotal(t, p.http, id, token, int64(len(counted)))
	waitFor(t, time.Until(closesAt)+30*time.Second, "the paredão to close", func() (bool, string) {
		var list []struct{ ID, Status string }
		getJSON(t, p.http+"/api/v1/paredoes", &list)
		for _, x := range list {
			if x.ID == id {
				return x.Status == "closed", x.Status
			}
		}
		return false, "missing"
	})
	// A recount starts a few seconds after the close (--emit-timeout and a
	// second: the last votes accepted are in the log by then).
	time.Sleep(time.Until(closesAt.Add(5 * time.Second)))

	b := newBrowser(t, chromium)
	counted1 := counted[len(counted)-1]
	link := p.http + "/?" + url.Values{"receipt": {counted1}, "paredao": {id}}.Encode()

	// Before any recount, a receipt link says the paredão was not recounted.
	voter := b.tab(t, 1280, 900, false)
	voter.allow("404 (Not Found)") // the not_recounted answer, as Chrome logs it
	voter.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("check-form")))
	voter.waitJS(`document.getElementById("check-error").textContent.includes("ainda não foi recontado")`, 20*time.Second)
	if got := voter.eval(`document.getElementById("check-id").value + " " + document.getElementById("check-paredao").value`); got != counted1+" "+id {
		t.Errorf("the link filled in %q", got)
	}
	voter.waitIdle()
	voter.shot("voter-receipt-not-recounted")

	dash := b.tab(t, 1440, 1000, false)
	dash.do(chromedp.Navigate(p.http+"/production"), chromedp.WaitVisible(chromedp.ID("token")))
	dash.do(chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
	dash.waitJS(`!document.getElementById("dash").hidden && document.querySelector('#paredao-select option[value="`+id+`"]') !== null`, 30*time.Second)
	dash.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("paredao-select"); s.value = "` + id + `"; s.dispatchEvent(new Event("change")); })()`))
	dash.waitJS(`document.getElementById("audit-state").textContent === "Este paredão ainda não foi recontado." && !document.getElementById("recount").disabled`, 15*time.Second)
	if !dash.evalBool(`document.getElementById("certificate").disabled`) {
		t.Error("the certificate can be downloaded before any recount")
	}
	dash.do(chromedp.Click(chromedp.ID("recount")))
	// Progress while it runs (it may end before a poll sees it running).
	dash.waitJS(`(() => { const s = document.getElementById("audit-state").classList; return s.contains("is-running") || s.contains("is-equal") || s.contains("is-bad"); })()`, 10*time.Second)
	if dash.evalBool(`document.getElementById("audit-state").classList.contains("is-running")`) {
		if !dash.evalBool(`document.getElementById("recount").disabled && !document.getElementById("audit-progress-box").hidden`) {
			t.Error("while the recount runs, the button is enabled or the progress hidden")
		}
	}
	dash.waitJS(`(() => { const s = document.getElementById("audit-state").classList; return s.contains("is-equal") || s.contains("is-bad"); })()`, 60*time.Second)
	dash.waitIdle()
	dash.shot("dashboard-audit")
	if got := dash.text("#audit-state"); !strings.Contains(got, "igual ao relatório") {
		t.Fatalf("audit says %q; differences: %s", got, dash.text("#audit-diffs"))
	}
	if got := dash.text("#audit-cert-counted-v"); got != fmt.Sprint(len(counted)) {
		t.Errorf("certificate counts %q votes, want %d", got, len(counted))
	}
	if got := dash.text("#audit-cert-refused-v"); got != "1" {
		t.Errorf("certificate refuses %q votes, want 1", got)
	}
	root := dash.text("#audit-cert-countedRoot-v")
	if len(root) != 64 || !dash.evalBool(`document.getElementById("audit-diffs-box").hidden`) {
		t.Errorf("counted root %q, differences shown: %s", root, dash.text("#audit-diffs"))
	}
	if dash.evalBool(`document.getElementById("recount").disabled || document.getElementById("certificate").disabled`) {
		t.Error("after the recount, recount or download is disabled")
	}

	downloads := t.TempDir()
	dash.downloadsTo(downloads)
	dash.do(chromedp.Click(chromedp.ID("certificate")))
	certPath := filepath.Join(downloads, "paredao-"+id+"-certificate.json")
	waitFor(t, 15*time.Second, "the certificate download", func() (bool, string) {
		b, err := os.ReadFile(certPath)
		return err == nil && len(b) > 0, fmt.Sprint(err, dash.text("#audit-error"))
	})
	cert, _ := os.ReadFile(certPath)
	if !strings.Contains(string(cert), root) {
		t.Errorf("the downloaded certificate does not hold the counted root %s:\n%s", root, cert)
	}
	var certJSON map[string]any
	if err := json.Unmarshal(cert, &certJSON); err != nil {
		t.Errorf("the certificate is not JSON: %v", err)
	}
	dash.checkConsole()

	// The voter page: a link to a counted receipt checks it at once.
	voter.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("check-form")))
	voter.waitJS(`!document.getElementById("check-result").hidden && document.getElementById("check-proof").className.includes("is-")`, 20*time.Second)
	if got := voter.text("#check-verdict"); got != "Voto contado" {
		t.Errorf("counted receipt: verdict %q\n%s", got, voter.pageText())
	}
	if got := voter.text("#check-proof"); !strings.HasPrefix(got, "Prova verificada") {
		t.Errorf("counted receipt: proof %q", got)
	}
	if got := voter.text("#check-made"); !strings.HasPrefix(got, "Recontagem de") {
		t.Errorf("counted receipt: recount date %q", got)
	}
	voter.waitIdle()
	voter.shot("voter-receipt-counted")

	// The replay, typed in: not counted, and why.
	voter.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("check-id").value = ""`), chromedp.SendKeys(chromedp.ID("check-id"), replayID+"\r"))
	voter.waitJS(`document.getElementById("check-verdict").textContent === "Voto não contado" && document.getElementById("check-proof").className.includes("is-")`, 20*time.Second)
	if got := voter.text("#check-why"); !strings.Contains(got, "já tinha sido usada num voto anterior") {
		t.Errorf("replay: reason %q", got)
	}
	if got := voter.text("#check-proof"); !strings.HasPrefix(got, "Prova verificada") {
		_, body := authGet(t, p.http+"/api/v1/paredoes/"+id+"/receipts/"+replayID, "")
		t.Errorf("replay: proof %q\n%s", got, body)
	}
	if !voter.evalBool(`document.activeElement?.id === "check-result"`) {
		t.Errorf("focus on %s after a check, want the result", voter.eval(`document.activeElement?.id`))
	}
	voter.shot("voter-receipt-refused")

	// In English too.
	voter.do(chromedp.Click(chromedp.CSS(`[data-lang="en"]`)))
	voter.waitJS(`document.getElementById("check-verdict").textContent === "Vote not counted" && document.getElementById("check-why").textContent.includes("earlier vote")`, 5*time.Second)
	voter.do(chromedp.Click(chromedp.CSS(`[data-lang="pt-BR"]`)))
	voter.checkConsole()
}

// replayVote writes a vote of paredão paredao from the votes log again, to
// the same partition under the same key (after it), with the same challenge
// and a new vote id, and returns that id.
func replayVote(t *testing.T, broker, paredao string) string {
	t.Helper()
	var raw [16]byte
	_, _ = rand.Read(raw[:])                           // crypto/rand never fails
	id := base64.RawURLEncoding.EncodeToString(raw[:]) // 22 characters
	rewriteVote(t, broker, func(v *pipeline.Vote) bool { return v.ParedaoID == paredao }, func(_ []byte, v *pipeline.Vote) []byte {
		replay := *v
		replay.ID = id
		value, err := pipeline.VoteCodec{}.Encode(&replay)
		if err != nil {
			t.Fatal(err)
		}
		return value
	})
	return id
}
