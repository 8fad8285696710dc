package processors

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the processors:
//
//	paredao_guard_votes_total{outcome}   votes decided by guard: accepted, reemitted, redelivered, replay, superseded, rate_limited, expired, invalid_vote
//	paredao_guard_batches_total          ballot batches sent to tally
//	paredao_guard_batch_ballots_total    ballots in them (÷ batches: ballots per batch)
//	paredao_guard_voters_pruned_total    idle voters deleted from guard's table
//	paredao_tally_ballots_total{outcome} ballots seen by tally: counted, duplicate, late
//	paredao_tally_windows_emitted_total  window counts sent to the sink
//	paredao_tally_window_close_delay_seconds  from a window's end to its count's first sending
type Metrics struct {
	guardVotes    *prometheus.CounterVec
	batches       prometheus.Counter
	batchBallots  prometheus.Counter
	votersPruned  prometheus.Counter
	tallyBallots  *prometheus.CounterVec
	windowsEmited prometheus.Counter
	closeDelay    prometheus.Histogram
}

// NewMetrics registers the processors' metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		guardVotes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_guard_votes_total", Help: "Votes decided by guard, by outcome.",
		}, []string{"outcome"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_guard_batches_total", Help: "Ballot batches guard sent to tally.",
		}),
		batchBallots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_guard_batch_ballots_total", Help: "Ballots in the batches guard sent to tally.",
		}),
		votersPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_guard_voters_pruned_total", Help: "Idle voters deleted from guard's table.",
		}),
		tallyBallots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_tally_ballots_total", Help: "Ballots seen by tally, by outcome.",
		}, []string{"outcome"}),
		windowsEmited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paredao_tally_windows_emitted_total", Help: "Window counts sent to the sink.",
		}),
		closeDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paredao_tally_window_close_delay_seconds", Help: "Time from a window's end to the first sending of its count.",
			Buckets: []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 900},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.guardVotes, m.batches, m.batchBallots, m.votersPruned, m.tallyBallots, m.windowsEmited, m.closeDelay)
	}
	return m
}
