// Package deploy holds the tests of the container, Compose and Kubernetes
// files in this directory. It is its own module so that the main module does
// not carry the Kubernetes libraries; it reads the main module's source
// (../cmd/paredao/config.go) to learn what the binary accepts.
package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// configFile is where every flag of the binary is declared.
var configFile = filepath.Join("..", "cmd", "paredao", "config.go")

// binary is what the paredao binary accepts, read from its source.
type binary struct {
	env      map[string]bool // PAREDAO_* variables, one per flag
	commands []string        // run, broker, web, ...
}

var (
	binaryOnce sync.Once
	binaryInfo binary
	binaryErr  error
)

// knownBinary parses config.go: each `str(&field, "flag-name", ...)` call
// declares a flag whose environment variable is PAREDAO_<FLAG_IN_UPPER_SNAKE>
// (envName in config.go), and the `commands` table lists the commands.
func knownBinary(t *testing.T) binary {
	t.Helper()
	binaryOnce.Do(func() { binaryInfo, binaryErr = parseBinary(configFile) })
	if binaryErr != nil {
		t.Fatalf("read the binary's flags: %v", binaryErr)
	}
	return binaryInfo
}

func parseBinary(path string) (binary, error) {
	b := binary{env: map[string]bool{}}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return b, err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "str" && len(n.Args) >= 2 {
				if s, ok := stringLit(n.Args[1]); ok {
					b.env[envName(s)] = true
				}
			}
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if name.Name != "commands" || i >= len(n.Values) {
					continue
				}
				lit, ok := n.Values[i].(*ast.CompositeLit)
				if !ok {
					continue
				}
				for _, e := range lit.Elts {
					if row, ok := e.(*ast.CompositeLit); ok && len(row.Elts) > 0 {
						if s, ok := stringLit(row.Elts[0]); ok {
							b.commands = append(b.commands, s)
						}
					}
				}
			}
		}
		return true
	})
	return b, nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// envName mirrors envName in cmd/paredao/config.go.
func envName(flag string) string {
	return "PAREDAO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// topologyFile names the pipeline's topics and groups.
var topologyFile = filepath.Join("..", "pipeline", "topology.go")

// topology is what pipeline/topology.go declares.
type topology struct {
	streams, tables []string          // topic names
	groups          map[string]string // Go name -> group name
}

// readTopology parses pipeline/topology.go: constants of type goka.Stream,
// goka.Table and goka.Group, and variables goka.GroupTable(SomeGroup), whose
// topic goka names "<group>-table".
func readTopology(t *testing.T) topology {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), topologyFile, nil, 0)
	if err != nil {
		t.Fatalf("read the topology: %v", err)
	}
	top := topology{groups: map[string]string{}}
	var groupTables []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if i >= len(vs.Values) {
				continue
			}
			if sel, ok := vs.Type.(*ast.SelectorExpr); ok {
				if v, ok := stringLit(vs.Values[i]); ok {
					switch sel.Sel.Name {
					case "Stream":
						top.streams = append(top.streams, v)
					case "Table":
						top.tables = append(top.tables, v)
					case "Group":
						top.groups[id.Name] = v
					}
				}
			}
			if call, ok := vs.Values[i].(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "GroupTable" && len(call.Args) == 1 {
					if arg, ok := call.Args[0].(*ast.Ident); ok {
						groupTables = append(groupTables, arg.Name)
					}
				}
			}
		}
		return true
	})
	for _, g := range groupTables {
		name, ok := top.groups[g]
		if !ok {
			t.Fatalf("%s: GroupTable(%s) of an unknown group", topologyFile, g)
		}
		top.tables = append(top.tables, name+"-table")
	}
	if len(top.streams) < 3 || len(top.tables) < 3 || len(top.groups) < 2 {
		t.Fatalf("%s: found streams %v, tables %v, groups %v: has its shape changed?", topologyFile, top.streams, top.tables, top.groups)
	}
	return top
}

// TestBinaryFlagsAreRead guards the other tests: if config.go changed shape
// and the parser found nothing, every "name is known" check would fail for the
// wrong reason, or pass on an empty list.
func TestBinaryFlagsAreRead(t *testing.T) {
	b := knownBinary(t)
	for _, want := range []string{
		"PAREDAO_HTTP_ADDR", "PAREDAO_ADMIN_ADDR", "PAREDAO_DATA_DIR", "PAREDAO_KAFKA_BROKERS",
		"PAREDAO_DATABASE_URL", "PAREDAO_SECRET", "PAREDAO_PRODUCTION_TOKEN", "PAREDAO_PARTITIONS",
	} {
		if !b.env[want] {
			t.Errorf("%s not found among the flags of %s (found %d)", want, configFile, len(b.env))
		}
	}
	for _, want := range []string{"run", "web", "process", "sink", "migrate"} {
		if !slices.Contains(b.commands, want) {
			t.Errorf("command %q not found in %s (found %v)", want, configFile, b.commands)
		}
	}
}
