package http

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// VoterCookie is the name of the signed anonymous voter cookie.
const VoterCookie = "paredao_voter"

// voters signs and checks voter ids: "<id>.<mac>", both base64url.
type voters struct {
	key []byte
}

func (v voters) mac(id string) string {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func (v voters) issue() (id, cookie string) {
	var b [16]byte
	rand.Read(b[:])
	id = base64.RawURLEncoding.EncodeToString(b[:])
	return id, id + "." + v.mac(id)
}

// verify returns the voter id of a cookie value, or "" if it is forged.
func (v voters) verify(cookie string) string {
	id, mac, ok := strings.Cut(cookie, ".")
	if !ok || len(id) != 22 || !hmac.Equal([]byte(mac), []byte(v.mac(id))) {
		return ""
	}
	return id
}

// fromRequest returns the request's voter id, or "".
func (v voters) fromRequest(r *http.Request) string {
	c, err := r.Cookie(VoterCookie)
	if err != nil {
		return ""
	}
	return v.verify(c.Value)
}

func (v voters) set(w http.ResponseWriter, cookie string, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: VoterCookie, Value: cookie, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
}

// CookieSecure says when the voter cookie carries the Secure attribute.
type CookieSecure string

// The values of Config.CookieSecure ("" is CookieSecureAuto).
const (
	// CookieSecureAuto: when the client's request came over TLS, to this
	// server or to a trusted proxy that says so (X-Forwarded-Proto: https).
	CookieSecureAuto   CookieSecure = "auto"
	CookieSecureAlways CookieSecure = "always" // behind a proxy that terminates TLS and does not say so
	CookieSecureNever  CookieSecure = "never"
)

func (c CookieSecure) valid() bool {
	switch c {
	case "", CookieSecureAuto, CookieSecureAlways, CookieSecureNever:
		return true
	}
	return false
}

// secureCookie tells whether the voter cookie set in answer to r is Secure.
func (s *Server) secureCookie(r *http.Request) bool {
	switch s.cfg.CookieSecure {
	case CookieSecureAlways:
		return true
	case CookieSecureNever:
		return false
	}
	return overTLS(r, s.cfg.TrustedProxies)
}

// overTLS tells whether the client's request came over TLS: to this server,
// or to a trusted proxy that says so in X-Forwarded-Proto. Its first value
// counts, the scheme the client used where proxies append theirs; the header
// from anyone but a trusted proxy is ignored, as X-Forwarded-For is
// (clientAddr).
func overTLS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if !isTrusted(peerAddr(r), trusted) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
