package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paredao/paredao/sink"
)

// The dashboard per day, in a real browser against the real binary: a
// paredão whose hours were folded into days opens in the per-day view, says
// from when only days are kept, and its bars add up to the total; "Por hora"
// shows the hours still kept, "Por dia" again; the CSV follows the view (the
// daily file per day, a message instead of a file per hour).
func TestDashboardDaysBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	const token = "browser-days-token-0123456789abcdef"
	dir := t.TempDir()
	ctx := context.Background()
	store, err := sink.Open(ctx, "sqlite:"+filepath.Join(dir, "paredao.db")) // the default store of `run`
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	first, _, total := loadOldParedao(t, store, now)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	env := runEnv(t, dir)
	env["PAREDAO_PRODUCTION_TOKEN"] = token
	p := start(t, env, "run")
	createOldParedao(t, p.http, token, first, now)
	r := waitDailyRollUp(t, p.http, token, now)

	b := newBrowser(t, chromium)
	tab := b.tab(t, 1440, 1000, false)
	tab.allow("410 (Gone)") // the hourly CSV's refusal, as Chrome logs it
	tab.do(chromedp.Navigate(p.http+"/production"), chromedp.WaitVisible(chromedp.ID("token")))
	tab.do(chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
	tab.waitJS(`!document.getElementById("dash").hidden && document.querySelector('#paredao-select option[value="old"]') !== null`, 30*time.Second)
	tab.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("paredao-select"); s.value = "old"; s.dispatchEvent(new Event("change")); })()`))

	bars := `Chart.getChart("hour-chart")`
	sum := bars + `.data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0)`
	tab.waitJS(fmt.Sprintf(`!!%s && %s.data.labels.length === %d && %s === %d`, bars, bars, len(r.Daily), sum, total), 30*time.Second)
	if got := tab.text("#hour-title"); got != "Votos por dia (UTC)" {
		t.Errorf("hour chart titled %q in the per-day view", got)
	}
	if !tab.evalBool(`document.getElementById("by-day").getAttribute("aria-pressed") === "true"`) {
		t.Error("the per-day button is not pressed")
	}
	day := r.HourlyFrom.Format("02/01")
	if got := tab.text("#hours-folded"); !strings.Contains(got, day) || !strings.Contains(got, "por dia") {
		t.Errorf("folded notice %q, want it to name %s", got, day)
	}
	if got := tab.evalInt(`Number(document.getElementById("kpi-total").textContent.replace(/\D/g, ""))`); got != int(total) {
		t.Errorf("total shows %d, want %d", got, total)
	}
	tab.waitIdle()
	tab.shot("dashboard-days")

	// Per hour: the hours still kept, and the notice stays.
	tab.do(chromedp.Click(chromedp.ID("by-hour")))
	tab.waitJS(fmt.Sprintf(`%s.data.labels.length === %d && document.getElementById("hour-title").textContent === "Votos por hora"`, bars, len(r.Hourly)), 10*time.Second)
	if tab.text("#hours-folded") == "" {
		t.Error("the per-hour view does not say the older hours were folded")
	}

	// The CSV follows the view.
	downloads := t.TempDir()
	tab.downloadsTo(downloads)
	tab.do(chromedp.Click(chromedp.ID("csv")))
	tab.waitJS(`document.getElementById("dash-message").textContent.includes("por dia")`, 10*time.Second)
	tab.do(chromedp.Click(chromedp.ID("by-day")), chromedp.Click(chromedp.ID("csv")))
	csvPath := filepath.Join(downloads, "paredao-old-daily.csv")
	waitFor(t, 15*time.Second, "the daily CSV download", func() (bool, string) {
		b, err := os.ReadFile(csvPath)
		return err == nil && len(b) > 0, fmt.Sprint(err, tab.text("#dash-message"))
	})
	csv, _ := os.ReadFile(csvPath)
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != len(r.Daily)+1 || lines[0] != "day,total,ana,bruno,carla" {
		t.Errorf("daily CSV:\n%s", csv)
	}

	// In English too.
	tab.do(chromedp.Click(chromedp.CSS(`[data-lang="en"]`)))
	tab.waitJS(`document.getElementById("hour-title").textContent === "Votes per day (UTC)" && document.getElementById("by-hour").textContent === "By hour"`, 10*time.Second)
	tab.do(chromedp.Click(chromedp.CSS(`[data-lang="pt-BR"]`)))
	tab.checkConsole()
}
