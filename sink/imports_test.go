package sink

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package's dependencies to what doc.go allows:
// pipeline, goka, pgx, the SQLite driver, Prometheus and the standard library;
// never http, views or processors.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/paredao/paredao/pipeline",
		"github.com/lovoo/goka",
		"github.com/jackc/pgx/v5",
		"modernc.org/sqlite",
		"github.com/prometheus/client_golang/prometheus",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(strings.Split(path, "/")[0], ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				ok = ok || path == a || strings.HasPrefix(path, a+"/")
			}
			if !ok {
				t.Errorf("%s imports %s; doc.go does not allow it", name, path)
			}
		}
	}
}
