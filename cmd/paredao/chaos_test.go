package main

import (
	"context"
	"fmt"
	"github.com/paredao/paredao/load"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cluster is a multi-process Paredão on loopback: one broker, web replicas,
// process replicas and a sink, as operators run it.
type cluster struct {
	t      *testing.T
	dir    string
	common map[string]string
	broker *proc
	webs   []*proc
	procs  map[string]*proc
	sink   *proc
}

const chaosToken = "chaos-production-token"

func newCluster(t *testing.T, partitions int) *cluster {
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, procs: map[string]*proc{}, common: map[string]string{
		"PAREDAO_KAFKA_BROKERS":    freeAddr(t),
		"PAREDAO_SECRET":           "chaos-secret-0123456789abcdef0123456789",
		"PAREDAO_PRODUCTION_TOKEN": chaosToken,
		"PAREDAO_POW_MAX_NUMBER":   "100",
		"PAREDAO_POW_MAX_LEVEL":    "0", // the load is all loopback: a fixed difficulty
		"PAREDAO_PARTITIONS":       strconv.Itoa(partitions),
		"PAREDAO_REPLICATION":      "1",
		"PAREDAO_DATABASE_URL":     "sqlite:" + filepath.Join(dir, "paredao.db"),
		"PAREDAO_LOG_LEVEL":        "info",
		"PAREDAO_EMIT_TIMEOUT":     "2s",
		// Every voter comes from loopback; the load mints one every 5 votes.
		"PAREDAO_ADDRESS_COOKIES_PER_MINUTE": "0",
	}}
	c.broker = c.start("broker", "broker")
	c.sink = c.start("sink", "sink")
	c.procs["p1"] = c.start("p1", "process")
	c.procs["p2"] = c.start("p2", "process")
	c.webs = []*proc{c.start("web1", "web"), c.start("web2", "web")}
	return c
}

// env of one member; each keeps its own data dir (processor state).
func (c *cluster) env(name string) map[string]string {
	env := map[string]string{"PAREDAO_DATA_DIR": filepath.Join(c.dir, name)}
	for k, v := range c.common {
		env[k] = v
	}
	if name == "broker" {
		env["PAREDAO_BROKER_ADDR"] = c.common["PAREDAO_KAFKA_BROKERS"]
		delete(env, "PAREDAO_KAFKA_BROKERS")
	}
	return env
}

func (c *cluster) start(name, command string) *proc {
	env := c.env(name)
	if name == "web1" || name == "web2" {
		// A web replica keeps its address across restarts: clients retry it.
		if addr := c.common["addr-"+name]; addr != "" {
			env["PAREDAO_HTTP_ADDR"] = addr
		}
	}
	p := start(c.t, env, command)
	if name == "web1" || name == "web2" {
		c.common["addr-"+name] = p.http[len("http://"):]
	}
	return p
}

// kill SIGKILLs p and waits for it to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill() // fails only if it exited already; p.done has its exit either way
	err := <-p.done
	p.done <- err
}

func (c *cluster) urls() []string { return []string{c.webs[0].http, c.webs[1].http} }

// chaosStats is what one scenario prints.
type chaosStats struct {
	acked, counted map[string]int64
	inDoubt        int64
	unavailable    int64
	replaysSent    int64
	replaysRefused int64
	replaysAcked   int64
	recoveries     []string
}

// Every acknowledged vote is counted exactly once while processes are
// killed, the broker restarts, processors rebalance and proofs of work are
// replayed across web replicas.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos runs real processes for minutes")
	}
	runs := 1
	if os.Getenv("CI") != "" {
		runs = 5
	}
	if v := os.Getenv("PAREDAO_CHAOS_RUNS"); v != "" {
		runs, _ = strconv.Atoi(v)
	}
	for i := range runs {
		seed := uint64(time.Now().UnixNano()) + uint64(i)
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { chaosScenario(t, seed) })
	}
}

func chaosScenario(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := newCluster(t, 6)
	stats := chaosStats{}
	const loadFor = 40 * time.Second

	ctx := context.Background()
	cfg := &load.Settings{URLs: c.urls(), Paredao: "demo", Duration: loadFor, Rate: 150, Connections: 8,
		VotesPerVoter: 5, Token: chaosToken, Verify: true, VerifyTimeout: 90 * time.Second, RetryFor: 90 * time.Second}
	var captured []load.Vote
	var capMu sync.Mutex
	cfg.Capture = func(v load.Vote) {
		capMu.Lock()
		if len(captured) < 200 {
			captured = append(captured, v)
		}
		capMu.Unlock()
	}
	type outcome struct {
		res *load.Result
		err error
	}
	loadDone := make(chan outcome, 1)
	go func() {
		res, err := load.Run(ctx, cfg, nil)
		loadDone <- outcome{res, err}
	}()

	sleep := func(lo, hi time.Duration) { time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)))) }
	recover := func(what string, restart func() *proc) *proc {
		start := time.Now()
		p := restart()
		stats.recoveries = append(stats.recoveries, fmt.Sprintf("%s %v", what, time.Since(start).Round(10*time.Millisecond)))
		return p
	}

	// 1. SIGKILL processors at random moments and restart them.
	for range 2 {
		sleep(2*time.Second, 4*time.Second)
		name := []string{"p1", "p2"}[rng.IntN(2)]
		c.procs[name].kill()
		sleep(200*time.Millisecond, time.Second)
		c.procs[name] = recover("process "+name+" after SIGKILL", func() *proc { return c.start(name, "process") })
	}
	// 2. SIGKILL a web replica: what it acknowledged counts; clients retry the rest.
	sleep(time.Second, 3*time.Second)
	w := rng.IntN(2)
	c.webs[w].kill()
	sleep(200*time.Millisecond, time.Second)
	c.webs[w] = recover(fmt.Sprintf("web%d after SIGKILL", w+1), func() *proc { return c.start(fmt.Sprintf("web%d", w+1), "web") })
	// 3. Stop and restart the broker: votes in the gap get 503, none is lost.
	sleep(time.Second, 3*time.Second)
	c.broker.stop()
	sleep(time.Second, 3*time.Second)
	c.broker = recover("broker after stop", func() *proc { return c.start("broker", "broker") })
	// 4. A third processor joins mid-load (rebalance), then leaves.
	sleep(time.Second, 2*time.Second)
	c.procs["p3"] = recover("process p3 joining", func() *proc { return c.start("p3", "process") })
	sleep(2*time.Second, 4*time.Second)
	c.procs["p3"].stop()
	// 5. Replay captured proofs of work, concurrently, across both replicas.
	capMu.Lock()
	replays := append([]load.Vote(nil), captured...)
	capMu.Unlock()
	var wg sync.WaitGroup
	var refused, acked, sent atomic.Int64
	for i, v := range replays {
		for _, url := range c.urls() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := load.NewVoter(url, nil)
				client.SetCookie(v.Cookie)
				st, _, _, err := client.Post(ctx, "demo", v.Participant, v.Payload)
				sent.Add(1)
				switch {
				case err != nil:
				case st == http.StatusConflict || st == http.StatusForbidden:
					refused.Add(1)
				case st == http.StatusAccepted:
					acked.Add(1)
				}
			}()
		}
		_ = i
	}
	wg.Wait()
	stats.replaysSent, stats.replaysRefused, stats.replaysAcked = sent.Load(), refused.Load(), acked.Load()

	out := <-loadDone
	if out.err != nil {
		t.Fatal(out.err)
	}
	res := out.res
	stats.acked, stats.counted, stats.inDoubt = res.Acknowledged, res.Counted, res.InDoubt
	stats.unavailable = res.Statuses[http.StatusServiceUnavailable] + res.Statuses[0]
	t.Logf("seed %d: acknowledged %v (%d votes), counted %v, in doubt %d, 503s/no answer %d, replays sent %d refused %d acknowledged-and-dropped %d, recoveries %v",
		seed, stats.acked, res.AckTotal, stats.counted, stats.inDoubt, stats.unavailable, stats.replaysSent, stats.replaysRefused, stats.replaysAcked, stats.recoveries)
	if res.AckTotal < 500 {
		t.Errorf("only %d votes acknowledged: the load did not run", res.AckTotal)
	}
	if stats.inDoubt != 0 {
		t.Errorf("%d votes stayed in doubt", stats.inDoubt)
	}
	if !res.CountedOK {
		t.Fatalf("acknowledged %v != counted %v", res.Acknowledged, res.Counted)
	}
}
