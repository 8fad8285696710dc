package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows
}

// dashboardMetrics are the metrics the dashboard shows; every one must be
// queried, and nothing else may be (a misspelt name draws an empty panel).
var dashboardMetrics = []string{
	"paredao_http_votes_accepted_total",
	"paredao_http_votes_rejected_total",
	"paredao_http_emit_seconds_bucket",
	"paredao_guard_votes_total",
	"paredao_tally_ballots_total",
	"paredao_tally_windows_emitted_total",
	"paredao_sink_records_total",
	"paredao_sink_apply_errors_total",
	"paredao_sink_last_flush_timestamp_seconds",
	"paredao_processor_lag_records",
	"paredao_views_standings_age_seconds",
	"paredao_tally_window_close_delay_seconds_bucket",
	"go_goroutines",
	"process_resident_memory_bytes",
}

// grafanaVars replaces Grafana's variables with values PromQL accepts.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"${job}", ".*", "$job", ".*",
)

// TestGrafanaDashboard: the JSON parses, every panel has a query, every query
// is valid PromQL over the metrics above, and each metric is shown.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("grafana", "paredao.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("grafana/paredao.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		hasDS = hasDS || (v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !hasDS {
		t.Error("no Prometheus data source variable named datasource")
	}

	var panels []panel
	for _, p := range d.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	ids := map[int]bool{}
	shown := map[string]bool{}
	var exprs []string
	queried := 0
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		queried++
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source is not the ${datasource} variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: target %s has no expression", p.Title, tg.RefID)
				continue
			}
			exprs = append(exprs, tg.Expr)
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(tg.Expr))
			if err != nil {
				t.Errorf("panel %q: %q is not valid PromQL: %v", p.Title, tg.Expr, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					if !contains(dashboardMetrics, vs.Name) {
						t.Errorf("panel %q queries %q, which is not a paredao metric this dashboard knows", p.Title, vs.Name)
					}
					shown[vs.Name] = true
				}
				return nil
			})
		}
	}
	if queried < len(dashboardMetrics)-2 {
		t.Errorf("%d panels with queries for %d metrics", queried, len(dashboardMetrics))
	}
	for _, m := range dashboardMetrics {
		if !shown[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	all := strings.Join(exprs, "\n")
	for _, want := range []string{
		"sum by (reason) (rate(paredao_http_votes_rejected_total",
		"histogram_quantile(0.5, sum by (le) (rate(paredao_http_emit_seconds_bucket",
		"histogram_quantile(0.99, sum by (le) (rate(paredao_http_emit_seconds_bucket",
		"sum by (outcome) (rate(paredao_guard_votes_total",
		"sum by (outcome) (rate(paredao_tally_ballots_total",
		"time() - max(paredao_sink_last_flush_timestamp_seconds",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no query %q...", want)
		}
	}
}

// TestDashboardMetricsExist: every paredao metric the dashboard queries is
// registered somewhere in the main module (a renamed metric empties a panel
// silently). go_* and process_* come from the Go and process collectors.
func TestDashboardMetricsExist(t *testing.T) {
	var src strings.Builder
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "deploy" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			src.Write(raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code := src.String()
	if !strings.Contains(code, "collectors.NewGoCollector") || !strings.Contains(code, "collectors.NewProcessCollector") {
		t.Error("the binary no longer registers the Go and process collectors (go_goroutines, process_resident_memory_bytes)")
	}
	for _, m := range dashboardMetrics {
		if !strings.HasPrefix(m, "paredao_") {
			continue
		}
		name := strings.TrimSuffix(m, "_bucket")
		if !strings.Contains(code, `"`+name+`"`) {
			t.Errorf("%s: no metric %q registered in the main module", m, name)
		}
	}
}
