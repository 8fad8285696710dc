package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The pages in a real browser (Debian's Chromium, headless) against the real
// binary: what a viewer and the production team do, with no console error and
// no CSP violation on any page. Each run leaves screenshots of every page,
// desktop and phone, in testdata/screenshots/ (git-ignored).
//
// The steps share one paredao process and run in order: the first vote is
// the first of a fresh data dir.
func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	const token = "browser-test-production-token-0123456789"
	env := runEnv(t, t.TempDir())
	env["PAREDAO_PRODUCTION_TOKEN"] = token
	p := start(t, env, "run")
	b := newBrowser(t, chromium)

	// A viewer votes through the real widget, sees the receipt and the live
	// bars, votes again with the nextChallenge, and both votes are counted.
	t.Run("VoterDesktop", func(t *testing.T) {
		tab := b.tab(t, 1280, 900, false)
		tab.do(chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.CSS(`.card[data-participant="ana"]`)))
		tab.waitIdle()
		tab.shot("voter-desktop")

		// Voting without a choice says so, in the page's words.
		tab.do(chromedp.Click(chromedp.ID("vote-button")))
		tab.waitJS(`document.getElementById("vote-error").textContent === "Escolha quem você quer eliminar."`, 5*time.Second)

		tab.do(chromedp.Click(chromedp.CSS(`.card[data-participant="ana"]`)))
		if got := tab.text("#vote-label"); got != "Eliminar Ana Clara" {
			t.Errorf("button reads %q after picking Ana Clara", got)
		}
		tab.shot("voter-desktop-picked")
		tab.do(chromedp.Click(chromedp.ID("vote-button")))
		tab.waitJS(`!document.getElementById("receipt").hidden`, 30*time.Second)
		tab.waitJS(`document.querySelector('#bars [data-participant="ana"] .bar-pct')?.textContent.startsWith("100")`, 15*time.Second)
		if got := tab.text("#receipt-participant"); got != "Ana Clara" {
			t.Errorf("receipt names %q", got)
		}
		if id := tab.text("#receipt-id"); len(id) < 8 {
			t.Errorf("receipt vote id %q", id)
		}
		tab.waitIdle()
		tab.shot("voter-desktop-receipt")
		waitPercents(t, p.http, "demo", map[string]float64{"ana": 100})
		waitReportTotal(t, p.http, "demo", token, 1)

		// Vote again: the widget takes the 202's nextChallenge.
		tab.do(chromedp.Click(chromedp.ID("again")))
		tab.waitJS(`!document.getElementById("vote-form").hidden && document.getElementById("altcha").getState() === "unverified"`, 5*time.Second)
		tab.do(chromedp.Click(chromedp.CSS(`.card[data-participant="bruno"]`)), chromedp.Click(chromedp.ID("vote-button")))
		tab.waitJS(`!document.getElementById("receipt").hidden && document.getElementById("receipt-participant").textContent === "Bruno Souza"`, 30*time.Second)
		tab.waitJS(`document.querySelector('#bars [data-participant="bruno"] .bar-pct')?.textContent.startsWith("50")`, 15*time.Second)
		waitPercents(t, p.http, "demo", map[string]float64{"ana": 50, "bruno": 50})
		if n := tab.evalInt(`performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/challenge")).length`); n != 1 {
			t.Errorf("two votes fetched %d challenges; the second should use the first vote's nextChallenge", n)
		}

		// English, remembered across a reload.
		tab.do(chromedp.Click(chromedp.CSS(`[data-lang="en"]`)))
		if got := tab.text("#receipt-title"); got != "Vote recorded!" {
			t.Errorf("English receipt title %q", got)
		}
		tab.waitIdle()
		tab.shot("voter-desktop-receipt-en")
		tab.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.card[data-participant="ana"]`)))
		if got := tab.text(".question"); got != "Who do you want to evict?" {
			t.Errorf("after a reload the question reads %q, want English", got)
		}
		if lang := tab.eval(`document.documentElement.lang`); lang != "en" {
			t.Errorf("html lang %q", lang)
		}
		tab.do(chromedp.Click(chromedp.CSS(`[data-lang="pt-BR"]`)))
		tab.checkConsole()
	})

	// On a phone, with the keyboard only: Tab to the participants, arrows to
	// choose, Tab to the button, Enter. No click anywhere.
	t.Run("VoterPhoneKeyboard", func(t *testing.T) {
		tab := b.tab(t, 390, 844, true)
		tab.do(chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.CSS(`.card[data-participant="carla"]`)))
		tab.waitIdle()
		tab.shot("voter-phone")
		tab.tabTo(`document.activeElement?.name === "participant"`)
		tab.do(chromedp.KeyEvent(" "))
		for range 2 {
			tab.do(chromedp.KeyEvent(kb.ArrowDown))
		}
		tab.waitJS(`document.querySelector('input[name="participant"]:checked')?.value === "carla"`, 2*time.Second)
		tab.tabTo(`document.activeElement?.id === "vote-button"`)
		tab.shot("voter-phone-picked")
		tab.do(chromedp.KeyEvent(kb.Enter))
		tab.waitJS(`!document.getElementById("receipt").hidden && document.activeElement?.id === "receipt"`, 30*time.Second)
		if got := tab.text("#receipt-participant"); got != "Carla Dias" {
			t.Errorf("receipt names %q", got)
		}
		tab.waitJS(`document.querySelector('#bars [data-participant="carla"] .bar-pct')?.textContent.trim() !== "0,0%"`, 15*time.Second)
		tab.shot("voter-phone-receipt")
		// "Vote again" by keyboard too: Tab reaches it from the receipt.
		tab.tabTo(`document.activeElement?.id === "again"`)
		tab.do(chromedp.KeyEvent(kb.Enter))
		tab.waitJS(`!document.getElementById("vote-form").hidden && document.activeElement?.name === "participant"`, 5*time.Second)
		waitPercents(t, p.http, "demo", map[string]float64{"ana": 33.4, "bruno": 33.3, "carla": 33.3})
		tab.checkConsole()
	})

	// The production dashboard: a wrong token is refused; the right one shows
	// the totals and charts, downloads the CSV, creates a paredão and closes it.
	t.Run("Dashboard", func(t *testing.T) {
		tab := b.tab(t, 1440, 1000, false)
		tab.allow("401 (Unauthorized)") // the wrong token's answer, as Chrome logs it
		tab.do(chromedp.Navigate(p.http+"/production"), chromedp.WaitVisible(chromedp.ID("token")))
		tab.shot("dashboard-signin")
		tab.do(chromedp.SendKeys(chromedp.ID("token"), "not-the-token"), chromedp.Click(chromedp.ID("signin-button")))
		tab.waitJS(`document.getElementById("signin-error").textContent.length > 0`, 10*time.Second)
		if got := tab.text("#signin-error"); !strings.Contains(got, "recusado") {
			t.Errorf("wrong token: error %q", got)
		}
		if !tab.evalBool(`document.getElementById("dash").hidden`) {
			t.Error("the dashboard shows after a wrong token")
		}

		tab.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("token").value = ""`), chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("signin-button")))
		tab.waitJS(`!document.getElementById("dash").hidden`, 10*time.Second)
		if tab.eval(`location.href`) != p.http+"/production" {
			t.Errorf("the token went into the URL: %s", tab.eval(`location.href`))
		}
		if tab.eval(`sessionStorage.getItem("paredao.productionToken")`) != token {
			t.Error("the token is not kept in sessionStorage")
		}
		tab.waitJS(`document.getElementById("kpi-total").textContent === "3"`, 30*time.Second)
		tab.waitJS(`document.querySelector('#by-participant [data-participant="ana"] .votes')?.textContent === "1"`, 5*time.Second)
		tab.waitJS(`!!Chart.getChart("minute-chart") && !!Chart.getChart("hour-chart") && Chart.getChart("minute-chart").data.datasets.length === 3`, 10*time.Second)
		if got := tab.evalInt(`Chart.getChart("minute-chart").data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0)`); got != 3 {
			t.Errorf("the per-minute chart shows %d votes, want 3", got)
		}
		if !strings.HasPrefix(tab.text("#exact-until"), "Exato até") || !strings.HasPrefix(tab.text("#as-of"), "Atualizado") {
			t.Errorf("exactUntil %q, asOf %q", tab.text("#exact-until"), tab.text("#as-of"))
		}
		tab.waitIdle()
		tab.shot("dashboard-desktop")

		// The CSV, fetched with the bearer header and saved from a Blob.
		dir := t.TempDir()
		tab.downloadsTo(dir)
		tab.do(chromedp.Click(chromedp.ID("csv")))
		csvPath := filepath.Join(dir, "paredao-demo-hourly.csv")
		waitFor(t, 15*time.Second, "the CSV download", func() (bool, string) {
			b, err := os.ReadFile(csvPath)
			entries, _ := os.ReadDir(dir)
			return err == nil && len(b) > 0, fmt.Sprint(err, entries, tab.text("#dash-message"))
		})
		csv, _ := os.ReadFile(csvPath)
		if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) < 2 {
			t.Errorf("CSV has no data row:\n%s", csv)
		}

		// Create a paredão through the form.
		opens := time.Now().Add(-time.Minute).Local().Format("2006-01-02T15:04")
		closes := time.Now().Add(2 * time.Hour).Local().Format("2006-01-02T15:04")
		tab.do(
			chromedp.SendKeys(chromedp.CSS(`#create-form [name="title"]`), "Paredão do teste"),
			chromedp.SendKeys(chromedp.CSS(`#create-form [name="id"]`), "teste"),
			chromedp.SetValue(chromedp.CSS(`#create-form [name="opensAt"]`), opens),
			chromedp.SetValue(chromedp.CSS(`#create-form [name="closesAt"]`), closes),
			chromedp.SendKeys(chromedp.CSS(`#people li:nth-child(1) [name="name"]`), "Dora Lima"),
			chromedp.SendKeys(chromedp.CSS(`#people li:nth-child(2) [name="name"]`), "Édson Reis"),
			chromedp.Click(chromedp.CSS(`#people li:nth-child(3) .remove-person`)),
			chromedp.Click(chromedp.ID("create-button")),
		)
		tab.waitJS(`!!document.querySelector('#paredoes tr[data-paredao="teste"]')`, 15*time.Second)
		var created struct {
			Status       string `json:"status"`
			Participants []struct {
				ID string `json:"id"`
			} `json:"participants"`
		}
		if st := getJSON(t, p.http+"/api/v1/paredoes/teste", &created); st != http.StatusOK || created.Status != "open" || len(created.Participants) != 2 || created.Participants[1].ID != "edson-reis" {
			t.Fatalf("created paredão: %d %+v", st, created)
		}
		tab.shot("dashboard-created")

		// Close it now, through the confirmation dialog.
		tab.do(chromedp.Click(chromedp.CSS(`[data-close="teste"]`)))
		tab.waitJS(`document.getElementById("close-dialog").open`, 5*time.Second)
		tab.shotViewport("dashboard-close-dialog")
		tab.do(chromedp.Click(chromedp.ID("close-confirm")))
		tab.waitJS(`document.querySelector('#paredoes tr[data-paredao="teste"] .status-closed') !== null`, 20*time.Second)
		if st := getJSON(t, p.http+"/api/v1/paredoes/teste", &created); st != http.StatusOK || created.Status != "closed" {
			t.Fatalf("after closing: %d %s", st, created.Status)
		}
		tab.checkConsole()
	})

	t.Run("DashboardPhone", func(t *testing.T) {
		tab := b.tab(t, 390, 844, true)
		tab.do(chromedp.Navigate(p.http+"/production"), chromedp.WaitVisible(chromedp.ID("token")))
		tab.shot("dashboard-phone-signin")
		tab.do(chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
		tab.waitJS(`!document.getElementById("dash").hidden && document.getElementById("kpi-total").textContent === "3"`, 30*time.Second)
		tab.waitJS(`!!Chart.getChart("hour-chart")`, 10*time.Second)
		tab.waitIdle()
		tab.shot("dashboard-phone")
		tab.checkConsole()
	})

	// With no paredão open, the voter page says when the next one opens and
	// shows the last one's final result.
	t.Run("NoParedaoOpen", func(t *testing.T) {
		future := time.Now().Add(26 * time.Hour).UTC().Truncate(time.Minute)
		st, body := authPost(t, p.http+"/api/v1/production/paredoes", token, map[string]any{
			"id": "proximo", "title": "Paredão de domingo", "opensAt": future, "closesAt": future.Add(48 * time.Hour),
			"participants": []map[string]string{{"id": "gil", "name": "Gil Nogueira"}, {"id": "helo", "name": "Heloísa Prado"}, {"id": "ivo", "name": "Ivo Matos"}},
		})
		if st != http.StatusCreated {
			t.Fatalf("create scheduled paredão: %d %s", st, body)
		}
		if st, body := authPost(t, p.http+"/api/v1/production/paredoes/demo/close", token, nil); st != http.StatusOK {
			t.Fatalf("close demo: %d %s", st, body)
		}
		for _, phone := range []bool{false, true} {
			w, h, name := int64(1280), int64(900), "voter-closed-desktop"
			if phone {
				w, h, name = 390, 844, "voter-closed-phone"
			}
			tab := b.tab(t, w, h, phone)
			tab.do(chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.ID("idle")))
			tab.waitJS(`!document.getElementById("next").hidden && !document.getElementById("last").hidden && document.getElementById("last-out").textContent.length > 0`, 10*time.Second)
			if got := tab.text("#next-title"); got != "Paredão de domingo" {
				t.Errorf("next paredão %q", got)
			}
			if got := tab.text("#last-title"); got != "Paredão da semana" {
				t.Errorf("last paredão %q", got)
			}
			if got := tab.text(".out-name"); got != "Ana Clara" {
				t.Errorf("the final result names %q as leaving (33.4%% of the votes)", got)
			}
			tab.waitIdle()
			tab.shot(name)
			tab.checkConsole()
		}
	})
}

// chromiumPath is $PAREDAO_CHROMIUM or chromium on the PATH. Without it the
// test is skipped on a laptop and fails in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PAREDAO_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is missing (apt-get install chromium, or set PAREDAO_CHROMIUM)")
		}
		t.Skip("chromium is missing (apt-get install chromium, or set PAREDAO_CHROMIUM)")
	}
	return p
}

// browserRun is one headless Chromium for a test, with a fresh profile.
type browserRun struct {
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T, path string) *browserRun {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	shots := filepath.Join("..", "..", "testdata", "screenshots")
	if err := os.MkdirAll(shots, 0o750); err != nil {
		t.Fatal(err)
	}
	return &browserRun{ctx: ctx, shots: shots}
}

// browserTab is one tab in a browser context of its own (no shared cookies
// or storage), with its console recorded.
type browserTab struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	allowed []string
}

func (b *browserRun) tab(t *testing.T, width, height int64, phone bool) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	tab := &browserTab{t: t, ctx: ctx, shots: b.shots}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tab.mu.Lock()
			tab.console = append(tab.console, m)
			tab.mu.Unlock()
		}
	}()
	viewport := chromedp.EmulateViewport(width, height)
	if phone {
		viewport = chromedp.EmulateViewport(width, height, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	tab.do(viewport)
	if phone {
		// A phone user who asked for less motion: the pages must still work.
		tab.do(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
			})
			return err
		}))
	}
	return tab
}

func (tab *browserTab) do(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tab.t.Fatalf("browser: %v%s", err, tab.consoleDump())
	}
}

func (tab *browserTab) eval(js string) string {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		tab.t.Fatalf("evaluate %s: %v", js, err)
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func (tab *browserTab) evalBool(js string) bool {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		tab.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (tab *browserTab) evalInt(js string) int {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[int](js))
	if err != nil {
		tab.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (tab *browserTab) text(selector string) string {
	tab.t.Helper()
	b, _ := json.Marshal(selector)
	return strings.TrimSpace(tab.eval(fmt.Sprintf(`document.querySelector(%s)?.textContent ?? ""`, b)))
}

// waitJS polls a JavaScript condition in the page until it holds.
func (tab *browserTab) waitJS(cond string, timeout time.Duration) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		tab.t.Fatalf("waiting for %s: %v%s\npage text:\n%s", cond, err, tab.consoleDump(), tab.pageText())
	}
}

// waitIdle waits until the finite animations (bars, charts) are done, for
// a screenshot that shows where they end.
func (tab *browserTab) waitIdle() {
	tab.t.Helper()
	tab.waitJS(`document.fonts.status === "loaded" && document.getAnimations().every((a) => a.effect?.getTiming().iterations === Infinity || a.playState !== "running")`, 10*time.Second)
	tab.waitJS(`typeof Chart === "undefined" || Object.values(Chart.instances).every((c) => !c.animating)`, 10*time.Second)
}

// tabTo presses Tab until cond holds for the focused element.
func (tab *browserTab) tabTo(cond string) {
	tab.t.Helper()
	for range 40 {
		if tab.evalBool(cond) {
			return
		}
		tab.do(chromedp.KeyEvent(kb.Tab))
	}
	tab.t.Fatalf("Tab never reached %s (focus on %s)", cond, tab.eval(`document.activeElement?.outerHTML.slice(0, 120)`))
}

// shot saves a full-page PNG as testdata/screenshots/<name>.png.
func (tab *browserTab) shot(name string) {
	tab.t.Helper()
	png, err := chromedp.Run(tab.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tab.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(tab.shots, name+".png"), png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}

// shotViewport saves what the screen shows (a modal dialog covers only that).
func (tab *browserTab) shotViewport(name string) {
	tab.t.Helper()
	png, err := chromedp.Run(tab.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tab.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(tab.shots, name+".png"), png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}

// downloadsTo saves this tab's downloads in dir, under their own names.
func (tab *browserTab) downloadsTo(dir string) {
	tab.t.Helper()
	id := chromedp.FromContext(tab.ctx).BrowserContextID
	if _, err := chromedp.CallBrowser(tab.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: id, DownloadPath: dir,
	}); err != nil {
		tab.t.Fatalf("set download behavior: %v", err)
	}
}

// allow lets console errors that contain text through (an answer the step
// expects, such as a 401 that Chrome logs).
func (tab *browserTab) allow(text string) { tab.allowed = append(tab.allowed, text) }

// checkConsole fails on any console error, uncaught exception or CSP
// violation ("Refused to ...") the page produced.
func (tab *browserTab) checkConsole() {
	tab.t.Helper()
	tab.mu.Lock()
	defer tab.mu.Unlock()
	for _, m := range tab.console {
		csp := strings.Contains(m.Text, "Refused to") || strings.Contains(m.Text, "Content Security Policy")
		bad := csp || m.IsException() || m.Type == chromedp.ConsoleError
		if !bad {
			if m.Type == chromedp.ConsoleWarning {
				tab.t.Logf("console warning: %s (%s)", m.Text, m.URL)
			}
			continue
		}
		if !csp && tab.isAllowed(m.Text) {
			continue
		}
		tab.t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1)
	}
}

func (tab *browserTab) isAllowed(text string) bool {
	for _, a := range tab.allowed {
		if strings.Contains(text, a) {
			return true
		}
	}
	return false
}

// pageText is what the page shows, for a failure message.
func (tab *browserTab) pageText() string {
	ctx, cancel := context.WithTimeout(tab.ctx, 2*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return err.Error()
	}
	return v
}

func (tab *browserTab) consoleDump() string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	var sb strings.Builder
	for _, m := range tab.console {
		fmt.Fprintf(&sb, "\n  console %s: %s", m.Type, m.Text)
	}
	return sb.String()
}

// waitPercents waits until the public results show want.
func waitPercents(t *testing.T, base, id string, want map[string]float64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("results %v", want), func() (bool, string) {
		var s standings
		getJSON(t, base+"/api/v1/paredoes/"+id+"/results", &s)
		got := s.percents()
		for k, v := range want {
			if got[k] != v {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
}

// waitReportTotal waits until the production report counts total votes.
func waitReportTotal(t *testing.T, base, id, token string, total int64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("report total %d", total), func() (bool, string) {
		st, b := authGet(t, base+"/api/v1/production/paredoes/"+id+"/report", token)
		if st != http.StatusOK {
			return false, fmt.Sprintf("%d %s", st, b)
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return false, err.Error()
		}
		return r.Total == total, string(b)
	})
}
