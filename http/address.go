package http

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/httprate"
)

// clientAddr is the address of the client: the socket peer, or, when the peer
// is a trusted proxy, the last address in X-Forwarded-For that is not a
// trusted proxy itself. A header from anyone else is ignored.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r)
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return peer.String()
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addressKey groups IPv6 clients by /64 (one subscriber) and IPv4 by address.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Is4() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func newAddressLimiter(perMinute int) *httprate.RateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return httprate.NewRateLimiter(perMinute, time.Minute)
}

// allowAddress applies limiter to the client's address, answering 429 itself.
func (s *Server) allowAddress(w http.ResponseWriter, r *http.Request, l *httprate.RateLimiter) bool {
	if s.allowAddressQuiet(r, l) {
		return true
	}
	writeError(w, s.deps.Log, rateLimited(time.Minute))
	return false
}

func (s *Server) allowAddressQuiet(r *http.Request, l *httprate.RateLimiter) bool {
	if l == nil {
		return true
	}
	return !l.OnLimit(discard{}, r, addressKey(clientAddr(r, s.cfg.TrustedProxies)))
}

// discard swallows the headers httprate sets: the error mapper writes ours.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
