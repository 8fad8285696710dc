package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paredao/paredao/load"
)

// The audience soak: `paredao run` with 4,096 open files, a population of
// distinct clients each on a connection of its own left open after voting
// (phones going quiet), and more results streams than the cap. The process
// never exits, no processor or task fails, shedding shows in the metrics,
// and every acknowledged vote is counted exactly once.
// PAREDAO_SOAK_VOTERS sets the population (20,000 here; make soak: more).
func TestAudienceSoak(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("prlimit (util-linux) is needed in CI: %v", err)
		}
		t.Skip("no prlimit")
	}
	voters := 20000
	if v, err := strconv.Atoi(os.Getenv("PAREDAO_SOAK_VOTERS")); err == nil && v > 0 {
		voters = v
	}
	const (
		nofile     = 4096
		maxStreams = 40
		streams    = 60 // 20 beyond the cap
		token      = "soak-production-token"
	)
	env := runEnv(t, t.TempDir())
	for k, v := range map[string]string{
		"PAREDAO_POW_MAX_NUMBER":             "10",
		"PAREDAO_VOTES_PER_MINUTE":           "0",
		"PAREDAO_ADDRESS_VOTES_PER_MINUTE":   "0",
		"PAREDAO_ADDRESS_COOKIES_PER_MINUTE": "0", // every client comes from 127.0.0.1
		"PAREDAO_PRODUCTION_TOKEN":           token,
		"PAREDAO_MAX_STREAMS":                strconv.Itoa(maxStreams),
		"PAREDAO_ADDRESS_STREAMS":            "0",
		"PAREDAO_PARTITIONS":                 "12",
		"PAREDAO_LOG_LEVEL":                  "warn",
	} {
		env[k] = v
	}
	p := startArgv(t, env, []string{prlimit, "--nofile=" + strconv.Itoa(nofile), binary, "run"})

	// Results streams: the first maxStreams are served, the rest refused
	// with 503 and Retry-After; the served ones stay open through the run.
	var open, refused int
	for range streams {
		c, err := net.Dial("tcp", strings.TrimPrefix(p.http, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer closeQuiet(c)
		if _, err := fmt.Fprintf(c, "GET /api/v1/paredoes/demo/results/stream HTTP/1.1\r\nHost: soak\r\n\r\n"); err != nil {
			t.Fatalf("results stream: %v", err)
		}
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("results stream: %v", err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			open++
		case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
			refused++
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatalf("results stream refused: %v", err)
			}
		default:
			t.Fatalf("results stream: %s", resp.Status)
		}
	}
	if open != maxStreams || refused != streams-maxStreams {
		t.Fatalf("streams: %d served, %d refused; want %d and %d", open, refused, maxStreams, streams-maxStreams)
	}

	res, err := load.Run(context.Background(), &load.Settings{
		URLs: []string{p.http}, Paredao: "demo", Duration: 10 * time.Minute, Connections: 64,
		VotesPerVoter: 2, Voters: voters, Audience: true, Token: token,
		Verify: true, VerifyTimeout: 2 * time.Minute, RetryFor: time.Minute,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d voters: %d votes acknowledged in %v (%.0f/s), statuses %v, in doubt %d, errors %q",
		voters, res.AckTotal, res.Duration.Round(time.Millisecond), res.VotesPerSec, res.Statuses, res.InDoubt, res.Errors)
	select {
	case err := <-p.done:
		p.done <- err
		t.Fatalf("paredao run exited under the audience: %v", err)
	default:
	}
	if !res.CountedOK {
		t.Fatalf("acknowledged %v, counted %v", res.Acknowledged, res.Counted)
	}
	if min := int64(voters); res.AckTotal < min {
		t.Fatalf("%d votes acknowledged from %d voters: the audience was not served", res.AckTotal, voters)
	}

	metrics := scrapeMetrics(t, p.admin)
	if v := metrics[`paredao_http_connections_shed_total{reason="idle"}`]; v <= 0 {
		t.Errorf("no idle connection was shed: the budget was never reached (%v)", v)
	}
	if v := metrics[`paredao_http_streams_refused_total{cap="total"}`]; v != streams-maxStreams {
		t.Errorf("streams refused metric %v, want %d", v, streams-maxStreams)
	}
	if v, max := metrics["paredao_http_connections"], metrics["paredao_http_connections_max"]; v > max || max >= nofile {
		t.Errorf("connections %v of a budget of %v under %d open files", v, max, nofile)
	}
	for name, v := range metrics {
		if strings.HasPrefix(name, "paredao_task_restarts_total") && v > 0 {
			t.Errorf("%s = %v: a task failed under the audience", name, v)
		}
	}
	logs, _ := os.ReadFile(p.logs)
	for _, bad := range []string{"processor failed", "task failed", "too many open files"} {
		if strings.Contains(string(logs), bad) {
			t.Errorf("the logs say %q:\n%s", bad, tail(string(logs), 3000))
		}
	}
	p.waitReady(10 * time.Second)
	t.Logf("shed: %v idle connections closed, %v refused; budget %v",
		metrics[`paredao_http_connections_shed_total{reason="idle"}`], metrics[`paredao_http_connections_shed_total{reason="refused"}`], metrics["paredao_http_connections_max"])
}

// scrapeMetrics reads the admin listener's metrics: series → value.
func scrapeMetrics(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuiet(resp.Body)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
