package http

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// streamSlots caps the results streams (Server-Sent Events) held open, in
// total and per client address: each is a connection that never goes idle,
// so without a cap a few clients could hold the whole connection budget.
type streamSlots struct {
	max, perAddress int // 0: no cap

	mu     sync.Mutex
	total  int
	byAddr map[string]int

	open    prometheus.GaugeFunc
	refused *prometheus.CounterVec
}

func newStreamSlots(max, perAddress int) *streamSlots {
	s := &streamSlots{max: max, perAddress: perAddress, byAddr: map[string]int{}}
	s.open = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "paredao_http_streams", Help: "Results streams (SSE) open."},
		func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(s.total) })
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paredao_http_streams_refused_total", Help: "Results streams refused (503), by the cap reached: total or address.",
	}, []string{"cap"})
	s.refused.WithLabelValues("total")
	s.refused.WithLabelValues("address")
	return s
}

// acquire takes a slot for addr, or says which cap refused it.
func (s *streamSlots) acquire(addr string) (release func(), err *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.max > 0 && s.total >= s.max:
		s.refused.WithLabelValues("total").Inc()
		return nil, streamsFull("this server holds as many live results streams as it can; the page polls meanwhile")
	case s.perAddress > 0 && s.byAddr[addr] >= s.perAddress:
		s.refused.WithLabelValues("address").Inc()
		return nil, streamsFull("too many live results streams from your address")
	}
	s.total++
	s.byAddr[addr]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byAddr[addr]--; s.byAddr[addr] <= 0 {
				delete(s.byAddr, addr)
			}
		})
	}, nil
}

func streamsFull(msg string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: msg, RetryAfter: 15 * time.Second}
}
