package http

import (
	"embed"
	"fmt"
	"hash/fnv"
	"html"
	"io/fs"
	"net/http"
	"strings"
	"unicode"

	"github.com/go-chi/chi/v5"
)

//go:embed web/*.html web/static
var webFS embed.FS

var staticFS, _ = fs.Sub(webFS, "web/static")

// page serves one embedded HTML page.
func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := webFS.ReadFile("web/" + name)
		if err != nil {
			writeError(w, s.deps.Log, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}

// static serves the embedded assets; fs.FS refuses paths with "..".
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	if !fs.ValidPath(name) || name == "." {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such file"))
		return
	}
	if st, err := fs.Stat(staticFS, name); err != nil || st.IsDir() {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such file"))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeFileFS(w, r, staticFS, name)
}

// AvatarURL is the generated picture of a participant without a photo.
func AvatarURL(paredaoID, participantID string) string {
	return "/avatars/" + paredaoID + "/" + participantID + ".svg"
}

// avatar draws a participant's initials on a colour of their own: no real photos.
func (s *Server) avatar(w http.ResponseWriter, r *http.Request) {
	p := s.deps.Catalog.Get(chi.URLParam(r, "paredao"))
	file := chi.URLParam(r, "file")
	id, ok := strings.CutSuffix(file, ".svg")
	if p == nil || !ok {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such avatar"))
		return
	}
	x, found := p.Participant(id)
	if !found {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such avatar"))
		return
	}
	h := fnv.New32a()
	h.Write([]byte(x.ID))
	hue := h.Sum32() % 360
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120" role="img" aria-label="%s">`+
		`<rect width="120" height="120" rx="60" fill="hsl(%d,65%%,45%%)"/>`+
		`<text x="60" y="60" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="46" font-weight="700" fill="#fff">%s</text></svg>`,
		html.EscapeString(x.Name), hue, html.EscapeString(initials(x.Name)))
}

func initials(name string) string {
	var out []rune
	for _, f := range strings.Fields(name) {
		r := []rune(f)[0]
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}
