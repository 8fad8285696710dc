package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// CertificateFormat names the certificate's JSON layout.
const CertificateFormat = "paredao-certificate/1"

// MerkleAlgorithm describes the certificate's trees.
const MerkleAlgorithm = "RFC 9162 Merkle tree, SHA-256: leaf = H(0x00 || leaf), node = H(0x01 || left || right); " +
	"counted leaves: vote id; refused leaves: vote id, space, reason; in log order (partition ascending, then offset)"

// Certificate is what a recount found, in a form anyone can check again
// from the votes log with `paredao verify`.
type Certificate struct {
	Format  string      `json:"format"`
	Version string      `json:"version"` // the binary that made it
	MadeAt  time.Time   `json:"madeAt"`
	Paredao CertParedao `json:"paredao"`
	Rules   Rules       `json:"rules"`
	// Cut is, per votes partition, the first and last offset read (Last <
	// First: the partition had no record).
	Cut          []CutRange       `json:"cut"`
	Read         int64            `json:"read"` // votes read, every paredão
	Counted      int64            `json:"counted"`
	Participants map[string]int64 `json:"participants"`
	Hours        []HourCount      `json:"hours"`   // UTC hours, by hour then participant
	Refused      map[string]int64 `json:"refused"` // votes of the paredão not counted, by reason
	Merkle       Merkle           `json:"merkle"`
	// Report is the comparison with the production report when the
	// certificate was made; verify does not check it (the report is not in
	// the log).
	Report *Comparison `json:"report,omitempty"`
}

// CertParedao is the paredão recounted, as the catalog had it.
type CertParedao struct {
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	OpensAt      time.Time `json:"opensAt"`
	ClosesAt     time.Time `json:"closesAt"`
	Participants []string  `json:"participants"`
}

// Rules are the pipeline's settings the decisions depend on.
type Rules struct {
	VotesPerMinute int    `json:"votesPerMinute"` // 0: no cap
	Window         string `json:"window"`         // the report's window, e.g. "1m0s"
}

// CutRange is the offsets read of one votes partition.
type CutRange struct {
	Partition int32 `json:"partition"`
	First     int64 `json:"first"`
	Last      int64 `json:"last"`
}

// HourCount is one participant's votes in one UTC hour.
type HourCount struct {
	Participant string    `json:"participant"`
	Hour        time.Time `json:"hour"`
	Votes       int64     `json:"votes"`
}

// Merkle holds the roots of the two trees, hex.
type Merkle struct {
	Algorithm   string `json:"algorithm"`
	CountedRoot string `json:"countedRoot"`
	Counted     int64  `json:"counted"`
	RefusedRoot string `json:"refusedRoot"`
	Refused     int64  `json:"refused"`
}

// Comparison is the recount against the production report.
type Comparison struct {
	At          time.Time `json:"at"`
	Equal       bool      `json:"equal"`
	Differences []Diff    `json:"differences"`
}

// Version is the running binary's module version and VCS revision.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Path + " " + bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))] + dirty
	}
	return v + " " + bi.GoVersion
}

// NewCertificate writes down a recount of cut.
func NewCertificate(c *Count, cut []PartitionCut, t *Trees, votesPerMinute int, madeAt time.Time) *Certificate {
	p := c.Paredao
	cert := &Certificate{
		Format: CertificateFormat, Version: Version(), MadeAt: madeAt.UTC(),
		Paredao: CertParedao{ID: p.ID, Title: p.Title, OpensAt: p.OpensAt.UTC(), ClosesAt: p.ClosesAt.UTC()},
		Rules:   Rules{VotesPerMinute: votesPerMinute, Window: c.Window.String()},
		Read:    c.Read, Counted: c.Total, Participants: maps.Clone(c.Participants), Refused: maps.Clone(c.Refused),
		Merkle: Merkle{Algorithm: MerkleAlgorithm,
			CountedRoot: hex.EncodeToString(t.Roots[TreeCounted][:]), Counted: t.Sizes[TreeCounted],
			RefusedRoot: hex.EncodeToString(t.Roots[TreeRefused][:]), Refused: t.Sizes[TreeRefused]},
	}
	for _, x := range p.Participants {
		cert.Paredao.Participants = append(cert.Paredao.Participants, x.ID)
	}
	for _, pc := range cut {
		cert.Cut = append(cert.Cut, CutRange{Partition: pc.Partition, First: pc.Earliest, Last: pc.High - 1})
	}
	for b, n := range c.Hours {
		cert.Hours = append(cert.Hours, HourCount{Participant: b.Participant, Hour: b.Start, Votes: n})
	}
	sort.Slice(cert.Hours, func(i, j int) bool {
		a, b := cert.Hours[i], cert.Hours[j]
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		return a.Participant < b.Participant
	})
	return cert
}

// ParseCertificate reads a certificate and checks its format.
func ParseCertificate(b []byte) (*Certificate, error) {
	var c Certificate
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("audit: certificate: %w", err)
	}
	if c.Format != CertificateFormat {
		return nil, fmt.Errorf("audit: certificate: format %q, want %q", c.Format, CertificateFormat)
	}
	if _, err := time.ParseDuration(c.Rules.Window); err != nil {
		return nil, fmt.Errorf("audit: certificate: window: %w", err)
	}
	return &c, nil
}

// paredao is the paredão as the certificate recorded it.
func (c *Certificate) paredao() pipeline.Paredao {
	p := pipeline.Paredao{ID: c.Paredao.ID, Title: c.Paredao.Title, OpensAt: c.Paredao.OpensAt, ClosesAt: c.Paredao.ClosesAt}
	for _, id := range c.Paredao.Participants {
		p.Participants = append(p.Participants, pipeline.Participant{ID: id})
	}
	return p
}

// Differences lists what got (recomputed) says otherwise than c, field by
// field; empty when they agree. MadeAt, Version and Report are not
// compared.
func (c *Certificate) Differences(got *Certificate) []string {
	var out []string
	diff := func(field string, want, have any) {
		w, _ := json.Marshal(want)
		h, _ := json.Marshal(have)
		if string(w) != string(h) {
			out = append(out, fmt.Sprintf("%s: certificate %s, log %s", field, w, h))
		}
	}
	diff("paredao", c.Paredao, got.Paredao)
	diff("rules", c.Rules, got.Rules)
	diff("cut", c.Cut, got.Cut)
	diff("read", c.Read, got.Read)
	diff("counted", c.Counted, got.Counted)
	diff("participants", c.Participants, got.Participants)
	diff("refused", c.Refused, got.Refused)
	diff("merkle", c.Merkle, got.Merkle)
	hours := func(hs []HourCount) map[string]int64 {
		m := map[string]int64{}
		for _, h := range hs {
			m[h.Hour.UTC().Format(time.RFC3339)+" "+h.Participant] += h.Votes
		}
		return m
	}
	want, have := hours(c.Hours), hours(got.Hours)
	all := maps.Clone(want)
	maps.Copy(all, have)
	for _, k := range slices.Sorted(maps.Keys(all)) {
		if want[k] != have[k] {
			hour, who, _ := strings.Cut(k, " ")
			out = append(out, fmt.Sprintf("hour %s, %s: certificate %d, log %d", hour, who, want[k], have[k]))
		}
	}
	return out
}

// Reporter answers the production report of a paredão.
type Reporter interface {
	Report(ctx context.Context, id string, from, to time.Time) (*Report, error)
}

// Options configure Recount and Verify.
type Options struct {
	Brokers        []string
	VotesPerMinute int           // the pipeline's per-voter cap
	Window         time.Duration // the pipeline's window
	Minutes        bool          // compare window by window too (spans up to 31 days)
	Progress       func(Progress)
	Now            func() time.Time
}

// Result is a recount: its count, cut, trees and certificate, and the
// differences with the production report.
type Result struct {
	Count       *Count
	Cut         []PartitionCut
	Trees       *Trees
	Certificate *Certificate
	Diffs       []Diff
}

// Recount reads the votes log up to a cut taken now, decides and counts p,
// hashes its trees, writes the certificate and, with a Reporter, compares
// with the production report.
func Recount(ctx context.Context, p pipeline.Paredao, rep Reporter, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	cut, err := TakeCut(o.Brokers)
	if err != nil {
		return nil, err
	}
	c := NewCount(p, o.VotesPerMinute, o.Window)
	if err := Read(ctx, o.Brokers, cut, c, o.Progress); err != nil {
		return nil, err
	}
	t := c.Trees()
	res := &Result{Count: c, Cut: cut, Trees: t, Certificate: NewCertificate(c, cut, t, o.VotesPerMinute, o.Now())}
	if rep == nil {
		return res, nil
	}
	from, to, minutes := c.MinutesSpan()
	minutes = minutes && o.Minutes
	if !minutes {
		from = time.Time{}
	}
	r, err := rep.Report(ctx, p.ID, from, to)
	if err != nil {
		return nil, err
	}
	res.Diffs = c.Compare(r, minutes)
	res.Certificate.Report = &Comparison{At: o.Now().UTC(), Equal: len(res.Diffs) == 0, Differences: res.Diffs}
	if res.Certificate.Report.Differences == nil {
		res.Certificate.Report.Differences = []Diff{}
	}
	return res, nil
}

// Verify recounts the log the certificate covers, with its rules, and
// lists what differs (see Certificate.Differences). ErrLogTooShort when
// retention deleted records of its cut.
func Verify(ctx context.Context, cert *Certificate, o Options) ([]string, error) {
	now, err := TakeCut(o.Brokers)
	if err != nil {
		return nil, err
	}
	start := map[int32]int64{}
	for _, pc := range now {
		start[pc.Partition] = pc.Earliest
	}
	cut := make([]PartitionCut, 0, len(cert.Cut))
	for _, r := range cert.Cut {
		s, ok := start[r.Partition]
		if !ok {
			return nil, fmt.Errorf("audit: verify: votes partition %d of the certificate does not exist", r.Partition)
		}
		if r.Last >= r.First && s > r.First {
			return nil, fmt.Errorf("%w: partition %d now starts at offset %d, the certificate read from %d", ErrLogTooShort, r.Partition, s, r.First)
		}
		cut = append(cut, PartitionCut{Partition: r.Partition, Earliest: r.First, High: r.Last + 1})
	}
	window, err := time.ParseDuration(cert.Rules.Window)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: window: %w", err)
	}
	c := NewCount(cert.paredao(), cert.Rules.VotesPerMinute, window)
	if err := Read(ctx, o.Brokers, cut, c, o.Progress); err != nil {
		return nil, err
	}
	got := NewCertificate(c, cut, c.Trees(), cert.Rules.VotesPerMinute, time.Now())
	return cert.Differences(got), nil
}
