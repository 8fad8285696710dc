package http

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the web tier:
//
//	paredao_http_votes_accepted_total            votes answered 202
//	paredao_http_votes_rejected_total{reason}    votes refused, by error code
//	paredao_http_emit_seconds                    time for Kafka to acknowledge a vote
//	paredao_http_challenges_total                challenges issued
//	paredao_http_panics_total                    handler panics recovered
//	paredao_http_voter_cookies_total{outcome}    new voter cookies: issued, or rate_limited (the address's cap)
//	paredao_http_cache_entries{cache}            entries held by a bounded in-memory map: used_challenges, voter_rates, pow_activity
//	paredao_http_challenge_difficulty_total{level} challenges issued per adaptive difficulty level (Server.Collectors)
//	paredao_http_cache_evictions_total{cache}    entries dropped for room while still needed (the bound is too small)
type Metrics struct {
	accepted     prometheus.Counter
	rejections   *prometheus.CounterVec
	emit         prometheus.Histogram
	challenges   prometheus.Counter
	panics       prometheus.Counter
	voterCookies *prometheus.CounterVec
	cacheEntries *prometheus.GaugeVec
	evictions    *prometheus.CounterVec
}

// NewMetrics registers the web tier's metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "paredao_http_votes_accepted_total", Help: "Votes acknowledged (202)."}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_http_votes_rejected_total", Help: "Votes refused, by error code.",
		}, []string{"reason"}),
		emit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paredao_http_emit_seconds", Help: "Time for Kafka to acknowledge a vote.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		challenges: prometheus.NewCounter(prometheus.CounterOpts{Name: "paredao_http_challenges_total", Help: "Challenges issued."}),
		panics:     prometheus.NewCounter(prometheus.CounterOpts{Name: "paredao_http_panics_total", Help: "Handler panics recovered."}),
		voterCookies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_http_voter_cookies_total", Help: "New voter cookies: issued, or refused for the address's cap (rate_limited).",
		}, []string{"outcome"}),
		cacheEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paredao_http_cache_entries", Help: "Entries held by a bounded in-memory map of the web tier.",
		}, []string{"cache"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_http_cache_evictions_total", Help: "Entries dropped for room while still needed.",
		}, []string{"cache"}),
	}
	for _, o := range []string{"issued", "rate_limited"} {
		m.voterCookies.WithLabelValues(o)
	}
	for _, c := range []string{cacheUsed, cacheVoters} {
		m.cacheEntries.WithLabelValues(c)
		m.evictions.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.rejections, m.emit, m.challenges, m.panics, m.voterCookies, m.cacheEntries, m.evictions)
	}
	return m
}

func (m *Metrics) rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }

// The caches of paredao_http_cache_entries.
const (
	cacheUsed   = "used_challenges" // usedCache
	cacheVoters = "voter_rates"     // voterLimiter
	cacheActive = "pow_activity"    // activity (difficulty.go)
)
