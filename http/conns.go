package http

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnLimiter bounds the connections a public listener holds, so that an
// audience of phones that each open a connection, vote and go quiet never
// takes the file descriptors the broker, the stores and the Kafka clients
// need. Near the budget the oldest idle keep-alive connections are closed
// first; at the budget new connections are answered 503 and closed at once.
//
// Its metrics:
//
//	paredao_http_connections                      connections open now
//	paredao_http_connections_max                  the budget
//	paredao_http_connections_shed_total{reason}   idle (closed near the budget), refused (at it)
type ConnLimiter struct {
	max, shedAt int
	log         *slog.Logger

	mu         sync.Mutex
	open       int
	idle       list.List // *limitedConn, longest idle first
	shedIdle   int       // since the last log line
	refused    int
	lastLogged time.Time

	shed *prometheus.CounterVec
}

// NewConnLimiter bounds connections to max (≥ 1); idle connections are
// closed once 90 % of it is open. Its metrics go to reg (nil: none).
func NewConnLimiter(max int, reg prometheus.Registerer, log *slog.Logger) *ConnLimiter {
	if max < 1 {
		max = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &ConnLimiter{max: max, shedAt: max - max/10, log: log}
	l.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paredao_http_connections_shed_total",
		Help: "Connections closed to stay within the budget: idle (keep-alive connections closed near it, oldest first), refused (new connections answered 503 at it).",
	}, []string{"reason"})
	l.shed.WithLabelValues("idle")
	l.shed.WithLabelValues("refused")
	if reg != nil {
		reg.MustRegister(l.shed,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "paredao_http_connections", Help: "Public connections open."},
				func() float64 { return float64(l.Open()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "paredao_http_connections_max", Help: "The public connections' budget."},
				func() float64 { return float64(l.max) }))
	}
	return l
}

// Max is the budget.
func (l *ConnLimiter) Max() int { return l.max }

// Open is how many connections are open.
func (l *ConnLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Listener wraps ln: every connection it accepts counts against the budget.
// Errors of ln (EMFILE among them) are returned as they are: http.Server
// backs off and accepts again.
func (l *ConnLimiter) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, l: l}
}

// ConnState is the http.Server hook that tells the limiter which
// connections are idle.
func (l *ConnLimiter) ConnState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.closed {
		return
	}
	if lc.elem != nil {
		l.idle.Remove(lc.elem)
		lc.elem = nil
	}
	if st == http.StateIdle {
		lc.elem = l.idle.PushBack(lc)
	}
}

type limitedListener struct {
	net.Listener
	l *ConnLimiter
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := ln.l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// refusal is what a connection beyond the budget reads before it is closed.
var refusal = func() []byte {
	body := `{"error":{"code":"unavailable","message":"the server is at its connection limit; try again in a moment"}}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// admit counts c in, closing idle connections near the budget; at the
// budget it answers c 503, closes it and returns nil.
func (l *ConnLimiter) admit(c net.Conn) *limitedConn {
	var victims []*limitedConn
	l.mu.Lock()
	for l.open >= l.shedAt && l.idle.Len() > 0 {
		v := l.idle.Remove(l.idle.Front()).(*limitedConn)
		v.elem, v.closed = nil, true
		l.open--
		l.shedIdle++
		victims = append(victims, v)
	}
	full := l.open >= l.max
	if full {
		l.refused++
	} else {
		l.open++
	}
	l.logLocked()
	l.mu.Unlock()

	for _, v := range victims {
		_ = v.Conn.Close() // shed: the connection is gone either way
	}
	if n := len(victims); n > 0 {
		l.shed.WithLabelValues("idle").Add(float64(n))
	}
	if full {
		l.shed.WithLabelValues("refused").Inc()
		// Best effort: a client that cannot take the refusal in 100 ms
		// just sees the connection close.
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(refusal)
		_ = c.Close()
		return nil
	}
	return &limitedConn{Conn: c, l: l}
}

// logLocked writes one line at most every 10 s while connections are shed.
func (l *ConnLimiter) logLocked() {
	if l.shedIdle+l.refused == 0 || time.Since(l.lastLogged) < 10*time.Second {
		return
	}
	l.log.Warn("connection budget reached: shedding", "open", l.open, "max", l.max,
		"idle_closed", l.shedIdle, "refused", l.refused)
	l.shedIdle, l.refused, l.lastLogged = 0, 0, time.Now()
}

// limitedConn is an admitted connection; its first Close gives its place back.
type limitedConn struct {
	net.Conn
	l      *ConnLimiter
	elem   *list.Element // in l.idle while idle
	closed bool          // guarded by l.mu
}

func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	if !c.closed {
		c.closed = true
		c.l.open--
		if c.elem != nil {
			c.l.idle.Remove(c.elem)
			c.elem = nil
		}
	}
	c.l.mu.Unlock()
	return c.Conn.Close()
}
