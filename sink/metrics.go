package sink

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the sink processor; the package comment lists them.
type Metrics struct {
	records   prometheus.Counter
	rejected  *prometheus.CounterVec
	batches   prometheus.Counter
	errors    prometheus.Counter
	apply     prometheus.Histogram
	lastFlush prometheus.Gauge
	pending   prometheus.Gauge
}

// Reasons a record is rejected, as counted in
// paredao_sink_rejected_records_total.
const (
	reasonInvalid   = "invalid"    // fails validRecord
	reasonNotRecord = "not_record" // the message is not a *pipeline.WindowRecord (nil)
)

// NewMetrics creates the sink's metrics and registers them with reg (nil:
// not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_sink_records_total", Help: "Window records written to the store.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_sink_rejected_records_total", Help: "Window records that can never be stored, by reason; each is logged.",
		}, []string{"reason"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_sink_batches_total", Help: "Batches written to the store.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_sink_apply_errors_total", Help: "Failed batch writes; each is retried.",
		}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paredao_sink_apply_seconds", Help: "Time to write one batch to the store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1ms .. 8s
		}),
		lastFlush: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paredao_sink_last_flush_timestamp_seconds", Help: "Unix time of the last batch written.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paredao_sink_pending_records", Help: "Records buffered and not yet written.",
		}),
	}
	for _, r := range []string{reasonInvalid, reasonNotRecord} {
		m.rejected.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.records, m.rejected, m.batches, m.errors, m.apply, m.lastFlush, m.pending)
	}
	return m
}
