package sink

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// contractAudit: a recount's rows read back as written; the newest run, or
// the newest done one, of the paredão; the index row at or below a key; a
// run's chunks in order.
func contractAudit(t *testing.T, s Store) {
	ctx := context.Background()
	if r, err := s.LastAuditRun(ctx, "p1", false); err != nil || r != nil {
		t.Fatalf("no run yet: %+v %v", r, err)
	}
	older := pipeline.AuditRun{ID: "r1", ParedaoID: "p1", StartedAt: t0, Status: "done", Data: []byte(`{"n":1}`)}
	newer := pipeline.AuditRun{ID: "r2", ParedaoID: "p1", StartedAt: t0.Add(time.Hour), Status: "running", Data: []byte(`{"n":2}`)}
	other := pipeline.AuditRun{ID: "r3", ParedaoID: "p2", StartedAt: t0.Add(2 * time.Hour), Status: "done", Data: []byte(`{}`)}
	for _, r := range []pipeline.AuditRun{older, newer, other} {
		if err := s.PutAuditRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	last := func(done bool) *pipeline.AuditRun {
		r, err := s.LastAuditRun(ctx, "p1", done)
		if err != nil || r == nil {
			t.Fatalf("last run (done %v): %+v %v", done, r, err)
		}
		return r
	}
	if r := last(false); r.ID != "r2" || r.Status != "running" || string(r.Data) != `{"n":2}` || !r.StartedAt.Equal(newer.StartedAt) || r.UpdatedAt.IsZero() {
		t.Fatalf("newest run: %+v", r)
	}
	if r := last(true); r.ID != "r1" {
		t.Fatalf("newest done run: %+v", r)
	}
	newer.Status, newer.Data = "done", []byte(`{"n":3}`)
	if err := s.PutAuditRun(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if r := last(true); r.ID != "r2" || string(r.Data) != `{"n":3}` {
		t.Fatalf("run written again: %+v", r)
	}

	root := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	chunks := []pipeline.AuditChunk{{Tree: 0, Index: 1, Leaves: []byte("b"), Root: root(2)}, {Tree: 0, Index: 0, Leaves: []byte("a"), Root: root(1)},
		{Tree: 1, Index: 0, Leaves: []byte("x"), Root: root(9)}}
	if err := s.PutAuditChunks(ctx, "r2", chunks); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAuditChunks(ctx, "r2", chunks[:1]); err == nil {
		t.Fatal("a chunk written twice: no error")
	}
	roots, err := s.AuditRoots(ctx, "r2", 0)
	if err != nil || len(roots) != 2 || !bytes.Equal(roots[0], root(1)) || !bytes.Equal(roots[1], root(2)) {
		t.Fatalf("roots: %x %v", roots, err)
	}
	if c, err := s.AuditChunk(ctx, "r2", 1, 0); err != nil || c == nil || string(c.Leaves) != "x" || !bytes.Equal(c.Root, root(9)) {
		t.Fatalf("chunk: %+v %v", c, err)
	}
	if c, err := s.AuditChunk(ctx, "r2", 1, 5); err != nil || c != nil {
		t.Fatalf("no such chunk: %+v %v", c, err)
	}

	rows := []pipeline.AuditIndexRow{{FirstKey: -1 << 62, Entries: []byte("low")}, {FirstKey: 10, Entries: []byte("mid")}, {FirstKey: 1 << 62, Entries: []byte("high")}}
	if err := s.PutAuditIndex(ctx, "r2", rows); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  int64
		want string
	}{{-1 << 63, ""}, {-1 << 62, "low"}, {9, "low"}, {10, "mid"}, {1<<62 - 1, "mid"}, {1<<63 - 1, "high"}} {
		r, err := s.AuditIndexRow(ctx, "r2", tc.key)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r != nil {
			got = string(r.Entries)
		}
		if got != tc.want {
			t.Errorf("index row at or below %d: %q, want %q", tc.key, got, tc.want)
		}
	}
	if r, err := s.AuditIndexRow(ctx, "r1", 10); err != nil || r != nil {
		t.Fatalf("another run's index: %+v %v", r, err)
	}
}
