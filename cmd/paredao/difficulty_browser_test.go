package main

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The widget's solve time at the base difficulty of the default curve
// (maxnumber 100,000) on the phone viewport: the median of 9 proofs of work,
// logged, as the widget reports it ("took") and as the page waits for it,
// without and with a 4× CPU slowdown (Chromium applies it to the page; how
// much of it reaches the widget's workers depends on the version).
func TestWidgetSolveTime(t *testing.T) {
	chromium := chromiumPath(t)
	const base = 100000
	env := runEnv(t, t.TempDir())
	env["PAREDAO_POW_MAX_NUMBER"] = "100000"
	env["PAREDAO_POW_MAX_LEVEL"] = "4" // the default curve: 9 challenges a minute stay at level 0
	p := start(t, env, "run")
	b := newBrowser(t, chromium)
	tab := b.tab(t, 390, 844, true)
	tab.do(chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.CSS(`.card[data-participant="ana"]`)))
	tab.waitJS(`!document.getElementById("vote-form").hidden && document.getElementById("altcha").getState() === "unverified"`, 5*time.Second)

	const measure = `(async () => {
  const w = document.getElementById("altcha");
  const out = [];
  for (let i = 0; i < 9; i++) {
    w.reset();
    const done = new Promise((resolve) => {
      const h = (ev) => {
        const s = ev.detail && ev.detail.state;
        if (s === "verified" || s === "error" || s === "expired") { w.removeEventListener("statechange", h); resolve(ev.detail); }
      };
      w.addEventListener("statechange", h);
    });
    const t0 = performance.now();
    w.verify();
    const d = await done;
    if (d.state !== "verified") return JSON.stringify({ error: d.state });
    const pl = JSON.parse(atob(d.payload));
    out.push({ wall: performance.now() - t0, took: pl.took, salt: pl.salt, number: pl.number });
  }
  w.reset();
  return JSON.stringify({ runs: out });
})()`
	type run struct {
		Wall, Took float64
		Salt       string
		Number     int64
	}
	for _, slowdown := range []float64{1, 4} {
		tab.do(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: slowdown})
			return err
		}))
		ctx, cancel := context.WithTimeout(tab.ctx, 60*time.Second)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](measure, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("measure: %v%s", err, tab.consoleDump())
		}
		var res struct {
			Error string
			Runs  []run
		}
		if err := json.Unmarshal([]byte(raw), &res); err != nil || res.Error != "" || len(res.Runs) == 0 {
			t.Fatalf("measure: %s (%v)", raw, err)
		}
		var took, wall []float64
		for _, r := range res.Runs {
			_, q, _ := strings.Cut(r.Salt, "?")
			if v, _ := url.ParseQuery(q); v.Get("m") != "100000" {
				t.Fatalf("challenge at maxnumber %s, want the base %d", v.Get("m"), base)
			}
			took, wall = append(took, r.Took), append(wall, r.Wall)
		}
		slices.Sort(took)
		slices.Sort(wall)
		t.Logf("widget, phone viewport, CPU slowdown %gx, maxnumber %d: median took %.0f ms (min %.0f, max %.0f), median until verified %.0f ms",
			slowdown, base, took[len(took)/2], took[0], took[len(took)-1], wall[len(wall)/2])
	}
	tab.checkConsole()
}
