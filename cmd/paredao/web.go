package main

import (
	"context"
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
	"github.com/paredao/paredao/service"
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
	w.conns = phttp.NewConnLimiter(service.ConnectionBudget(cfg.MaxConnections, log), reg, log)
	maxStreams := cfg.MaxStreams
	if maxStreams == 0 {
		maxStreams = max(w.conns.Max()/4, 1)
	}
	photos, _ := store.(phttp.PhotoStore) // the store's photos when it keeps them (sink.Store does)
	audits, _ := store.(phttp.AuditStore) // recounts, certificates and receipts (sink.Store keeps them)
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
		Audit: phttp.AuditConfig{Brokers: cfg.KafkaBrokers, VotesPerMinute: cfg.VotesPerMinute, Window: cfg.Window,
			Grace: cfg.EmitTimeout + time.Second, Keep: time.Duration(cfg.AuditDays) * 24 * time.Hour, Retention: cfg.VotesRetention},
	}, phttp.Deps{
		Catalog:   w.catalog,
		Writer:    emitterWriter{w.paredoes},
		Emitter:   voteEmitter{w.votes},
		Standings: w.standings,
		Windows:   store,
		Live:      w.standings,
		Photos:    photos,
		Audit:     audits,
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
func (w *webTier) viewTasks() []service.Task {
	return []service.Task{
		{Name: "catalog view", Run: w.catalog.Run, Once: true},
		{Name: "standings view", Run: w.standings.Run, Once: true},
	}
}

// serveTask serves HTTP until ctx ends, then drains in-flight votes to Kafka.
func (w *webTier) serveTask() service.Task {
	return service.Task{Name: "web server", Run: func(ctx context.Context) error {
		err := service.Serve(ctx, w.server, w.cfg.HTTPAddr, w.conns.Listener, w.log, w.cfg.ShutdownTimeout)
		if ferr := w.votes.Finish(); ferr != nil && err == nil {
			err = fmt.Errorf("finish vote emitter: %w", ferr)
		}
		if ferr := w.paredoes.Finish(); ferr != nil && err == nil {
			err = fmt.Errorf("finish catalog emitter: %w", ferr)
		}
		return err
	}}
}

func (w *webTier) checks() []service.Check {
	return []service.Check{
		{Name: "catalog view", OK: service.Recovered(w.catalog.Recovered)},
		{Name: "standings view", OK: service.Recovered(w.standings.Recovered)},
		{Name: "catalog seeded", OK: service.Recovered(w.seeded.Load)},
	}
}

// seedTask writes the seed paredões once the catalog recovered and holds none.
func (w *webTier) seedTask() service.Task {
	return service.Task{Name: "seed", Run: func(ctx context.Context) error {
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

// loadSeed reads a seed file; "" is the built-in demo paredão.
func loadSeed(path string, now time.Time) ([]*pipeline.Paredao, error) {
	data := defaultSeed
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read seed: %w", err)
		}
	}
	return pipeline.ParseSeed(data, path, now, phttp.AvatarURL)
}

// voteEmitter is http's Emitter on the votes stream's emitter.
type voteEmitter struct{ e *goka.Emitter }

func (v voteEmitter) EmitVote(ctx context.Context, vote *pipeline.Vote) error {
	return stream.Emit(ctx, v.e, vote.VoterID, vote)
}

// emitterWriter is http's Writer on the catalog topic's emitter.
type emitterWriter struct{ e *goka.Emitter }

func (c emitterWriter) PutParedao(ctx context.Context, p *pipeline.Paredao) error {
	return stream.Emit(ctx, c.e, p.ID, p)
}
