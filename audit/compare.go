package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paredao/paredao/pipeline"
)

// Report is what the production API says of a paredão: per participant, per
// hour and per window.
type Report struct {
	Total        int64
	Participants map[string]int64
	Hours        map[Bucket]int64
	Minutes      map[Bucket]int64
	// HourlyFrom: hours before it were folded into days by the production
	// API and are not compared hour by hour (zero: every hour is there).
	HourlyFrom time.Time
}

// Diff is one difference between the recount and the report. Bucket is
// "total", or the hour or window start in RFC 3339.
type Diff struct {
	Participant string `json:"participant"`
	Bucket      string `json:"bucket"`
	Recount     int64  `json:"recount"`
	Report      int64  `json:"report"`
}

// API reads a paredão and its report from the web tier.
type API struct {
	URL    string // base URL, e.g. http://127.0.0.1:8080
	Token  string // production token
	Client *http.Client
}

func (a *API) get(ctx context.Context, path string, auth bool, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(a.URL, "/")+path, nil)
	if err != nil {
		return err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	cl := a.Client
	if cl == nil {
		cl = &http.Client{Timeout: time.Minute}
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("audit: GET %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }() // read, or given up on: nothing to tell
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("audit: GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("audit: GET %s: %w", path, err)
	}
	return nil
}

// Paredao reads the paredão's catalog entry (the public API).
func (a *API) Paredao(ctx context.Context, id string) (pipeline.Paredao, error) {
	var p pipeline.Paredao
	err := a.get(ctx, "/api/v1/paredoes/"+url.PathEscape(id), false, &p)
	return p, err
}

type bucketJSON struct {
	Hour         time.Time `json:"hour"`
	Minute       time.Time `json:"minute"`
	Participants []struct {
		ID    string `json:"id"`
		Votes int64  `json:"votes"`
	} `json:"participants"`
}

// Report reads the production report of p: /report, and /minutes over the
// windows from from to to (at most 31 days, the API's bound; zero from: none).
func (a *API) Report(ctx context.Context, id string, from, to time.Time) (*Report, error) {
	var rep struct {
		Total        int64 `json:"total"`
		Participants []struct {
			ID    string `json:"id"`
			Votes int64  `json:"votes"`
		} `json:"participants"`
		Hourly     []bucketJSON `json:"hourly"`
		HourlyFrom *time.Time   `json:"hourlyFrom"`
	}
	base := "/api/v1/production/paredoes/" + url.PathEscape(id)
	if err := a.get(ctx, base+"/report", true, &rep); err != nil {
		return nil, err
	}
	r := &Report{Total: rep.Total, Participants: map[string]int64{}, Hours: map[Bucket]int64{}, Minutes: map[Bucket]int64{}}
	if rep.HourlyFrom != nil {
		r.HourlyFrom = rep.HourlyFrom.UTC()
	}
	for _, p := range rep.Participants {
		r.Participants[p.ID] = p.Votes
	}
	for _, h := range rep.Hourly {
		for _, p := range h.Participants {
			r.Hours[Bucket{p.ID, h.Hour.UTC()}] += p.Votes
		}
	}
	if from.IsZero() || !to.After(from) {
		return r, nil
	}
	var mins struct {
		Minutes []bucketJSON `json:"minutes"`
	}
	q := "?from=" + url.QueryEscape(from.UTC().Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.UTC().Format(time.RFC3339))
	if err := a.get(ctx, base+"/minutes"+q, true, &mins); err != nil {
		return nil, err
	}
	for _, m := range mins.Minutes {
		for _, p := range m.Participants {
			r.Minutes[Bucket{p.ID, m.Minute.UTC()}] += p.Votes
		}
	}
	return r, nil
}

// MinutesSpan is the span of windows to ask the report for: the recount's
// first to last window, when at most 31 days apart (ok false otherwise).
func (c *Count) MinutesSpan() (from, to time.Time, ok bool) {
	for b := range c.Minutes {
		if from.IsZero() || b.Start.Before(from) {
			from = b.Start
		}
		if b.Start.Add(c.Window).After(to) {
			to = b.Start.Add(c.Window)
		}
	}
	if from.IsZero() {
		return from, to, false
	}
	return from, to, to.Sub(from) <= 31*24*time.Hour
}

// Compare lists the differences between the recount and the report: the
// total, per participant, per hour (from the report's HourlyFrom on) and,
// when minutes is true, per window; sorted by participant and time.
func (c *Count) Compare(r *Report, minutes bool) []Diff {
	var out []Diff
	if c.Total != r.Total {
		out = append(out, Diff{"(all)", "total", c.Total, r.Total})
	}
	keys := map[string]bool{}
	for k := range c.Participants {
		keys[k] = true
	}
	for k := range r.Participants {
		keys[k] = true
	}
	for k := range keys {
		if c.Participants[k] != r.Participants[k] {
			out = append(out, Diff{k, "total", c.Participants[k], r.Participants[k]})
		}
	}
	buckets := func(mine, theirs map[Bucket]int64, from time.Time) {
		seen := map[Bucket]bool{}
		for b := range mine {
			seen[b] = true
		}
		for b := range theirs {
			seen[b] = true
		}
		for b := range seen {
			if b.Start.Before(from) {
				continue
			}
			if mine[b] != theirs[b] {
				out = append(out, Diff{b.Participant, b.Start.Format(time.RFC3339), mine[b], theirs[b]})
			}
		}
	}
	buckets(c.Hours, r.Hours, r.HourlyFrom)
	if minutes {
		buckets(c.Minutes, r.Minutes, time.Time{})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Participant != b.Participant {
			return a.Participant < b.Participant
		}
		if (a.Bucket == "total") != (b.Bucket == "total") {
			return a.Bucket == "total"
		}
		if len(a.Bucket) != len(b.Bucket) {
			return len(a.Bucket) < len(b.Bucket)
		}
		return a.Bucket < b.Bucket
	})
	return out
}

// FormatDiffs is diffs as a table, columns aligned.
func FormatDiffs(diffs []Diff) string {
	rows := [][4]string{{"participant", "hour", "recount", "report"}}
	for _, d := range diffs {
		rows = append(rows, [4]string{d.Participant, d.Bucket, strconv.FormatInt(d.Recount, 10), strconv.FormatInt(d.Report, 10)})
	}
	var width [4]int
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Summary is the recount in lines: total, per participant, per hour,
// refusals.
func (c *Count) Summary() string {
	var w strings.Builder
	fmt.Fprintf(&w, "paredão %s: %d votes counted (%d read)\n", c.Paredao.ID, c.Total, c.Read)
	ids := make([]string, 0, len(c.Participants))
	for id := range c.Participants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&w, "  %-20s %d\n", id, c.Participants[id])
	}
	hours := make([]Bucket, 0, len(c.Hours))
	for b := range c.Hours {
		hours = append(hours, b)
	}
	sort.Slice(hours, func(i, j int) bool {
		if !hours[i].Start.Equal(hours[j].Start) {
			return hours[i].Start.Before(hours[j].Start)
		}
		return hours[i].Participant < hours[j].Participant
	})
	for _, b := range hours {
		fmt.Fprintf(&w, "  %s %-20s %d\n", b.Start.Format(time.RFC3339), b.Participant, c.Hours[b])
	}
	reasons := make([]string, 0, len(c.Refused))
	for r := range c.Refused {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&w, "  not counted, %s: %d\n", r, c.Refused[r])
	}
	return w.String()
}
