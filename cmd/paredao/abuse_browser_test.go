package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Abuse in sight, on the real binary and in a real browser: votes accepted
// and refused (a forged proof of work) show up in the production API by
// reason, with the loopback prefix at the top of the sources, and the
// dashboard's abuse panel shows the same; the API needs the token.
func TestAbusePanelBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	const token = "browser-abuse-token-0123456789abcdef"
	env := runEnv(t, t.TempDir())
	env["PAREDAO_PRODUCTION_TOKEN"] = token
	p := start(t, env, "run")

	castAll(t, p.http, map[string]int{"ana": 3}, 1)
	for range 2 {
		resp, err := http.Post(p.http+"/api/v1/paredoes/demo/votes", "application/json", strings.NewReader(`{"participantId":"ana","altcha":"forged"}`))
		if err != nil {
			t.Fatal(err)
		}
		closeQuiet(resp.Body)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged proof of work: %d", resp.StatusCode)
		}
	}

	if code := getJSON(t, p.http+"/api/v1/production/paredoes/demo/abuse", nil); code != http.StatusUnauthorized {
		t.Fatalf("abuse without the token: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, p.http+"/api/v1/production/paredoes/demo/abuse", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Minutes []struct {
			Accepted int64            `json:"accepted"`
			Refused  map[string]int64 `json:"refused"`
		} `json:"minutes"`
		Votes       int64 `json:"votes"`
		TopPrefixes []struct {
			Prefix string `json:"prefix"`
			Votes  int64  `json:"votes"`
		} `json:"topPrefixes"`
	}
	err = json.NewDecoder(resp.Body).Decode(&rep)
	closeQuiet(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("abuse: %d %v", resp.StatusCode, err)
	}
	var accepted, forged int64
	for _, m := range rep.Minutes {
		accepted += m.Accepted
		forged += m.Refused["invalid_challenge"]
	}
	if accepted != 3 || forged != 2 || rep.Votes != 5 || len(rep.TopPrefixes) != 1 || rep.TopPrefixes[0].Prefix != "127.0.0.0/24" || rep.TopPrefixes[0].Votes != 5 {
		t.Fatalf("abuse report: accepted %d, invalid_challenge %d, %+v", accepted, forged, rep)
	}

	b := newBrowser(t, chromium)
	tab := b.tab(t, 1440, 1000, false)
	tab.do(chromedp.Navigate(p.http+"/production"), chromedp.WaitVisible(chromedp.ID("token")))
	tab.do(chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
	tab.waitJS(`!document.getElementById("dash").hidden && document.getElementById("paredao-select").value === "demo"`, 30*time.Second)
	tab.waitJS(`document.querySelector("#abuse-minutes thead")?.textContent.includes("invalid_challenge") && document.querySelector("#abuse-prefixes tbody")?.textContent.includes("127.0.0.0/24")`, 30*time.Second)
	if got := tab.text("#abuse-prefixes tbody tr"); !strings.Contains(got, "100,0") {
		t.Errorf("top prefix row %q, want a 100,0 %% share", got)
	}
	if got := tab.text("#abuse-voters tbody"); strings.Contains(got, ".") {
		t.Errorf("voters %q show more than a short id", got)
	}
	tab.waitIdle()
	tab.shot("dashboard-abuse")
}
