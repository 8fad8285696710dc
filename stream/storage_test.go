package stream

import (
	"testing"

	"github.com/syndtr/goleveldb/leveldb/opt"
)

// The write-back store reads its own pending writes, writes them to
// goleveldb in batches, before an iteration and at Close, and a store
// opened again on the same directory finds them all.
func TestWriteBackStore(t *testing.T) {
	dir := t.TempDir()
	build := WriteBackBuilder(dir, &opt.Options{NoSync: true}, 3)
	st, err := build("guard-table", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	wb := st.(*writeBack)
	must(t, st.Set("a", []byte("1")))
	must(t, st.Set("b", []byte("2")))
	must(t, st.SetOffset(41))
	if v, _ := st.Get("a"); string(v) != "1" || len(wb.pending) != 2 {
		t.Fatalf("pending read %q, %d pending", v, len(wb.pending))
	}
	if ok, _ := st.Has("b"); !ok {
		t.Fatal("Has misses a pending write")
	}
	if off, _ := st.GetOffset(-2); off != 41 {
		t.Fatalf("offset %d, want the pending 41", off)
	}
	must(t, st.Delete("a"))
	if v, _ := st.Get("a"); v != nil {
		t.Fatalf("deleted key reads %q", v)
	}
	must(t, st.Set("c", []byte("3"))) // the third pending key: one batch
	if len(wb.pending) != 0 {
		t.Fatalf("%d pending after reaching the bound", len(wb.pending))
	}
	must(t, st.Set("d", []byte("4")))
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	it.Release()
	if want := []string{"b", "c", "d"}; len(keys) != len(want) || keys[0] != "b" || keys[1] != "c" || keys[2] != "d" {
		t.Fatalf("iterated %v, want %v", keys, want)
	}
	must(t, st.Set("e", []byte("5")))
	must(t, st.SetOffset(99))
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := build("guard-table", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := again.Close(); err != nil {
			t.Error(err)
		}
	}()
	for k, want := range map[string]string{"a": "", "b": "2", "e": "5"} {
		if v, _ := again.Get(k); string(v) != want {
			t.Fatalf("reopened: %s = %q, want %q", k, v, want)
		}
	}
	if off, _ := again.GetOffset(-2); off != 99 {
		t.Fatalf("reopened offset %d, want 99", off)
	}
}

// must fails the test on a storage write's error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
