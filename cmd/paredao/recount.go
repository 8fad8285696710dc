package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/paredao/paredao/audit"
)

// exitError carries a command's exit status (recount: 1 different, 2 could
// not recount).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process status for err: its exitError's, else 1.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// recountSettings are recount's flags.
type recountSettings struct {
	paredao        string
	url, token     string
	brokers        []string
	votesPerMinute int
	window         time.Duration
	minutes        bool
}

func parseRecount(args []string, env func(string) string, out io.Writer) (*recountSettings, error) {
	def := func(name, fallback string) string {
		if v := env(envName(name)); v != "" {
			return v
		}
		return fallback
	}
	fs := flag.NewFlagSet("paredao recount", flag.ContinueOnError)
	fs.SetOutput(out)
	paredao := fs.String("paredao", def("paredao", ""), "the paredão to recount ($PAREDAO_PAREDAO)")
	url := fs.String("url", def("url", "http://127.0.0.1:8080"), "base URL of the web tier, for the paredão and its production report ($PAREDAO_URL)")
	token := fs.String("token", def("token", def("production-token", "")), "production token ($PAREDAO_TOKEN, or $PAREDAO_PRODUCTION_TOKEN)")
	brokers := fs.String("kafka-brokers", def("kafka-brokers", ""), "comma-separated brokers; empty: the embedded broker at --broker-addr ($PAREDAO_KAFKA_BROKERS)")
	brokerAddr := fs.String("broker-addr", def("broker-addr", "127.0.0.1:9092"), "the embedded broker ($PAREDAO_BROKER_ADDR)")
	perMinute, err := strconv.Atoi(def("votes-per-minute", "10"))
	if err != nil {
		return nil, fmt.Errorf("recount: PAREDAO_VOTES_PER_MINUTE: %w", err)
	}
	window, err := time.ParseDuration(def("window", "1m"))
	if err != nil {
		return nil, fmt.Errorf("recount: PAREDAO_WINDOW: %w", err)
	}
	fs.IntVar(&perMinute, "votes-per-minute", perMinute, "the per-voter cap the pipeline ran with; 0 unlimited ($PAREDAO_VOTES_PER_MINUTE)")
	fs.DurationVar(&window, "window", window, "the pipeline's window ($PAREDAO_WINDOW)")
	byMinute, err := strconv.ParseBool(def("minutes", "true"))
	if err != nil {
		return nil, fmt.Errorf("recount: PAREDAO_MINUTES: %w", err)
	}
	minutes := fs.Bool("minutes", byMinute, "compare window by window too, when the paredão spans at most 31 days ($PAREDAO_MINUTES)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	s := &recountSettings{paredao: *paredao, url: *url, token: *token, votesPerMinute: perMinute, window: window, minutes: *minutes}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.brokers = append(s.brokers, b)
		}
	}
	if len(s.brokers) == 0 {
		s.brokers = []string{*brokerAddr}
	}
	switch {
	case s.paredao == "":
		return nil, errors.New("recount: need --paredao")
	case s.token == "":
		return nil, errors.New("recount: need --token (or PAREDAO_PRODUCTION_TOKEN)")
	case s.votesPerMinute < 0 || s.window <= 0:
		return nil, errors.New("recount: --votes-per-minute ≥ 0 and --window > 0")
	}
	return s, nil
}

// runRecount recounts a paredão from the votes log and compares with the
// production report: nil when equal, an exitError of status 1 with the
// table of differences on stdout when not, of status 2 when it could not
// recount.
func runRecount(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	s, err := parseRecount(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &exitError{2, err}
	}
	api := &audit.API{URL: s.url, Token: s.token}
	p, err := api.Paredao(ctx, s.paredao)
	if err != nil {
		return &exitError{2, fmt.Errorf("recount: %w", err)}
	}
	cut, err := audit.TakeCut(s.brokers)
	if err != nil {
		return &exitError{2, fmt.Errorf("recount: %w", err)}
	}
	fmt.Fprintf(stdout, "cut (votes, per partition: log start, high watermark):")
	for _, pc := range cut {
		fmt.Fprintf(stdout, " %d:%d-%d", pc.Partition, pc.Earliest, pc.High)
	}
	fmt.Fprintln(stdout)
	c := audit.NewCount(p, s.votesPerMinute, s.window)
	if err := audit.Read(ctx, s.brokers, cut, c, stderr); err != nil {
		return &exitError{2, fmt.Errorf("recount: %w", err)}
	}
	c.Print(stdout)
	from, to, minutes := c.MinutesSpan()
	minutes = minutes && s.minutes
	if !minutes {
		from = time.Time{}
	}
	rep, err := api.Report(ctx, p.ID, from, to)
	if err != nil {
		return &exitError{2, fmt.Errorf("recount: %w", err)}
	}
	diffs := c.Compare(rep, minutes)
	if len(diffs) == 0 {
		fmt.Fprintln(stdout, "equal to the production report")
		return nil
	}
	fmt.Fprintf(stdout, "%d differences with the production report:\n", len(diffs))
	audit.PrintDiffs(stdout, diffs)
	return &exitError{1, fmt.Errorf("recount: %d differences with the production report", len(diffs))}
}
