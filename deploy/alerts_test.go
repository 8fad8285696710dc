package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The alert rules: one plain rules file (the one to edit), the PrometheusRule
// generated from it, the promtool unit tests (make rules runs promtool) and
// the runbook in the README.
const (
	rulesFile          = "prometheus/paredao-rules.yaml"
	rulesTestFile      = "prometheus/paredao-rules.test.yaml"
	prometheusRuleFile = "k8s/components/monitoring/prometheusrule.yaml"
	runbookPrefix      = "https://github.com/paredao/paredao/blob/main/README.md#"
)

var updateRules = flag.Bool("update-rules", false, "rewrite the spec of "+prometheusRuleFile+" from "+rulesFile)

// runbookAlerts are the alerts the runbook must have (issue 16): processor
// lag, standings age, the sink, 5xx, emit latency, shedding, restarts.
var runbookAlerts = []string{
	"ParedaoProcessorLagGrowing",
	"ParedaoStandingsStale",
	"ParedaoSinkApplyErrors",
	"ParedaoSinkStalled",
	"ParedaoVotesFailing",
	"ParedaoEmitLatencyHigh",
	"ParedaoConnectionsRefused",
	"ParedaoConnectionsShedding",
	"ParedaoStreamsRefused",
	"ParedaoTaskRestarting",
}

// ruleGroups is a rules file (and the spec of a PrometheusRule), limited to
// the fields both formats accept: anything else fails the strict decoding.
type ruleGroups struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// prometheusRule is a monitoring.coreos.com/v1 PrometheusRule, strictly.
type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec ruleGroups `json:"spec"`
}

// ruleTests is promtool's unit test file, the parts these tests use.
type ruleTests struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval,omitempty"`
	Tests              []struct {
		Name        string `json:"name"`
		Interval    string `json:"interval,omitempty"`
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels,omitempty"`
				ExpAnnotations map[string]string `json:"exp_annotations,omitempty"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test,omitempty"`
		PromQLExprTest json.RawMessage `json:"promql_expr_test,omitempty"`
	} `json:"tests"`
}

// strictYAML decodes YAML strictly: duplicate keys, unknown or misspelt
// fields (case-sensitively) and wrong types are errors.
func strictYAML(raw []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decoding: %v", strict)
	}
	return nil
}

func readRules(t *testing.T) ([]byte, ruleGroups) {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rg ruleGroups
	if err := strictYAML(raw, &rg); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return raw, rg
}

var (
	alertName       = regexp.MustCompile(`^Paredao[A-Z][A-Za-z0-9]+$`)
	promDuration    = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	literalAlts     = regexp.MustCompile(`^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$`)
	wantAnnotations = []string{"description", "runbook_url", "summary"}
)

// TestAlertRules: the rules file decodes strictly; every alert has a
// severity, a summary, a description and a runbook link to its own section of
// the README; every expression is PromQL over metrics and labels the main
// module exports; and the promtool unit tests have, per alert, a case where
// it fires and one where it does not.
func TestAlertRules(t *testing.T) {
	_, rg := readRules(t)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(readme))
	src := mainModuleSources(t)

	if len(rg.Groups) == 0 {
		t.Fatalf("%s: no groups", rulesFile)
	}
	groups := map[string]bool{}
	alerts := map[string]bool{}
	for _, g := range rg.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group name %q empty or repeated", g.Name)
		}
		groups[g.Name] = true
		if len(g.Rules) == 0 {
			t.Errorf("group %s has no rules", g.Name)
		}
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert + r.Record
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("%s: a rule is an alert or a recording rule", where)
				continue
			}
			checkExpr(t, where, r.Expr, src)
			if r.Record != "" {
				continue
			}
			if !alertName.MatchString(r.Alert) || alerts[r.Alert] {
				t.Errorf("%s: alert name not Paredao<CamelCase>, or repeated", where)
			}
			alerts[r.Alert] = true
			if r.For != "" && !promDuration.MatchString(r.For) {
				t.Errorf("%s: for %q is not a duration", where, r.For)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", where, s)
			}
			keys := slices.Sorted(maps.Keys(r.Annotations))
			if !slices.Equal(keys, wantAnnotations) {
				t.Errorf("%s: annotations %v, want %v", where, keys, wantAnnotations)
			}
			for _, k := range wantAnnotations {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("%s: empty %s", where, k)
				}
			}
			anchor := strings.ToLower(r.Alert)
			if got := r.Annotations["runbook_url"]; got != runbookPrefix+anchor {
				t.Errorf("%s: runbook_url %q, want %q", where, got, runbookPrefix+anchor)
			}
			if !anchors[anchor] {
				t.Errorf("%s: README.md has no section #%s (### %s under ## Runbook)", where, anchor, r.Alert)
			}
		}
	}
	for _, a := range runbookAlerts {
		if !alerts[a] {
			t.Errorf("no alert %s in %s", a, rulesFile)
		}
	}
	checkRuleTests(t, alerts)
}

// checkExpr: expr is PromQL; each metric it selects is registered in the main
// module; each label it matches is a label of that metric (named in the file
// that registers it) and each value it matches is a string of the module.
func checkExpr(t *testing.T, where, expr string, src map[string]string) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q is not valid PromQL: %v", where, expr, err)
		return
	}
	all := strings.Join(slices.Collect(maps.Values(src)), "\n")
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		metric := vs.Name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(metric, suffix); cut && !strings.Contains(all, `"`+metric+`"`) {
				metric = base
			}
		}
		if !strings.HasPrefix(metric, "paredao_") {
			t.Errorf("%s: selects %q, not a paredao metric", where, vs.Name)
			return nil
		}
		var homes []string // the files naming the metric
		for p, s := range src {
			if strings.Contains(s, `"`+metric+`"`) {
				homes = append(homes, p)
			}
		}
		if len(homes) == 0 {
			t.Errorf("%s: no metric %q registered in the main module", where, metric)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == "__name__" {
				continue
			}
			if !slices.ContainsFunc(homes, func(p string) bool { return strings.Contains(src[p], `"`+m.Name+`"`) }) {
				t.Errorf("%s: %s has no label %q (%s)", where, metric, m.Name, strings.Join(homes, ", "))
			}
			values := []string{m.Value}
			switch m.Type.String() {
			case "=~":
				if !literalAlts.MatchString(m.Value) {
					t.Errorf("%s: %s{%s=~%q}: match literal values a|b|c, not a pattern", where, metric, m.Name, m.Value)
					continue
				}
				values = strings.Split(m.Value, "|")
			case "!=", "!~":
				continue
			}
			for _, v := range values {
				if !strings.Contains(all, `"`+v+`"`) {
					t.Errorf("%s: %s{%s=%q}: the main module has no string %q", where, metric, m.Name, v, v)
				}
			}
		}
		return nil
	})
}

// checkRuleTests: the promtool test file loads the rules file and has, for
// every alert, a case expecting it firing and one expecting it quiet.
func checkRuleTests(t *testing.T, alerts map[string]bool) {
	raw, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var rt ruleTests
	if err := strictYAML(raw, &rt); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	if want := []string{filepath.Base(rulesFile)}; !slices.Equal(rt.RuleFiles, want) {
		t.Errorf("%s: rule_files %v, want %v", rulesTestFile, rt.RuleFiles, want)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if !alerts[a.Alertname] {
				t.Errorf("%s: test %q: no alert %s in %s", rulesTestFile, tc.Name, a.Alertname, rulesFile)
			}
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
			for _, e := range a.ExpAlerts {
				if len(e.ExpAnnotations) == 0 {
					t.Errorf("%s: test %q: %s at %s: expect the annotations too", rulesTestFile, tc.Name, a.Alertname, a.EvalTime)
				}
			}
		}
	}
	for a := range alerts {
		if !firing[a] {
			t.Errorf("%s: no case where %s fires", rulesTestFile, a)
		}
		if !quiet[a] {
			t.Errorf("%s: no case where %s stays quiet", rulesTestFile, a)
		}
	}
}

// TestPrometheusRuleFile: the PrometheusRule carries the groups of the rules
// file, text for text (comments too) below its `spec:` line; with
// -update-rules the test writes it so. Above `spec:` (metadata) is free.
func TestPrometheusRuleFile(t *testing.T) {
	rules, rg := readRules(t)
	spec, err := prometheusRuleSpec(rules)
	if err != nil {
		t.Fatal(err)
	}
	current, err := os.ReadFile(prometheusRuleFile)
	if err != nil && (!*updateRules || !os.IsNotExist(err)) {
		t.Fatal(err)
	}
	head := []byte(defaultPrometheusRuleHead)
	if i := bytes.Index(current, []byte("\nspec:\n")); i >= 0 {
		head = current[:i+1]
	}
	want := append(append([]byte{}, head...), spec...)
	if *updateRules {
		if !bytes.Equal(current, want) {
			if err := os.WriteFile(prometheusRuleFile, want, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", prometheusRuleFile)
		}
		current = want
	}
	if !bytes.Equal(current, want) {
		t.Errorf("%s differs from %s: run `cd deploy && go test -run TestPrometheusRuleFile -update-rules`", prometheusRuleFile, rulesFile)
	}
	var pr prometheusRule
	if err := strictYAML(current, &pr); err != nil {
		t.Fatalf("%s: %v", prometheusRuleFile, err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Metadata.Name == "" {
		t.Errorf("%s: %s %s %q, want a named monitoring.coreos.com/v1 PrometheusRule", prometheusRuleFile, pr.APIVersion, pr.Kind, pr.Metadata.Name)
	}
	if !reflect.DeepEqual(pr.Spec, rg) {
		t.Errorf("%s: spec.groups differ from the groups of %s", prometheusRuleFile, rulesFile)
	}
}

// TestPrometheusRuleRendered: every overlay with a PodMonitor renders the
// PrometheusRule (and one without renders none), decoded strictly, its groups
// those of the rules file.
func TestPrometheusRuleRendered(t *testing.T) {
	_, rg := readRules(t)
	for _, o := range overlays {
		t.Run(filepath.Base(o.dir), func(t *testing.T) {
			r := render(t, o.dir)
			rules := r.custom["PrometheusRule"]
			want := 0
			if len(r.custom["PodMonitor"]) > 0 {
				want = 1
			}
			if len(rules) != want {
				t.Fatalf("%d PrometheusRules with %d PodMonitors, want %d", len(rules), len(r.custom["PodMonitor"]), want)
			}
			for _, m := range rules {
				raw, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				var pr prometheusRule
				strict, err := kjson.UnmarshalStrict(raw, &pr, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
				if err == nil && len(strict) > 0 {
					err = fmt.Errorf("strict decoding: %v", strict)
				}
				if err != nil {
					t.Fatalf("PrometheusRule %s: %v", name(m), err)
				}
				if pr.Metadata.Namespace != r.namespace {
					t.Errorf("PrometheusRule %s: namespace %q, want %q", pr.Metadata.Name, pr.Metadata.Namespace, r.namespace)
				}
				if !reflect.DeepEqual(pr.Spec, rg) {
					t.Errorf("PrometheusRule %s: spec.groups differ from the groups of %s", pr.Metadata.Name, rulesFile)
				}
			}
		})
	}
}

const defaultPrometheusRuleHead = `# The alerts of deploy/prometheus/paredao-rules.yaml for the Prometheus
# Operator. Below spec: is generated from that file, the one to edit:
#   cd deploy && go test -run TestPrometheusRuleFile -update-rules
# (the test fails while the two differ). The lines above spec: are free: if
# your Prometheus selects PrometheusRules by label (kube-prometheus-stack:
# release: <helm release name>), add that label to metadata.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: paredao
`

// prometheusRuleSpec is the rules file from its groups: line on, indented
// under spec: (the header comment of the rules file stays behind).
func prometheusRuleSpec(rules []byte) ([]byte, error) {
	i := bytes.Index(rules, []byte("\ngroups:\n"))
	if i < 0 {
		if !bytes.HasPrefix(rules, []byte("groups:\n")) {
			return nil, fmt.Errorf("%s: no top-level groups: line", rulesFile)
		}
	} else {
		rules = rules[i+1:]
	}
	var b bytes.Buffer
	b.WriteString("spec:\n")
	for _, line := range strings.SplitAfter(string(rules), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
			b.WriteString(line)
		} else if line != "" {
			b.WriteString("\n")
		}
	}
	return b.Bytes(), nil
}

// markdownAnchors are the anchors GitHub gives the headings of a Markdown
// file: lower case, punctuation dropped, spaces as hyphens.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	fence := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var a strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 127:
				a.WriteRune(r)
			}
		}
		out[a.String()] = true
	}
	return out
}

// mainModuleSources are the non-test Go files of the main module, by path.
func mainModuleSources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != ".." && (d.Name() == "deploy" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[p] = string(raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
