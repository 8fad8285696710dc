// Package load votes against a running Paredão through its public API, as
// real voters do (cookie, proof of work, a vote, retries of a vote whose
// outcome is unknown with the same proof of work), and checks that the
// production report counts exactly what was acknowledged.
package load

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// Settings is the configuration of `paredao load`.
type Settings struct {
	URLs          []string
	Paredao       string
	Duration      time.Duration
	Rate          float64 // votes per second over all workers; 0 = as fast as possible
	Connections   int
	Split         map[string]int
	VotesPerVoter int
	Token         string
	Verify        bool
	VerifyTimeout time.Duration
	RetryFor      time.Duration
	JSON          bool
	ServerPID     int
	Baseline      time.Duration
	// Tireless: each connection is one voter who never stops (no new
	// cookie every VotesPerVoter votes): the costliest voter the system has.
	Tireless bool
	// Kafka: the brokers, to count the records written per vote (the sum
	// of every topic's high watermarks, before and after).
	Kafka []string
	// Phases run one after the other by Main: max (as fast as possible),
	// p80 (80 % of the first phase's rate, for its latency), tireless (as
	// fast as possible, tireless voters). Empty: one run as configured.
	Phases []string
	// Idle measures the server's CPU this long before the first phase.
	Idle time.Duration
	// CPUProfile: write the generator's own CPU profile there.
	CPUProfile string
	// ExactRate keeps Rate exactly (the p80 phase); the default ticker
	// under-delivers high rates (the fault and chaos suites' pace).
	ExactRate bool
	// Audience: every new voter is a new client with its own connection,
	// left open after its last vote (a phone going quiet): the server must
	// bound its connections, not the generator.
	Audience bool
	// Voters: stop once this many distinct voters started (0: the
	// duration alone ends the run).
	Voters int

	Capture func(Vote) // sees every acknowledged vote (tests replay them)
}

// Vote is an acknowledged vote as its voter sent it.
type Vote struct {
	Cookie, Participant, Payload string
	// VoteID and AcceptedAt are the receipt's vote id and acceptance time
	// (the vote's event time); empty when a retry found the vote already
	// recorded (409 challenge_used carries no receipt).
	VoteID     string
	AcceptedAt time.Time
}

func ParseConfig(args []string, env func(string) string, out io.Writer) (*Settings, error) {
	fs := flag.NewFlagSet("paredao load", flag.ContinueOnError)
	fs.SetOutput(out)
	def := func(name, d string) string {
		if v := env(envName(name)); v != "" {
			return v
		}
		return d
	}
	urls := fs.String("url", "http://127.0.0.1:8080", "comma-separated base URLs of web replicas (round robin) ($PAREDAO_URL)")
	paredao := fs.String("paredao", "", "paredão to vote in (default: the first open one)")
	duration := fs.Duration("duration", 10*time.Second, "how long to vote")
	rate := fs.Float64("rate", 0, "target votes per second over all connections; 0 = as fast as possible")
	conns := fs.Int("connections", 32, "concurrent voters (connections)")
	split := fs.String("split", "", "participant shares, e.g. ana=50,bruno=30,carla=20 (default: even)")
	perVoter := fs.Int("votes-per-voter", 5, "votes before a connection becomes a new voter (new cookie); keep under the per-voter cap")
	token := fs.String("token", def("production-token", ""), "production token, to verify the count ($PAREDAO_TOKEN, or $PAREDAO_PRODUCTION_TOKEN)")
	verify := fs.Bool("verify", true, "wait until the production report counts what was acknowledged")
	verifyTimeout := fs.Duration("verify-timeout", 2*time.Minute, "how long to wait for the count")
	retryFor := fs.Duration("retry-for", 90*time.Second, "how long to resend a vote whose outcome is unknown (503 or no answer)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	serverPID := fs.Int("server-pid", 0, "pid of the server process on this machine: report its CPU per vote and its memory")
	baseline := fs.Duration("baseline", 0, "first measure a bare net/http handler on loopback this long with the same connections, for the ratio")
	tireless := fs.Bool("tireless", false, "each connection is one voter that never stops (default: a population, a new voter every --votes-per-voter votes)")
	kafka := fs.String("kafka", "", "comma-separated Kafka brokers: report the records written per vote")
	phases := fs.String("phases", "", "comma-separated phases, run in turn: max, p80 (80 % of the first phase's rate), tireless")
	idle := fs.Duration("idle", 0, "first measure the server's CPU (--server-pid) this long while nobody votes")
	cpuProfile := fs.String("cpuprofile", "", "write this generator's CPU profile to the file")
	audience := fs.Bool("audience", false, "every new voter is a new client with its own connection, left open after its last vote")
	voters := fs.Int("voters", 0, "stop once this many distinct voters started (0: --duration alone)")
	// Every flag also reads PAREDAO_<FLAG>; flags on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := env(envName(f.Name)); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("load: $%s: %w", envName(f.Name), err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg := &Settings{URLs: splitList(*urls), Paredao: *paredao, Duration: *duration, Rate: *rate, Connections: *conns,
		VotesPerVoter: *perVoter, Token: *token, Verify: *verify, VerifyTimeout: *verifyTimeout, RetryFor: *retryFor, JSON: *asJSON, ServerPID: *serverPID, Baseline: *baseline,
		Tireless: *tireless, Kafka: splitList(*kafka), Phases: splitList(*phases), Idle: *idle, CPUProfile: *cpuProfile, Audience: *audience, Voters: *voters}
	for _, ph := range cfg.Phases {
		if ph != "max" && ph != "p80" && ph != "tireless" {
			return nil, fmt.Errorf("load: --phases: unknown phase %q (max, p80, tireless)", ph)
		}
	}
	if len(cfg.URLs) == 0 || cfg.Connections < 1 || cfg.Duration <= 0 || cfg.VotesPerVoter < 1 {
		return nil, errors.New("load: need --url, --connections ≥ 1, --duration > 0, --votes-per-voter ≥ 1")
	}
	if *split != "" {
		cfg.Split = map[string]int{}
		for _, part := range splitList(*split) {
			id, w, ok := strings.Cut(part, "=")
			n, err := strconv.Atoi(w)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("load: --split %q: want id=weight", part)
			}
			cfg.Split[id] = n
		}
	}
	if cfg.Verify && cfg.Token == "" {
		return nil, errors.New("load: --verify needs --token (or PAREDAO_PRODUCTION_TOKEN)")
	}
	return cfg, nil
}

// Result is what a load run measured.
type Result struct {
	Duration     time.Duration    `json:"duration"`
	Acknowledged map[string]int64 `json:"acknowledged"`
	AckTotal     int64            `json:"ackTotal"`
	InDoubt      int64            `json:"inDoubt"`
	Reconciled   int64            `json:"reconciled"`
	Statuses     map[int]int64    `json:"statuses"`
	VotesPerSec  float64          `json:"votesPerSecond"`
	P50          time.Duration    `json:"p50"`
	P90          time.Duration    `json:"p90"`
	P99          time.Duration    `json:"p99"`
	Max          time.Duration    `json:"max"`
	Counted      map[string]int64 `json:"counted,omitempty"`
	Phase        string           `json:"phase,omitempty"`
	BaselineRPS  float64          `json:"baselineRequestsPerSecond,omitempty"`
	CPUPerVote   time.Duration    `json:"serverCpuPerVote,omitempty"`
	ClientCPU    time.Duration    `json:"generatorCpuPerVote,omitempty"`
	RecordsPer   float64          `json:"kafkaRecordsPerVote,omitempty"`
	IdleCPU      float64          `json:"serverIdleCpuShare,omitempty"` // of one core
	RSSMinKiB    int64            `json:"rssMinAfterFirstMinuteKiB,omitempty"`
	RSSMaxKiB    int64            `json:"rssMaxAfterFirstMinuteKiB,omitempty"`
	RSSStartKiB  int64            `json:"rssStartKiB,omitempty"`
	RSSEndKiB    int64            `json:"rssEndKiB,omitempty"`
	CountedOK    bool             `json:"countedOk"`
	Errors       []string         `json:"errors,omitempty"`
}

// Main is `paredao load`: parse, run, print, and fail when the count
// differs from what was acknowledged.
func Main(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) (err error) {
	cfg, err := ParseConfig(args, env, stderr)
	if err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer func() { // after StopCPUProfile (deferred later, run first) wrote the profile
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("load: %w", cerr)
			}
		}()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	results, err := RunPhases(ctx, cfg, stderr)
	for _, res := range results {
		var werr error
		if cfg.JSON {
			werr = json.NewEncoder(stdout).Encode(res)
		} else {
			werr = Print(stdout, res)
		}
		if werr != nil {
			return fmt.Errorf("load: writing the result: %w", werr)
		}
	}
	if err != nil {
		return err
	}
	for _, res := range results {
		if cfg.Verify && !res.CountedOK {
			return fmt.Errorf("load: phase %s: acknowledged %v, counted %v", res.Phase, res.Acknowledged, res.Counted)
		}
	}
	return nil
}

// RunPhases runs cfg.Phases in turn (one run as configured when there are
// none): the baseline and the idle measure before the first only.
func RunPhases(ctx context.Context, cfg *Settings, logw io.Writer) ([]*Result, error) {
	phases := cfg.Phases
	if len(phases) == 0 {
		phases = []string{""}
	}
	var idle float64
	if cfg.Idle > 0 && cfg.ServerPID > 0 {
		before, _ := procStats(cfg.ServerPID)
		time.Sleep(cfg.Idle)
		after, _ := procStats(cfg.ServerPID)
		idle = (after - before).Seconds() / cfg.Idle.Seconds()
	}
	var out []*Result
	var maxRate float64
	for i, ph := range phases {
		c := *cfg
		if i > 0 {
			c.Baseline = 0
		}
		switch ph {
		case "max":
			c.Rate, c.Tireless = 0, false
		case "p80":
			c.Rate, c.Tireless, c.ExactRate = 0.8*maxRate, false, true
		case "tireless":
			c.Rate, c.Tireless = 0, true
		}
		if logw != nil && ph != "" {
			_, _ = fmt.Fprintf(logw, "phase %s: rate %.0f votes/s (0: as fast as possible), tireless %v, %v\n", ph, c.Rate, c.Tireless, c.Duration)
		}
		res, err := Run(ctx, &c, logw)
		if err != nil {
			return out, err
		}
		res.Phase, res.IdleCPU = ph, idle
		if i == 0 {
			maxRate = res.VotesPerSec
		}
		out = append(out, res)
	}
	return out, nil
}

// envName is the environment variable of a flag: PAREDAO_<FLAG_IN_UPPER_SNAKE>.
func envName(flagName string) string {
	return "PAREDAO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// Print writes r for people, one measure a line.
func Print(w io.Writer, r *Result) error {
	var b strings.Builder
	if r.Phase != "" {
		fmt.Fprintf(&b, "phase         %s\n", r.Phase)
	}
	fmt.Fprintf(&b, "duration      %v\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "acknowledged  %d votes (%.0f votes/s)\n", r.AckTotal, r.VotesPerSec)
	fmt.Fprintf(&b, "latency       p50 %v  p90 %v  p99 %v  max %v\n", r.P50.Round(10*time.Microsecond), r.P90.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond))
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no-answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, r.Statuses[c]))
	}
	fmt.Fprintf(&b, "attempts      %s\n", strings.Join(parts, ", "))
	if r.BaselineRPS > 0 {
		fmt.Fprintf(&b, "baseline      bare net/http handler %.0f requests/s; votes/s ÷ baseline = %.2f\n", r.BaselineRPS, r.VotesPerSec/r.BaselineRPS)
	}
	if r.CPUPerVote > 0 {
		fmt.Fprintf(&b, "server        %v CPU per vote (%.2f CPU s per 1000 votes); RSS %d MiB at start, %d MiB at end\n",
			r.CPUPerVote.Round(100*time.Nanosecond), r.CPUPerVote.Seconds()*1000, r.RSSStartKiB/1024, r.RSSEndKiB/1024)
	}
	if r.ClientCPU > 0 {
		fmt.Fprintf(&b, "generator     %v CPU per vote (this process: HTTP client, proof of work, JSON)\n", r.ClientCPU.Round(100*time.Nanosecond))
	}
	if r.RSSMaxKiB > 0 {
		mid := float64(r.RSSMaxKiB+r.RSSMinKiB) / 2
		fmt.Fprintf(&b, "memory        RSS after the first minute between %d and %d MiB (±%.1f %%)\n", r.RSSMinKiB/1024, r.RSSMaxKiB/1024, 100*float64(r.RSSMaxKiB-r.RSSMinKiB)/2/mid)
	}
	if r.RecordsPer > 0 {
		fmt.Fprintf(&b, "kafka         %.2f records written per vote (every topic)\n", r.RecordsPer)
	}
	if r.IdleCPU > 0 {
		fmt.Fprintf(&b, "idle          server CPU while nobody voted: %.1f %% of a core\n", 100*r.IdleCPU)
	}
	fmt.Fprintf(&b, "in doubt      %d (gave up without an answer), reconciled %d\n", r.InDoubt, r.Reconciled)
	if r.Counted != nil {
		verdict := "acknowledged == counted"
		if !r.CountedOK {
			verdict = "acknowledged != counted"
		}
		fmt.Fprintf(&b, "per participant acknowledged %v counted %v: %s\n", r.Acknowledged, r.Counted, verdict)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error         %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Run votes for cfg.Duration and, with cfg.Verify, waits until the
// production report counted exactly what was acknowledged on top of what it
// counted before the run.
func Run(ctx context.Context, cfg *Settings, logw io.Writer) (*Result, error) {
	transport := &http.Transport{MaxIdleConns: cfg.Connections * 2, MaxIdleConnsPerHost: cfg.Connections * 2, IdleConnTimeout: time.Minute}
	base := cfg.URLs[0]
	if cfg.Paredao == "" {
		id, err := firstOpen(ctx, base, transport)
		if err != nil {
			return nil, err
		}
		cfg.Paredao = id
	}
	participants, err := participantsOf(ctx, base, cfg.Paredao, transport)
	if err != nil {
		return nil, err
	}
	wheel := splitWheel(participants, cfg.Split)
	var before map[string]int64
	if cfg.Verify {
		if before, err = reportCounts(ctx, base, cfg.Paredao, cfg.Token, transport); err != nil {
			return nil, err
		}
	}

	res := &Result{Acknowledged: map[string]int64{}, Statuses: map[int]int64{}}
	if cfg.Baseline > 0 {
		if res.BaselineRPS, err = bareBaseline(ctx, cfg.Connections, cfg.Baseline); err != nil {
			return nil, err
		}
	}
	var cpuStart time.Duration
	if cfg.ServerPID > 0 {
		cpuStart, res.RSSStartKiB = procStats(cfg.ServerPID)
	}
	ownStart, _ := procStats(os.Getpid())
	var recordsStart int64
	if len(cfg.Kafka) > 0 {
		if recordsStart, err = kafkaRecords(cfg.Kafka); err != nil {
			return nil, err
		}
	}
	// At a rate, a ticker paces the votes (it drops the ticks nobody waits
	// for, so a high rate is under-delivered); with ExactRate vote n goes
	// at start + n/rate instead: each worker takes the next slot and sleeps
	// until it.
	var pace <-chan time.Time
	if cfg.Rate > 0 && !cfg.ExactRate {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer t.Stop()
		pace = t.C
	}
	var slots, started atomic.Int64
	var slotStart time.Time
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	sampled := make(chan struct{})
	go func() { // the server's memory every 5 s after the first minute
		defer close(sampled)
		if cfg.ServerPID <= 0 {
			return
		}
		first := time.After(time.Minute)
		select {
		case <-runCtx.Done():
			return
		case <-first:
		}
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			if _, rss := procStats(cfg.ServerPID); rss > 0 {
				if res.RSSMinKiB == 0 || rss < res.RSSMinKiB {
					res.RSSMinKiB = rss
				}
				res.RSSMaxKiB = max(res.RSSMaxKiB, rss)
			}
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var mu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	slotStart = start
	for w := range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := cfg.URLs[w%len(cfg.URLs)]
			var c *Voter
			var local []time.Duration
			for i := 0; ; i++ {
				switch {
				case pace != nil:
					select {
					case <-runCtx.Done():
					case <-pace:
					}
				case cfg.Rate > 0:
					at := slotStart.Add(time.Duration(float64(slots.Add(1)-1) / cfg.Rate * float64(time.Second)))
					select {
					case <-runCtx.Done():
					case <-time.After(time.Until(at)):
					}
				}
				if runCtx.Err() != nil {
					break
				}
				if c == nil || (!cfg.Tireless && i%cfg.VotesPerVoter == 0) {
					if cfg.Voters > 0 && started.Add(1) > int64(cfg.Voters) {
						break
					}
					c = newVoter(cfg, url, transport)
				}
				participant := wheel[(w*7919+i)%len(wheel)]
				// The run's deadline stops new votes, never one in flight:
				// its outcome must be known.
				out, err := c.Cast(context.WithoutCancel(ctx), cfg.Paredao, participant, cfg.RetryFor)
				mu.Lock()
				for _, code := range out.Codes {
					res.Statuses[code]++
				}
				switch {
				case errors.Is(err, ErrInDoubt):
					res.InDoubt++
				case err != nil:
					if len(res.Errors) < 10 {
						res.Errors = append(res.Errors, err.Error())
					}
				case out.Status == http.StatusAccepted:
					res.Acknowledged[participant]++
					res.AckTotal++
					if cfg.Capture != nil {
						cfg.Capture(Vote{Cookie: c.Cookie(), Participant: participant, Payload: out.Payload,
							VoteID: out.Reply.Receipt.VoteID, AcceptedAt: out.Reply.Receipt.AcceptedAt})
					}
					if out.Reconciled {
						res.Reconciled++
					}
				}
				mu.Unlock()
				if err == nil && out.Status != 0 {
					local = append(local, out.Latency)
				}
				if out.Status == http.StatusTooManyRequests {
					c = newVoter(cfg, url, transport) // this voter is capped: become another
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	<-sampled
	res.Duration = time.Since(start)
	if ownEnd, _ := procStats(os.Getpid()); res.AckTotal > 0 {
		res.ClientCPU = (ownEnd - ownStart) / time.Duration(res.AckTotal)
	}
	if cfg.ServerPID > 0 {
		var cpuEnd time.Duration
		cpuEnd, res.RSSEndKiB = procStats(cfg.ServerPID)
		if res.AckTotal > 0 {
			res.CPUPerVote = (cpuEnd - cpuStart) / time.Duration(res.AckTotal)
		}
	}
	res.VotesPerSec = float64(res.AckTotal) / res.Duration.Seconds()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if n := len(latencies); n > 0 {
		res.P50, res.P90, res.P99, res.Max = latencies[n*50/100], latencies[n*90/100], latencies[min(n-1, n*99/100)], latencies[n-1]
	}
	if !cfg.Verify {
		return res, nil
	}
	defer func() {
		if len(cfg.Kafka) > 0 && res.AckTotal > 0 {
			if end, err := kafkaRecords(cfg.Kafka); err == nil {
				res.RecordsPer = float64(end-recordsStart) / float64(res.AckTotal)
			}
		}
	}()
	deadline := time.Now().Add(cfg.VerifyTimeout)
	for {
		after, err := reportCounts(ctx, base, cfg.Paredao, cfg.Token, transport)
		if err == nil {
			res.Counted = map[string]int64{}
			res.CountedOK = true
			for _, p := range participants {
				res.Counted[p] = after[p] - before[p]
				if res.Counted[p] != res.Acknowledged[p] {
					res.CountedOK = false
				}
			}
			if res.CountedOK {
				return res, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// newVoter is a new voter on the shared connections, or in an audience on
// a connection of its own that nobody closes: the previous voter's stays
// open until the server closes it.
func newVoter(cfg *Settings, url string, shared http.RoundTripper) *Voter {
	if !cfg.Audience {
		return NewVoter(url, shared)
	}
	return NewVoter(url, &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1})
}

// splitWheel lists participants as often as their weights (even by default).
func splitWheel(participants []string, split map[string]int) []string {
	var wheel []string
	for _, p := range participants {
		n := 1
		if split != nil {
			n = split[p]
		}
		for range n {
			wheel = append(wheel, p)
		}
	}
	return wheel
}

type paredaoInfo struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Participants []struct {
		ID string `json:"id"`
	} `json:"participants"`
}

func getDecoded(ctx context.Context, url, token string, transport http.RoundTripper, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // response body: read or abandoned, its Close error carries nothing
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func firstOpen(ctx context.Context, base string, transport http.RoundTripper) (string, error) {
	var list []paredaoInfo
	if err := getDecoded(ctx, base+"/api/v1/paredoes", "", transport, &list); err != nil {
		return "", err
	}
	for _, p := range list {
		if p.Status == "open" {
			return p.ID, nil
		}
	}
	return "", errors.New("load: no open paredão")
}

func participantsOf(ctx context.Context, base, id string, transport http.RoundTripper) ([]string, error) {
	var p paredaoInfo
	if err := getDecoded(ctx, base+"/api/v1/paredoes/"+id, "", transport, &p); err != nil {
		return nil, err
	}
	var out []string
	for _, x := range p.Participants {
		out = append(out, x.ID)
	}
	return out, nil
}

// reportCounts reads the production report's total per participant.
func reportCounts(ctx context.Context, base, id, token string, transport http.RoundTripper) (map[string]int64, error) {
	var rep struct {
		Participants []struct {
			ID    string `json:"id"`
			Votes int64  `json:"votes"`
		} `json:"participants"`
	}
	if err := getDecoded(ctx, base+"/api/v1/production/paredoes/"+id+"/report", token, transport, &rep); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, p := range rep.Participants {
		out[p.ID] = p.Votes
	}
	return out, nil
}

// procStats reads a process's CPU time (user + system) and resident memory
// from /proc (Linux).
func procStats(pid int) (cpu time.Duration, rssKiB int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 22 {
		return 0, 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	rssPages, _ := strconv.ParseInt(fields[21], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, rssPages * int64(os.Getpagesize()) / 1024
}

// bareBaseline measures what the same connections get from a bare net/http
// handler on loopback: the ceiling any handler can reach on this machine.
func bareBaseline(ctx context.Context, conns int, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	body := []byte(`{"ok":true}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body) // the client gone: nothing to do (the baseline counts answers it read)
	}), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	transport := &http.Transport{MaxIdleConnsPerHost: conns * 2}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				req, _ := http.NewRequestWithContext(runCtx, http.MethodPost, url, strings.NewReader(`{"participantId":"x"}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, rerr := io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close() // read to the end already; nothing to report
				if rerr == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	rps := float64(n.Load()) / time.Since(start).Seconds()
	transport.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		return 0, fmt.Errorf("baseline server: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return 0, fmt.Errorf("baseline server: %w", err)
	}
	return rps, nil
}

// kafkaRecords sums the high watermarks of every partition of every topic
// but Kafka's own: how many records were ever written.
func kafkaRecords(brokers []string) (int64, error) {
	sc := sarama.NewConfig()
	sc.ClientID = "paredao-load"
	cl, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return 0, fmt.Errorf("load: kafka: %w", err)
	}
	defer func() { _ = cl.Close() }() // a read-only metadata client: nothing to flush
	topics, err := cl.Topics()
	if err != nil {
		return 0, fmt.Errorf("load: kafka topics: %w", err)
	}
	var n int64
	for _, t := range topics {
		if strings.HasPrefix(t, "__") {
			continue
		}
		parts, err := cl.Partitions(t)
		if err != nil {
			return 0, fmt.Errorf("load: kafka %s: %w", t, err)
		}
		for _, p := range parts {
			off, err := cl.GetOffset(t, p, sarama.OffsetNewest)
			if err != nil {
				return 0, fmt.Errorf("load: kafka %s/%d: %w", t, p, err)
			}
			n += off
		}
	}
	return n, nil
}
