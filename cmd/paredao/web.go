package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	phttp "github.com/paredao/paredao/http"
	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/stream"
	"github.com/paredao/paredao/views"
)

// webTier is the HTTP tier of a process: views, emitters and the server.
type webTier struct {
	cfg       *Config
	log       *slog.Logger
	catalog   *views.Catalog
	standings *views.Standings
	votes     *goka.Emitter
	paredoes  *goka.Emitter
	server    *http.Server
	conns     *phttp.ConnLimiter
	seeded    atomic.Bool // the catalog holds the seed (or held paredões already)
}

func newWebTier(cfg *Config, k *stream.Kafka, reg prometheus.Registerer, log *slog.Logger, store phttp.WindowStore) (*webTier, error) {
	log = log.With("component", "web")
	w := &webTier{cfg: cfg, log: log}
	var err error
	if w.catalog, err = views.NewCatalog(cfg.KafkaBrokers, k.ViewOptions()...); err != nil {
		return nil, err
	}
	if w.standings, err = views.NewStandings(cfg.KafkaBrokers, k.ViewOptions()...); err != nil {
		return nil, err
	}
	if w.votes, err = goka.NewEmitter(cfg.KafkaBrokers, pipeline.VotesStream, new(pipeline.VoteCodec), k.EmitterOptions()...); err != nil {
		return nil, fmt.Errorf("vote emitter: %w", err)
	}
	if w.paredoes, err = goka.NewEmitter(cfg.KafkaBrokers, goka.Stream(pipeline.CatalogTable), new(pipeline.ParedaoCodec), k.EmitterOptions()...); err != nil {
		return nil, fmt.Errorf("catalog emitter: %w", err)
	}
	w.conns = phttp.NewConnLimiter(connectionBudget(cfg.MaxConnections, log), reg, log)
	maxStreams := cfg.MaxStreams
	if maxStreams == 0 {
		maxStreams = max(w.conns.Max()/4, 1)
	}
	handler, err := phttp.NewServer(phttp.Config{
		Secret:          []byte(cfg.Secret),
		ProductionToken: cfg.ProductionToken,
		PowMaxNumber:    cfg.PowMaxNumber,
		PowMaxLevel:     cfg.PowMaxLevel,
		PowCookiePerMin: cfg.PowCookiePerMin,
		PowPrefixPerMin: cfg.PowPrefixPerMin,
		VotesPerMinute:  cfg.VotesPerMinute,
		AddressPerMin:   cfg.AddressPerMin,
		TrustedProxies:  cfg.TrustedProxies,
		CookieSecure:    phttp.CookieSecure(cfg.CookieSecure),
		AddressCookies:  cfg.AddressCookies,
		EmitTimeout:     cfg.EmitTimeout,
		CloseLead:       cfg.CloseLead,
		MaxStreams:      maxStreams,
		AddressStreams:  cfg.AddressStreams,
		Report:          phttp.ReportConfig{Window: cfg.Window, Grace: cfg.Grace, Horizon: cfg.LateHorizon},
		Captcha: phttp.CaptchaConfig{Provider: cfg.Captcha, SiteKey: cfg.CaptchaSiteKey, Secret: cfg.CaptchaSecret,
			VerifyURL: cfg.CaptchaVerify, Timeout: cfg.CaptchaTimeout},
	}, phttp.Deps{
		Catalog:   w.catalog,
		Writer:    emitterWriter{w.paredoes},
		Emitter:   voteEmitter{w.votes},
		Standings: w.standings,
		Windows:   store,
		Live:      w.standings,
		Photos:    photoStore(store),
		Log:       log,
		Metrics:   phttp.NewMetrics(reg),
	})
	if err != nil {
		return nil, err
	}
	if reg != nil {
		reg.MustRegister(handler.Collectors()...)
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paredao_views_standings_age_seconds",
			Help: "How old the standings this replica serves are (0 while its view follows Kafka).",
		}, func() float64 { return w.standings.Age().Seconds() }))
	}
	w.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second, // the results stream extends its own deadline
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:         w.conns.ConnState,
	}
	return w, nil
}

// viewTasks follow the catalog and tally's table.
func (w *webTier) viewTasks() []task {
	return []task{
		{name: "catalog view", run: w.catalog.Run, once: true},
		{name: "standings view", run: w.standings.Run, once: true},
	}
}

// serveTask serves HTTP until ctx ends, then drains in-flight votes to Kafka.
func (w *webTier) serveTask() task {
	return task{name: "web server", run: func(ctx context.Context) error {
		err := serve(ctx, w.server, w.cfg.HTTPAddr, w.conns.Listener, w.log, w.cfg.ShutdownTimeout)
		if ferr := w.votes.Finish(); ferr != nil && err == nil {
			err = fmt.Errorf("finish vote emitter: %w", ferr)
		}
		if ferr := w.paredoes.Finish(); ferr != nil && err == nil {
			err = fmt.Errorf("finish catalog emitter: %w", ferr)
		}
		return err
	}}
}

func (w *webTier) checks() []check {
	return []check{
		{"catalog view", recovered(w.catalog.Recovered)},
		{"standings view", recovered(w.standings.Recovered)},
		{"catalog seeded", recovered(w.seeded.Load)},
	}
}

func recovered(f func() bool) func(context.Context) error {
	return func(context.Context) error {
		if !f() {
			return fmt.Errorf("recovering")
		}
		return nil
	}
}

// seedTask writes the seed paredões once the catalog recovered and holds none.
func (w *webTier) seedTask() task {
	return task{name: "seed", run: func(ctx context.Context) error {
		for !w.catalog.Recovered() {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
		}
		if len(w.catalog.List()) > 0 {
			w.seeded.Store(true)
			return nil
		}
		seed, err := loadSeed(w.cfg.Seed, time.Now())
		if err != nil {
			return err
		}
		for _, p := range seed {
			if err := (emitterWriter{w.paredoes}).PutParedao(ctx, p); err != nil {
				return fmt.Errorf("seed %s: %w", p.ID, err)
			}
			w.log.Info("seeded paredao", "paredao", p.ID, "closes_at", p.ClosesAt)
		}
		for len(w.catalog.List()) < len(seed) {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(20 * time.Millisecond):
			}
		}
		w.seeded.Store(true)
		return nil
	}}
}

// photoStore is the store's photos when it keeps them (sink.Store does).
func photoStore(store phttp.WindowStore) phttp.PhotoStore {
	ps, _ := store.(phttp.PhotoStore)
	return ps
}

// seedEntry is a paredão in a seed file: absolute times, or offsets from start-up.
type seedEntry struct {
	pipeline.Paredao
	OpensIn  string `json:"opensIn"`
	ClosesIn string `json:"closesIn"`
}

// loadSeed reads a seed file; "" is the built-in demo paredão.
func loadSeed(path string, now time.Time) ([]*pipeline.Paredao, error) {
	data := defaultSeed
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read seed: %w", err)
		}
	}
	var entries []seedEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("parse seed %s: %w", path, err)
	}
	out := make([]*pipeline.Paredao, 0, len(entries))
	for _, e := range entries {
		p := e.Paredao
		for _, f := range []struct {
			rel string
			abs *time.Time
		}{{e.OpensIn, &p.OpensAt}, {e.ClosesIn, &p.ClosesAt}} {
			if f.rel == "" {
				continue
			}
			d, err := time.ParseDuration(f.rel)
			if err != nil {
				return nil, fmt.Errorf("seed %s: %w", p.ID, err)
			}
			*f.abs = now.Add(d).UTC().Truncate(time.Second)
		}
		for i := range p.Participants {
			if p.Participants[i].PhotoURL == "" {
				p.Participants[i].PhotoURL = phttp.AvatarURL(p.ID, p.Participants[i].ID)
			}
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("seed %s: %w", p.ID, err)
		}
		out = append(out, &p)
	}
	return out, nil
}

// voteEmitter writes votes and waits for Kafka's acknowledgement.
type voteEmitter struct{ e *goka.Emitter }

func (v voteEmitter) EmitVote(ctx context.Context, vote *pipeline.Vote) error {
	return await(ctx, v.e, vote.VoterID, vote)
}

// emitterWriter writes paredões to the catalog topic.
type emitterWriter struct{ e *goka.Emitter }

func (c emitterWriter) PutParedao(ctx context.Context, p *pipeline.Paredao) error {
	return await(ctx, c.e, p.ID, p)
}

func await(ctx context.Context, e *goka.Emitter, key string, msg any) error {
	p, err := e.Emit(key, msg)
	if err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	done := make(chan error, 1)
	p.Then(func(err error) { done <- err })
	select {
	case err := <-done:
		return err // sarama's errors say "kafka: …" already
	case <-ctx.Done():
		return ctx.Err()
	}
}
