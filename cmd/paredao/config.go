package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	phttp "github.com/paredao/paredao/http"
)

// Config is the one typed configuration of every command: defaults, then
// PAREDAO_* environment variables, then flags, then Validate.
type Config struct {
	Command string

	HTTPAddr        string
	AdminAddr       string
	DataDir         string
	KafkaBrokers    []string
	BrokerAddr      string
	BrokerCount     int
	DatabaseURL     string
	Secret          string
	ProductionToken string
	PowMaxNumber    int64
	PowMaxLevel     int // adaptive difficulty: levels above the base, maxnumber × 4^level; 0 = fixed
	PowCookiePerMin int // challenges per minute per voter cookie before the first level
	PowPrefixPerMin int // challenges per minute per /24 or /64 before the first level
	VotesPerMinute  int
	AddressPerMin   int
	AddressCookies  int // new voter cookies per client address per minute; 0 = no cap
	Window          time.Duration
	Grace           time.Duration
	LateHorizon     time.Duration
	RollupAfter     time.Duration
	DailyRollup     time.Duration // hourly rows older than this are folded into UTC days; 0 = never
	Partitions      int
	Replication     int
	VotesRetention  time.Duration // of the votes stream; 0 = forever
	AuditDays       int           // a paredão's raw votes are kept at least this long after it closes
	Seed            string
	TrustedProxies  []netip.Prefix
	CookieSecure    string // auto, always or never
	Pprof           bool   // /debug/pprof on the admin listener
	EmitTimeout     time.Duration
	CloseLead       time.Duration
	Groups          []string
	LogLevel        string
	ShutdownTimeout time.Duration
	MaxConnections  int // public connections; 0 = from the open-files limit
	MaxStreams      int // results streams open at once; 0 = a quarter of the connections
	AddressStreams  int // results streams per client address; 0 = no cap

	// A hosted captcha on every vote besides the proof of work.
	Captcha        string // turnstile, hcaptcha or recaptcha; "" = none (ALTCHA only)
	CaptchaSiteKey string
	CaptchaSecret  string
	CaptchaVerify  string        // siteverify URL; "" = the provider's
	CaptchaTimeout time.Duration // how long a vote waits for siteverify

	finish   func() error // converts the parsed flag strings
	embedded bool         // no Kafka brokers configured: the embedded broker
}

// envName is the environment variable of a flag: PAREDAO_<FLAG_IN_UPPER_SNAKE>.
func envName(flagName string) string {
	return "PAREDAO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// commands lists what each command does, for --help.
var commands = []struct{ name, help string }{
	{"run", "everything in one process on the embedded broker and SQL store (default)"},
	{"broker", "only the embedded Kafka-protocol broker"},
	{"web", "the HTTP tier: pages, API, emitter, views"},
	{"process", "the goka processors (all groups, or --groups)"},
	{"sink", "the sink: closed windows into SQL"},
	{"migrate", "create or upgrade the SQL schema, then exit"},
	{"load", "the load generator"},
	{"recount", "recount a paredão from the votes log, compare with the report, write a certificate"},
	{"dump", "print a topic's records as JSON lines, values decoded (TOPIC [--from-beginning] [--exit])"},
	{"verify", "recompute a recount's certificate from the votes log: equal or not"},
}

// bind registers cfg's flags on fs for command, with defaults taken from env.
func (cfg *Config) bind(fs *flag.FlagSet, command string, env func(string) string) {
	str := func(p *string, name, def, usage string) {
		if v := env(envName(name)); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ($"+envName(name)+")")
	}
	var brokers, proxies, groups string
	var powMax, perMin, addrPerMin, partitions, replication, brokerCount string
	var window, grace, horizon, rollup, emitTimeout, closeLead, shutdown string
	str(&cfg.HTTPAddr, "http-addr", ":8080", "public listener (pages and API)")
	str(&cfg.AdminAddr, "admin-addr", "127.0.0.1:9090", "internal listener: /metrics, /healthz, /readyz (and /debug/pprof with --pprof)")
	var addrCookies, pprofOn string
	str(&pprofOn, "pprof", "false", "serve /debug/pprof on the admin listener (anyone who reaches it can profile the process)")
	str(&cfg.DataDir, "data-dir", "./data", "embedded broker log, processor state, embedded SQL file")
	str(&brokers, "kafka-brokers", "", "comma-separated Kafka brokers; empty means the embedded broker")
	str(&cfg.BrokerAddr, "broker-addr", "127.0.0.1:9092", "where the embedded broker listens (run and broker); broker i of --broker-count listens on port+i")
	str(&brokerCount, "broker-count", "1", "brokers in the embedded cluster (run and broker), e.g. 3 to run as a real cluster would")
	str(&cfg.DatabaseURL, "database-url", "", "postgres://… for PostgreSQL, sqlite:PATH for the embedded store (default sqlite:<data dir>/paredao.db)")
	str(&cfg.Secret, "secret", "", "key for signing challenges and voter cookies (≥ 32 bytes); run generates one in the data dir")
	str(&cfg.ProductionToken, "production-token", "", "bearer token of the production API; run generates one when unset, keeps it in the data dir and prints it")
	str(&powMax, "pow-max-number", "100000", "proof-of-work difficulty (ALTCHA maxnumber) at level 0")
	var powLevel, powCookie, powPrefix string
	str(&powLevel, "pow-max-level", "4", "adaptive difficulty: levels above the base (maxnumber × 4^level); 0 = fixed difficulty")
	str(&powCookie, "pow-cookie-per-minute", "30", "challenges per minute per voter cookie before the difficulty rises (×4 per 4× more); 0 = not counted")
	str(&powPrefix, "pow-prefix-per-minute", "1200", "challenges per minute per /24 (IPv4) or /64 (IPv6) before the difficulty rises; 0 = not counted")
	str(&perMin, "votes-per-minute", "10", "per-voter cap; 0 = unlimited")
	str(&addrPerMin, "address-votes-per-minute", "6000", "per-address ceiling on votes (challenges: twice that); 0 = unlimited")
	str(&addrCookies, "address-cookies-per-minute", "600", "new voter cookies per client address per minute (carrier NATs share addresses); 0 = no cap")
	str(&window, "window", "1m", "tumbling window size")
	str(&grace, "grace", "5s", "how long after its end a window is sent to the sink")
	str(&horizon, "late-horizon", "15m", "how long after its end a window stays open for late votes")
	str(&rollup, "rollup-after", "48h", "minute rows older than this are folded into hourly rows (0: never); keep it well above the late horizon")
	var dailyRollup string
	str(&dailyRollup, "daily-rollup-after", "720h", "hourly rows older than this are folded into UTC days (0: never); above --rollup-after")
	str(&partitions, "partitions", "12", "partitions of the topics it creates")
	str(&replication, "replication", "", "replication factor of the topics it creates (default 1 on the embedded broker, 3 otherwise)")
	var votesRetention, auditDays string
	str(&votesRetention, "votes-retention", "", "how long the votes stream keeps the raw votes (the log a recount reads); 0 = forever (default: --audit-days and a week)")
	str(&auditDays, "audit-days", "30", "days after a paredão closes that its raw votes stay recountable; a paredão too long for --votes-retention is refused")
	str(&cfg.Seed, "seed", "", "JSON file of paredões to create at start-up when the catalog is empty (default: the demo paredão)")
	str(&proxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For and X-Forwarded-Proto are believed")
	str(&cfg.CookieSecure, "cookie-secure", "auto", "voter cookie Secure: auto (over TLS, or X-Forwarded-Proto: https from a trusted proxy), always or never")
	str(&emitTimeout, "emit-timeout", "3s", "how long a vote waits for Kafka's acknowledgement before 503")
	str(&closeLead, "close-lead", "1s", "how far ahead 'close now' takes effect so every web replica knows first")
	str(&groups, "groups", "guard,tally", "processor groups to run (process)")
	str(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	str(&shutdown, "shutdown-timeout", "20s", "how long a graceful stop may take")
	var maxConns, maxStreams, addrStreams string
	str(&maxConns, "max-connections", "0", "public connections held at once (idle ones closed first near it, new ones answered 503 at it); 0 = the open-files limit less a reserve")
	str(&maxStreams, "max-streams", "0", "live results streams (SSE) at once; 0 = a quarter of the connections")
	var captchaTimeout string
	str(&cfg.Captcha, "captcha", "", "a hosted captcha checked on every vote besides the proof of work: turnstile, hcaptcha or recaptcha (v2); empty = ALTCHA only")
	str(&cfg.CaptchaSiteKey, "captcha-site-key", "", "the captcha's public site key (the page's widget)")
	str(&cfg.CaptchaSecret, "captcha-secret", "", "the captcha's siteverify secret")
	str(&cfg.CaptchaVerify, "captcha-verify-url", "", "the captcha's siteverify URL (default: the provider's own)")
	str(&captchaTimeout, "captcha-timeout", "3s", "how long a vote waits for siteverify before 503 (fail closed: nothing is written)")
	str(&addrStreams, "address-streams", "64", "live results streams per client address; 0 = no cap")
	cfg.Command = command
	cfg.finish = func() error {
		var errs []error
		num := func(name, s string, p *int) {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				errs = append(errs, fmt.Errorf("--%s: %q is not a whole number ≥ 0", name, s))
			}
			*p = v
		}
		dur := func(name, s string, p *time.Duration) {
			v, err := time.ParseDuration(s)
			if err != nil || v < 0 {
				errs = append(errs, fmt.Errorf("--%s: %q is not a duration", name, s))
			}
			*p = v
		}
		var pm int
		num("pow-max-number", powMax, &pm)
		cfg.PowMaxNumber = int64(pm)
		num("pow-max-level", powLevel, &cfg.PowMaxLevel)
		num("pow-cookie-per-minute", powCookie, &cfg.PowCookiePerMin)
		num("pow-prefix-per-minute", powPrefix, &cfg.PowPrefixPerMin)
		num("votes-per-minute", perMin, &cfg.VotesPerMinute)
		num("address-votes-per-minute", addrPerMin, &cfg.AddressPerMin)
		num("address-cookies-per-minute", addrCookies, &cfg.AddressCookies)
		if b, err := strconv.ParseBool(pprofOn); err == nil {
			cfg.Pprof = b
		} else {
			errs = append(errs, fmt.Errorf("--pprof: %q is not true or false", pprofOn))
		}
		switch cfg.CookieSecure {
		case "auto", "always", "never":
		default:
			errs = append(errs, fmt.Errorf("--cookie-secure: %q is not auto, always or never", cfg.CookieSecure))
		}
		num("partitions", partitions, &cfg.Partitions)
		num("broker-count", brokerCount, &cfg.BrokerCount)
		if replication != "" {
			num("replication", replication, &cfg.Replication)
		}
		dur("window", window, &cfg.Window)
		dur("grace", grace, &cfg.Grace)
		dur("late-horizon", horizon, &cfg.LateHorizon)
		dur("rollup-after", rollup, &cfg.RollupAfter)
		dur("daily-rollup-after", dailyRollup, &cfg.DailyRollup)
		dur("emit-timeout", emitTimeout, &cfg.EmitTimeout)
		dur("close-lead", closeLead, &cfg.CloseLead)
		dur("shutdown-timeout", shutdown, &cfg.ShutdownTimeout)
		num("audit-days", auditDays, &cfg.AuditDays)
		if votesRetention == "" {
			cfg.VotesRetention = time.Duration(cfg.AuditDays)*24*time.Hour + maxParedaoLength
		} else {
			dur("votes-retention", votesRetention, &cfg.VotesRetention)
		}
		num("max-connections", maxConns, &cfg.MaxConnections)
		num("max-streams", maxStreams, &cfg.MaxStreams)
		num("address-streams", addrStreams, &cfg.AddressStreams)
		dur("captcha-timeout", captchaTimeout, &cfg.CaptchaTimeout)
		cfg.KafkaBrokers = splitList(brokers)
		cfg.Groups = splitList(groups)
		for _, s := range splitList(proxies) {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("--trusted-proxies: %q is not a CIDR", s))
				continue
			}
			cfg.TrustedProxies = append(cfg.TrustedProxies, p)
		}
		return errors.Join(errs...)
	}
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

// Embedded tells whether this configuration uses the embedded broker.
func (cfg *Config) Embedded() bool { return cfg.embedded }

// embeddedBrokers lists the addresses of count embedded brokers from addr:
// broker i listens on addr's port + i.
func embeddedBrokers(addr string, count int) []string {
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || count == 1 {
		return []string{addr} // a bad address fails when the broker starts, with its own message
	}
	out := make([]string, count)
	for i := range out {
		out[i] = net.JoinHostPort(host, strconv.Itoa(port+i))
	}
	return out
}

// Validate fills derived defaults and checks the configuration.
func (cfg *Config) Validate() error {
	cfg.embedded = len(cfg.KafkaBrokers) == 0
	if cfg.BrokerCount == 0 {
		cfg.BrokerCount = 1
	}
	if cfg.Replication == 0 {
		cfg.Replication = 3
		if cfg.Embedded() {
			cfg.Replication = min(3, cfg.BrokerCount)
		}
	}
	if cfg.Embedded() {
		cfg.KafkaBrokers = embeddedBrokers(cfg.BrokerAddr, cfg.BrokerCount)
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(cfg.DataDir, "paredao.db")
	}
	var errs []error
	switch {
	case cfg.BrokerCount > 16:
		errs = append(errs, errors.New("--broker-count: 1 to 16"))
	case cfg.Embedded() && cfg.Replication > cfg.BrokerCount:
		errs = append(errs, fmt.Errorf("--replication %d: the embedded cluster has %d broker(s)", cfg.Replication, cfg.BrokerCount))
	case cfg.Partitions < 1 || cfg.Partitions > 1024:
		errs = append(errs, errors.New("--partitions: 1 to 1024"))
	case cfg.Window < time.Second:
		errs = append(errs, errors.New("--window: at least 1s"))
	case cfg.PowMaxNumber < 1:
		errs = append(errs, errors.New("--pow-max-number: at least 1"))
	case cfg.PowMaxLevel < 0 || cfg.PowMaxLevel > phttp.MaxDifficultyLevel || cfg.PowMaxNumber > phttp.MaxPowNumber>>(2*cfg.PowMaxLevel):
		errs = append(errs, fmt.Errorf("--pow-max-level: 0 to %d, and --pow-max-number × 4^level at most %d", phttp.MaxDifficultyLevel, int64(phttp.MaxPowNumber)))
	case cfg.EmitTimeout <= 0:
		errs = append(errs, errors.New("--emit-timeout: must be positive"))
	case cfg.RollupAfter > 0 && cfg.RollupAfter < cfg.LateHorizon+cfg.Window+cfg.Grace+time.Hour:
		errs = append(errs, errors.New("--rollup-after: must exceed the late horizon, window and grace by an hour at least"))
	case cfg.DailyRollup > 0 && cfg.DailyRollup <= cfg.RollupAfter:
		errs = append(errs, fmt.Errorf("--daily-rollup-after %s: must be above --rollup-after %s (hours fold into days after minutes fold into hours), or 0", cfg.DailyRollup, cfg.RollupAfter))
	case cfg.DailyRollup > 0 && cfg.DailyRollup < cfg.LateHorizon+cfg.Window+cfg.Grace+time.Hour:
		errs = append(errs, errors.New("--daily-rollup-after: must exceed the late horizon, window and grace by an hour at least"))
	case cfg.AuditDays < 1 || cfg.AuditDays > 3650:
		errs = append(errs, errors.New("--audit-days: 1 to 3650"))
	case cfg.VotesRetention < 0 || cfg.VotesRetention > 0 && cfg.VotesRetention < time.Duration(cfg.AuditDays+1)*24*time.Hour:
		errs = append(errs, fmt.Errorf("--votes-retention %s: 0 (forever) or at least --audit-days (%d) and a day, so a paredão can be recounted that long after it closes", cfg.VotesRetention, cfg.AuditDays))
	}
	switch {
	case cfg.Captcha != "" && cfg.Captcha != "turnstile" && cfg.Captcha != "hcaptcha" && cfg.Captcha != "recaptcha":
		errs = append(errs, fmt.Errorf("--captcha %q: turnstile, hcaptcha, recaptcha or empty", cfg.Captcha))
	case cfg.Captcha != "" && (cfg.CaptchaSiteKey == "" || cfg.CaptchaSecret == ""):
		errs = append(errs, fmt.Errorf("--captcha %s needs PAREDAO_CAPTCHA_SITE_KEY and PAREDAO_CAPTCHA_SECRET", cfg.Captcha))
	case cfg.Captcha != "" && cfg.CaptchaTimeout <= 0:
		errs = append(errs, errors.New("--captcha-timeout: must be positive"))
	}
	needsSecret := cfg.Command == "web"
	if needsSecret && len(cfg.Secret) < 32 {
		errs = append(errs, errors.New("PAREDAO_SECRET (--secret) of at least 32 bytes is required"))
	}
	if needsSecret && cfg.ProductionToken == "" {
		errs = append(errs, errors.New("PAREDAO_PRODUCTION_TOKEN (--production-token) is required"))
	}
	if cfg.Secret != "" && len(cfg.Secret) < 32 {
		errs = append(errs, errors.New("PAREDAO_SECRET must have at least 32 bytes"))
	}
	return errors.Join(errs...)
}

// String prints the configuration with secrets masked.
func (cfg Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "***"
	}
	cfg.Secret = mask(cfg.Secret)
	cfg.ProductionToken = mask(cfg.ProductionToken)
	cfg.CaptchaSecret = mask(cfg.CaptchaSecret)
	cfg.DatabaseURL = maskURL(cfg.DatabaseURL)
	cfg.finish = nil
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(cfg))
}

// maskURL hides a password in a database URL.
func maskURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return u[:i+3] + rest[:c] + ":***" + rest[at:]
			}
		}
	}
	return u
}

// loadConfig parses command's flags over the environment.
func loadConfig(command string, args []string, env func(string) string, out io.Writer) (*Config, error) {
	cfg := &Config{}
	fs := flag.NewFlagSet("paredao "+command, flag.ContinueOnError)
	fs.SetOutput(out)
	cfg.bind(fs, command, env)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := cfg.finish(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
