package main

import (
	"os"
	"strings"
	"testing"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/processors"
)

// topology.md stays true: every group and every topic of the goka graphs
// appears in its mermaid graph.
func TestTopologyMatchesGraphs(t *testing.T) {
	b, err := os.ReadFile("../../topology.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "```mermaid")
	end := strings.Index(doc[start+3:], "```")
	if start < 0 || end < 0 {
		t.Fatal("topology.md has no mermaid graph")
	}
	graph := doc[start : start+3+end]
	graphs := []*goka.GroupGraph{
		processors.GuardGraph(processors.GuardConfig{}),
		processors.TallyGraph(processors.TallyConfig{}),
	}
	graphs = append(graphs, extraGraphs()...)
	for _, g := range graphs {
		if !strings.Contains(graph, string(g.Group())) {
			t.Errorf("group %q missing from topology.md", g.Group())
		}
		for _, e := range g.AllEdges() {
			if e.Topic() == "" || e.Topic() == processors.CloseVisitor || e.Topic() == processors.PruneVisitor { // visitors, not topics
				continue
			}
			if !strings.Contains(graph, e.Topic()) {
				t.Errorf("topic %q of group %q missing from topology.md", e.Topic(), g.Group())
			}
		}
	}
	for _, topic := range []string{string(pipeline.CatalogTable), string(pipeline.VotesStream)} {
		if !strings.Contains(graph, topic) {
			t.Errorf("topic %q missing", topic)
		}
	}
}
