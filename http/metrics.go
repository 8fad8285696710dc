package http

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the web tier:
//
//	paredao_http_votes_accepted_total            votes answered 202
//	paredao_http_votes_rejected_total{reason}    votes refused, by error code
//	paredao_http_emit_seconds                    time for Kafka to acknowledge a vote
//	paredao_http_challenges_total                challenges issued
//	paredao_http_panics_total                    handler panics recovered
type Metrics struct {
	accepted   prometheus.Counter
	rejections *prometheus.CounterVec
	emit       prometheus.Histogram
	challenges prometheus.Counter
	panics     prometheus.Counter
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
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.rejections, m.emit, m.challenges, m.panics)
	}
	return m
}

func (m *Metrics) rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }
