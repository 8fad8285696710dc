package http

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/pipeline"
)

// Catalog is the read side of the paredão catalog.
type Catalog interface {
	Get(id string) *pipeline.Paredao
	List() []*pipeline.Paredao
	// Recovered tells whether the catalog caught up with its topic once:
	// until then a paredão it does not know may just not be loaded yet.
	Recovered() bool
}

// CatalogWriter changes the catalog (through Kafka); every replica sees it.
type CatalogWriter interface {
	PutParedao(ctx context.Context, p *pipeline.Paredao) error
}

// VoteEmitter writes a vote to Kafka and returns once Kafka acknowledged it.
type VoteEmitter interface {
	EmitVote(ctx context.Context, v *pipeline.Vote) error
}

// Standings answers the live totals of a paredão.
type Standings interface {
	Snapshot(paredaoID string) pipeline.Standings
	Changed() <-chan struct{}
}

// Config configures the web tier.
type Config struct {
	Secret          []byte        // signs challenges and voter cookies (≥ 32 bytes)
	ProductionToken string        // bearer token of the production API
	PowMaxNumber    int64         // proof-of-work difficulty (base: level 0)
	PowMaxLevel     int           // adaptive difficulty: levels above the base (maxnumber × 4^level); 0 = fixed
	PowCookiePerMin int           // challenges per minute per voter cookie before the first level; 0 = not counted
	PowPrefixPerMin int           // challenges per minute per /24 or /64 before the first level; 0 = not counted
	PowCacheSize    int           // cookies and prefixes the adaptive difficulty follows at once (default 1<<18)
	ChallengeTTL    time.Duration // how long a challenge stays valid
	VotesPerMinute  int           // per-voter cap at the edge (approximate; guard is exact); 0 = unlimited
	AddressPerMin   int           // per-address ceiling on votes and challenges; 0 = unlimited
	TrustedProxies  []netip.Prefix
	CookieSecure    CookieSecure  // when the voter cookie is Secure ("": CookieSecureAuto)
	AddressCookies  int           // new voter cookies per client address per minute; 0 = no cap
	UsedCacheSize   int           // proofs of work remembered for an early 409 (default 1<<20)
	VoterCacheSize  int           // voters the per-voter cap at the edge follows at once (default 1<<18)
	EmitTimeout     time.Duration // how long a vote waits for Kafka before 503
	CloseLead       time.Duration // how far ahead "close now" takes effect, so every replica knows first
	MaxInFlight     int           // votes waiting for Kafka at once before shedding with 503
	MaxStreams      int           // results streams (SSE) open at once; 0 = no cap
	AddressStreams  int           // results streams per client address; 0 = no cap
	Report          ReportConfig
	Captcha         CaptchaConfig // a hosted captcha on every vote besides the proof of work; zero: none
	Audit           AuditConfig   // recounts started from the production API
}

// Deps are what the web tier reads and writes.
type Deps struct {
	Catalog   Catalog
	Writer    CatalogWriter
	Emitter   VoteEmitter
	Standings Standings
	Windows   WindowStore // closed windows in SQL
	Live      LiveWindows // windows still in tally's state
	Photos    PhotoStore  // participants' photos in SQL; nil: no uploads
	Audit     AuditStore  // recounts, certificates and receipts in SQL; nil: no audit
	Log       *slog.Logger
	Metrics   *Metrics
	Now       func() time.Time
}

// Server is the public HTTP handler.
type Server struct {
	cfg            Config
	deps           Deps
	voters         voters
	pow            pow
	difficulty     *difficulty
	used           *usedCache
	perVoter       *voterLimiter
	voteLimit      *httprate.RateLimiter
	challengeLimit *httprate.RateLimiter
	cookieLimit    *httprate.RateLimiter
	slots          chan struct{}
	router         chi.Router
	token          [32]byte
	hours          hoursCache // final hourly rows per paredão (see report.go)
	streams        *streamSlots
	captcha        *captcha // nil: ALTCHA only (captcha.go)
	emitFailures   logEvery
	abuse          *abuseBook // the last hour per paredão, for production (abuse.go)
	audits         audits     // recounts running here, cached tree roots (audit.go)
}

// ErrConfig reports an unusable web configuration.
var ErrConfig = errors.New("http: bad config")

// NewServer builds the public handler.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	if len(cfg.Secret) < 32 {
		return nil, fmt.Errorf("%w: the secret must have at least 32 bytes", ErrConfig)
	}
	if cfg.ProductionToken == "" {
		return nil, fmt.Errorf("%w: a production token is required", ErrConfig)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if cfg.ChallengeTTL == 0 {
		cfg.ChallengeTTL = 2 * time.Minute
	}
	if cfg.EmitTimeout == 0 {
		cfg.EmitTimeout = 3 * time.Second
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 4096
	}
	if !cfg.CookieSecure.valid() {
		return nil, fmt.Errorf("%w: cookie secure %q: auto, always or never", ErrConfig, cfg.CookieSecure)
	}
	if cfg.UsedCacheSize == 0 {
		cfg.UsedCacheSize = 1 << 20
	}
	if cfg.VoterCacheSize == 0 {
		cfg.VoterCacheSize = 1 << 18
	}
	if cfg.PowMaxLevel < 0 || cfg.PowMaxLevel > MaxDifficultyLevel || cfg.PowMaxNumber > MaxPowNumber>>(2*max(cfg.PowMaxLevel, 0)) {
		return nil, fmt.Errorf("%w: difficulty %d × 4^%d: level 0 to %d, maxnumber at most %d", ErrConfig,
			cfg.PowMaxNumber, cfg.PowMaxLevel, MaxDifficultyLevel, int64(MaxPowNumber))
	}
	s := &Server{
		cfg:            cfg,
		deps:           deps,
		voters:         voters{key: derive(cfg.Secret, "voter-cookie")},
		pow:            pow{key: string(derive(cfg.Secret, "altcha")), maxNumber: cfg.PowMaxNumber, ttl: cfg.ChallengeTTL},
		difficulty:     newDifficulty(cfg, deps.Metrics),
		used:           newUsedCache(cfg.UsedCacheSize, deps.Metrics),
		perVoter:       newVoterLimiter(cfg.VotesPerMinute, time.Minute, cfg.VoterCacheSize, deps.Metrics),
		voteLimit:      newAddressLimiter(cfg.AddressPerMin),
		challengeLimit: newAddressLimiter(cfg.AddressPerMin * 2),
		cookieLimit:    newAddressLimiter(cfg.AddressCookies),
		slots:          make(chan struct{}, cfg.MaxInFlight),
		token:          sha256.Sum256([]byte(cfg.ProductionToken)),
		streams:        newStreamSlots(cfg.MaxStreams, cfg.AddressStreams),
	}
	s.abuse = newAbuseBook(cfg.Secret, deps.Now, func(id string) bool { return deps.Catalog != nil && deps.Catalog.Get(id) != nil })
	var err error
	if s.captcha, err = newCaptcha(cfg.Captcha, cfg.MaxInFlight, deps.Log); err != nil {
		return nil, err
	}
	s.router = s.routes()
	return s, nil
}

// Collectors are the server's metrics beyond Deps.Metrics: its results
// streams.
func (s *Server) Collectors() []prometheus.Collector {
	return append([]prometheus.Collector{s.streams.open, s.streams.refused, s.difficulty.levels}, s.captcha.collectors()...)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func derive(secret []byte, purpose string) []byte {
	h := sha256.New()
	h.Write(secret)
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return h.Sum(nil)
}

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverer, securityHeaders(s.captcha.pagePolicy))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such page or endpoint"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.deps.Log, errorf(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here"))
	})

	r.Get("/", s.page("index.html"))
	r.Get("/production", s.page("production.html"))
	r.Get("/static/*", s.static)
	r.Get("/avatars/{paredao}/{file}", s.avatar)
	if s.deps.Photos != nil {
		r.Get("/photos/{file}", s.photo)
	}

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(noStore)
		r.Get("/paredoes", s.listParedoes)
		r.Get("/paredoes/{id}", s.getParedao)
		r.Get("/challenge", s.challenge)
		r.Get("/config", s.clientConfig)
		r.With(s.crossOrigin).Post("/paredoes/{id}/votes", s.vote)
		r.Get("/paredoes/{id}/results", s.results)
		r.Get("/paredoes/{id}/results/stream", s.resultsStream)
		if s.deps.Audit != nil {
			r.Get("/paredoes/{id}/receipts/{voteId}", s.receipt)
		}

		r.Route("/production", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Post("/paredoes", s.createParedao)
			r.Post("/paredoes/{id}/close", s.closeParedao)
			r.Get("/paredoes/{id}/abuse", s.abuseReport)
			if s.deps.Photos != nil {
				r.Put("/paredoes/{id}/participants/{pid}/photo", s.putPhoto)
				r.Delete("/paredoes/{id}/participants/{pid}/photo", s.deletePhoto)
			}
			if s.deps.Windows != nil {
				r.Get("/paredoes/{id}/report", s.report)
				r.Get("/paredoes/{id}/minutes", s.minutes)
				r.Get("/paredoes/{id}/report.csv", s.reportCSV)
			}
			if s.deps.Audit != nil {
				r.Get("/paredoes/{id}/recount", s.recountStatus)
				r.Post("/paredoes/{id}/recount", s.startRecount)
				r.Get("/paredoes/{id}/certificate", s.certificate)
			}
		})
	})
	return r
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.deps.Metrics.panics.Inc()
				writeError(w, s.deps.Log, fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers of every answer; policy gives the
// Content-Security-Policy (basePolicy, widened on the voter page for a
// configured captcha: captcha.go).
func securityHeaders(policy func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return headersWith(policy, next) }
}

func headersWith(policy func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy(r))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.deps.Metrics.rejected(errCrossOrigin.Code)
		s.noteVote(r, errCrossOrigin)
		writeError(w, s.deps.Log, errCrossOrigin)
	}))
	return cop.Handler(next)
}
