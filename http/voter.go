package http

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
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

func (v voters) set(w http.ResponseWriter, r *http.Request, cookie string) {
	http.SetCookie(w, &http.Cookie{
		Name: VoterCookie, Value: cookie, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
}
