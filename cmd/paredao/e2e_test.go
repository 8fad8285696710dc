package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paredao/paredao/load"
)

// binary is the paredao binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paredao-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "paredao")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput() //nolint:gosec // G204: builds this package into the test's own temporary directory
	if err != nil {
		fmt.Fprintf(os.Stderr, "build paredao: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "remove the test binary: %v\n", err)
	}
	os.Exit(code)
}

// closeQuiet closes c where its error tells the test nothing: a response
// body it has read or does not need, a listener taken only for its port, a
// socket or file it is done with. Where a Close can lose what the test
// checks, closeOK checks it.
func closeQuiet(c io.Closer) { _ = c.Close() }

// metricsShow is a waitFor condition: the admin listener's metrics hold
// every one of lines.
func metricsShow(admin string, lines ...string) func() (bool, string) {
	return func() (bool, string) {
		resp, err := http.Get(admin + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer closeQuiet(resp.Body)
		b, _ := io.ReadAll(resp.Body)
		for _, l := range lines {
			if !strings.Contains(string(b), l) {
				return false, "no " + l
			}
		}
		return true, ""
	}
}

// closeOK closes c and fails the test on an error.
func closeOK(t testing.TB, c io.Closer) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuiet(l)
	return l.Addr().String()
}

// proc is a paredao process started by a test.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	http   string // base URL of the public listener ("" if none)
	admin  string // base URL of the admin listener
	stdout *strings.Builder
	logs   string
	done   chan error
	mu     sync.Mutex
}

// start runs `paredao args...` with env on free ports and waits for /readyz.
func start(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	return startArgv(t, env, append([]string{binary}, args...))
}

// startArgv runs argv (the binary, maybe behind a wrapper such as prlimit)
// with env on free ports and waits for /readyz.
func startArgv(t *testing.T, env map[string]string, argv []string) *proc {
	t.Helper()
	args := argv[1:]
	p := &proc{t: t, stdout: &strings.Builder{}, done: make(chan error, 1)}
	if env["PAREDAO_HTTP_ADDR"] == "" {
		env["PAREDAO_HTTP_ADDR"] = freeAddr(t)
	}
	if env["PAREDAO_ADMIN_ADDR"] == "" {
		env["PAREDAO_ADMIN_ADDR"] = freeAddr(t)
	}
	p.http = "http://" + env["PAREDAO_HTTP_ADDR"]
	p.admin = "http://" + env["PAREDAO_ADMIN_ADDR"]
	p.cmd = exec.Command(argv[0], args...) //nolint:gosec // G204: runs the paredao binary TestMain built (maybe behind prlimit), with the test's arguments
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.logs = filepath.Join(t.TempDir(), "stderr.log")
	logf, err := os.Create(p.logs)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = logf
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { p.done <- p.cmd.Wait(); closeQuiet(logf) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // fails only if it exited already; p.done has its exit either way
		err := <-p.done
		if t.Failed() {
			b, _ := os.ReadFile(p.logs)
			t.Logf("%s (exit: %v) logs:\n%s", strings.Join(args, " "), err, tail(string(b), 4000))
		}
	})
	p.waitReady(60 * time.Second)
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			b, _ := os.ReadFile(p.logs)
			p.t.Fatalf("process exited before ready: %v\n%s", err, tail(string(b), 4000))
		default:
		}
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(p.admin + "/readyz")
		if err == nil {
			closeQuiet(resp.Body)
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("not ready after %v", timeout)
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Logf("SIGTERM: %v", err) // it exited already: p.done says how
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			b, _ := os.ReadFile(p.logs)
			p.t.Fatalf("exit after SIGTERM: %v\n%s", err, tail(string(b), 4000))
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("no exit 30 s after SIGTERM")
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuiet(resp.Body)
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

type standings struct {
	ParedaoID    string    `json:"paredaoId"`
	Status       string    `json:"status"`
	AsOf         time.Time `json:"asOf"`
	Participants []struct {
		ID      string  `json:"id"`
		Percent float64 `json:"percent"`
	} `json:"participants"`
}

func (s standings) percents() map[string]float64 {
	m := map[string]float64{}
	for _, p := range s.Participants {
		m[p.ID] = p.Percent
	}
	return m
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

// castAll casts plan[participant] votes concurrently from voters voters and
// returns how many got 202 per participant.
func castAll(t *testing.T, base string, plan map[string]int, voters int) map[string]int {
	t.Helper()
	var jobs []string
	for p, n := range plan {
		for range n {
			jobs = append(jobs, p)
		}
	}
	acked := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	per := (len(jobs) + voters - 1) / voters
	for v := range voters {
		lo, hi := v*per, min((v+1)*per, len(jobs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(mine []string) {
			defer wg.Done()
			c := load.NewVoter(base, nil)
			for _, participant := range mine {
				out, err := c.Cast(context.Background(), "demo", participant, 30*time.Second)
				if err != nil || out.Status != http.StatusAccepted {
					t.Errorf("vote for %s: status %d, codes %v, err %v, reply %+v", participant, out.Status, out.Codes, err, out.Reply)
					return
				}
				mu.Lock()
				acked[participant]++
				mu.Unlock()
			}
		}(jobs[lo:hi])
	}
	wg.Wait()
	return acked
}
