package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile splits a Dockerfile into stages. It knows what this
// Dockerfile uses: comments, parser directives, backslash continuations.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // opened read-only: nothing to lose
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			s := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

// shellWords splits a shell command line into words, removing quotes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// goBuild is one `go build` command: its environment assignments, flags,
// output and package.
type goBuild struct {
	env    map[string]string
	flags  []string
	output string
	pkg    string
}

// findGoBuild finds the `go build` in a shell command line.
func findGoBuild(cmdline string) (goBuild, bool) {
	words := shellWords(cmdline)
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "go" || words[i+1] != "build" {
			continue
		}
		b := goBuild{env: map[string]string{}}
		// VAR=value words right before `go`
		for j := i - 1; j >= 0; j-- {
			k, v, ok := strings.Cut(words[j], "=")
			if !ok || strings.HasPrefix(k, "-") || k != strings.ToUpper(k) {
				break
			}
			b.env[k] = v
		}
		rest := words[i+2:]
		for j := 0; j < len(rest); j++ {
			switch w := rest[j]; {
			case w == "-o" && j+1 < len(rest):
				b.output = rest[j+1]
				j++
			case strings.HasPrefix(w, "-"):
				b.flags = append(b.flags, w)
			case w == "&&" || w == ";" || w == "|":
				return b, true
			default:
				b.pkg = w
			}
		}
		return b, true
	}
	return goBuild{}, false
}

// mainGoVersion is the go directive of the main module, major.minor.
func mainGoVersion(t *testing.T) string {
	raw, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("../go.mod has no go directive")
	}
	return string(m[1])
}

// TestDockerfile: a golang build stage, a distroless final stage that runs as
// non-root and starts the binary, and the build flags of `make image-binary`.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("want a build stage and a final stage, got %d stages", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// Build stage.
	if want := "golang:" + mainGoVersion(t); build.from != want && !strings.HasPrefix(build.from, want+"-") && !strings.HasPrefix(build.from, want+".") {
		t.Errorf("build stage FROM %s, want %s (the go directive of ../go.mod)", build.from, want)
	}
	if build.name == "" {
		t.Fatal("build stage has no name (FROM ... AS build)")
	}
	var gb goBuild
	var found bool
	for _, in := range build.ins {
		if in.cmd == "RUN" {
			if b, ok := findGoBuild(in.args); ok {
				gb, found = b, true
			}
		}
	}
	if !found {
		t.Fatal("no RUN ... go build in the build stage")
	}
	if gb.env["CGO_ENABLED"] != "0" {
		t.Errorf("go build without CGO_ENABLED=0: the binary would need libc, which distroless/static lacks")
	}
	if gb.pkg != "./cmd/paredao" {
		t.Errorf("go build builds %q, want ./cmd/paredao", gb.pkg)
	}
	for _, f := range []string{"-trimpath", "-ldflags=-s -w"} {
		if !slices.Contains(gb.flags, f) {
			t.Errorf("go build flags %q lack %q", gb.flags, f)
		}
	}

	// Final stage.
	if !strings.Contains(final.from, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static", final.from)
	}
	var user, entrypoint string
	var copied []string
	var exposed []string
	for _, in := range final.ins {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			w := strings.Fields(in.args)
			if slices.Contains(w, "--from="+build.name) {
				copied = append(copied, w[len(w)-2]+" "+w[len(w)-1])
			}
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "HEALTHCHECK":
			if strings.TrimSpace(in.args) != "NONE" {
				t.Errorf("HEALTHCHECK %s: distroless has no shell or curl; health is checked by Kubernetes probes", in.args)
			}
		case "RUN":
			t.Errorf("RUN in the final stage: distroless has no shell")
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u != "65532" && u != "nonroot" {
		t.Errorf("final stage USER %q, want 65532 or nonroot", user)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 {
		t.Fatalf("ENTRYPOINT %q is not in exec form", entrypoint)
	}
	if !slices.Contains(copied, gb.output+" "+ep[0]) {
		t.Errorf("ENTRYPOINT %s is not the binary the build stage wrote to %s (copied: %v)", ep[0], gb.output, copied)
	}
	for _, p := range []string{"8080", "9090"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE lacks %s (got %v)", p, exposed)
		}
	}

	// The same flags in deploy/build.mk.
	mk := makeTarget(t, "build.mk", "image-binary")
	var mb goBuild
	found = false
	for _, line := range mk {
		if b, ok := findGoBuild(line); ok {
			mb, found = b, true
		}
	}
	if !found {
		t.Fatal("build.mk: image-binary has no go build")
	}
	if !slices.Equal(mb.flags, gb.flags) || mb.env["CGO_ENABLED"] != gb.env["CGO_ENABLED"] || mb.pkg != gb.pkg {
		t.Errorf("build.mk image-binary builds with %v %v %s, the Dockerfile with %v %v %s", mb.env, mb.flags, mb.pkg, gb.env, gb.flags, gb.pkg)
	}
	if mb.env["GOOS"] != "linux" || mb.env["GOARCH"] != "amd64" || !strings.HasSuffix(mb.output, "paredao-linux-amd64") {
		t.Errorf("build.mk image-binary: GOOS=%s GOARCH=%s -o %s, want linux, amd64, .../paredao-linux-amd64", mb.env["GOOS"], mb.env["GOARCH"], mb.output)
	}
	img := strings.Join(makeTarget(t, "build.mk", "image"), "\n")
	if !strings.Contains(img, "docker build -f deploy/Dockerfile") || !strings.HasSuffix(strings.TrimSpace(img), " .") {
		t.Errorf("build.mk image: %q, want docker build -f deploy/Dockerfile ... .", img)
	}
}

// makeTarget returns the recipe lines of target in a Makefile.
func makeTarget(t *testing.T, path, target string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(l, target+":"):
			in = true
		case in && strings.HasPrefix(l, "\t"):
			lines = append(lines, strings.TrimPrefix(l, "\t"))
		case in && strings.TrimSpace(l) == "":
		default:
			in = false
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no recipe for %s", path, target)
	}
	return lines
}

// TestBuildMakefile runs make's dry run on the fragment as the top-level
// Makefile includes it, so its syntax and variables are checked by make.
func TestBuildMakefile(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	out, err := exec.Command("make", "-n", "-C", "..", "-f", "deploy/build.mk", "image-binary", "image", "BIN_DIR=/nonexistent/bin", "IMAGE=paredao:test").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n: %v\n%s", err, out)
	}
	want := []string{
		`CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags="-s -w" -o /nonexistent/bin/paredao-linux-amd64 ./cmd/paredao`,
		`docker build -f deploy/Dockerfile -t paredao:test .`,
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("make -n output lacks %q:\n%s", w, out)
		}
	}
}
