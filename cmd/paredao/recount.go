package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
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
	certificate    string
}

// envDefault reads a flag's default from its PAREDAO_ variable.
func envDefault(env func(string) string) func(name, fallback string) string {
	return func(name, fallback string) string {
		if v := env(envName(name)); v != "" {
			return v
		}
		return fallback
	}
}

// brokerFlags binds --kafka-brokers and --broker-addr; the function it
// returns lists the brokers once the flags are parsed.
func brokerFlags(fs *flag.FlagSet, def func(name, fallback string) string) func() []string {
	brokers := fs.String("kafka-brokers", def("kafka-brokers", ""), "comma-separated brokers; empty: the embedded broker at --broker-addr ($PAREDAO_KAFKA_BROKERS)")
	brokerAddr := fs.String("broker-addr", def("broker-addr", "127.0.0.1:9092"), "the embedded broker ($PAREDAO_BROKER_ADDR)")
	return func() []string {
		if list := splitList(*brokers); len(list) > 0 {
			return list
		}
		return []string{*brokerAddr}
	}
}

func parseRecount(args []string, env func(string) string, out io.Writer) (*recountSettings, error) {
	def := envDefault(env)
	fs := flag.NewFlagSet("paredao recount", flag.ContinueOnError)
	fs.SetOutput(out)
	paredao := fs.String("paredao", def("paredao", ""), "the paredão to recount ($PAREDAO_PAREDAO)")
	url := fs.String("url", def("url", "http://127.0.0.1:8080"), "base URL of the web tier, for the paredão and its production report ($PAREDAO_URL)")
	token := fs.String("token", def("token", def("production-token", "")), "production token ($PAREDAO_TOKEN, or $PAREDAO_PRODUCTION_TOKEN)")
	brokers := brokerFlags(fs, def)
	certificate := fs.String("certificate", def("certificate", ""), "where to write the certificate; empty: paredao-<ID>-certificate.json here ($PAREDAO_CERTIFICATE)")
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
	s := &recountSettings{paredao: *paredao, url: *url, token: *token, brokers: brokers(), votesPerMinute: perMinute,
		window: window, minutes: *minutes, certificate: *certificate}
	switch {
	case s.paredao == "":
		return nil, errors.New("recount: need --paredao")
	case s.token == "":
		return nil, errors.New("recount: need --token (or PAREDAO_PRODUCTION_TOKEN)")
	case s.votesPerMinute < 0 || s.window <= 0:
		return nil, errors.New("recount: --votes-per-minute ≥ 0 and --window > 0")
	}
	if s.certificate == "" {
		s.certificate = "paredao-" + s.paredao + "-certificate.json"
	}
	return s, nil
}

// runRecount recounts a paredão from the votes log, writes its certificate
// and compares with the production report: nil when equal, an exitError of
// status 1 with the table of differences on stdout when not, of status 2
// when it could not recount.
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
	progress := &output{w: stderr}
	res, err := audit.Recount(ctx, p, api, audit.Options{Brokers: s.brokers, VotesPerMinute: s.votesPerMinute,
		Window: s.window, Minutes: s.minutes, Progress: func(p audit.Progress) { progress.printf("%s\n", p) }})
	if err != nil {
		return &exitError{2, fmt.Errorf("recount: %w", err)}
	}
	out := &output{w: stdout}
	out.printf("cut (votes, per partition: log start, high watermark):")
	for _, pc := range res.Cut {
		out.printf(" %d:%d-%d", pc.Partition, pc.Earliest, pc.High)
	}
	out.printf("\n%s", res.Count.Summary())
	if err := writeCertificate(s.certificate, res.Certificate); err != nil {
		return &exitError{2, fmt.Errorf("recount: %w", err)}
	}
	m := res.Certificate.Merkle
	out.printf("certificate %s: counted root %s (%d votes), refused root %s (%d votes)\n", s.certificate, m.CountedRoot, m.Counted, m.RefusedRoot, m.Refused)
	if len(res.Diffs) == 0 {
		out.printf("equal to the production report\n")
		return out.failed("recount")
	}
	out.printf("%d differences with the production report:\n%s", len(res.Diffs), audit.FormatDiffs(res.Diffs))
	if err := out.failed("recount"); err != nil {
		return err
	}
	return &exitError{1, fmt.Errorf("recount: %d differences with the production report", len(res.Diffs))}
}

// output is a command's output: the first write error sticks, and failed
// turns it into the command's status 2 (a closed pipe, a full disk).
type output struct {
	w   io.Writer
	err error
}

func (o *output) printf(format string, a ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format, a...)
	}
}

func (o *output) failed(command string) error {
	if o.err != nil {
		return &exitError{2, fmt.Errorf("%s: output: %w", command, o.err)}
	}
	return nil
}

// writeCertificate writes cert as indented JSON, through a temporary file.
func writeCertificate(path string, cert *audit.Certificate) error {
	b, err := json.MarshalIndent(cert, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	return nil
}
