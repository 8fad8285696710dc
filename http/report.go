package http

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

// WindowStore is the sink's SQL store as the reports read it.
type WindowStore interface {
	// Shards: absolute counts per (participant, shard, window) in [from, to), late votes excluded.
	Shards(ctx context.Context, paredaoID string, from, to time.Time) ([]pipeline.ShardWindow, error)
	// Late: late votes per (window, participant) in [from, to).
	Late(ctx context.Context, paredaoID string, from, to time.Time) ([]pipeline.Count, error)
	// HoursAndDays: from one snapshot, votes per (UTC hour, participant) and
	// per (UTC day, participant) over the windows starting before before.
	// The hours before hoursFrom were folded into days and are in days only
	// (zero: no day is folded).
	HoursAndDays(ctx context.Context, paredaoID string, before time.Time) (hours, days []pipeline.Count, hoursFrom time.Time, err error)
	// Minutes: votes per (window, participant) in [from, to).
	Minutes(ctx context.Context, paredaoID string, from, to time.Time) ([]pipeline.Count, error)
}

// LiveWindows are the windows still in tally's state, from the views.
type LiveWindows interface {
	ShardWindows(paredaoID string, from time.Time) []pipeline.ShardWindow
}

// ReportConfig tells the reports how windows are cut.
type ReportConfig struct {
	Window  time.Duration
	Grace   time.Duration
	Horizon time.Duration
}

type reportParticipant struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Votes int64  `json:"votes"`
}

type bucketParticipant struct {
	ID    string `json:"id"`
	Votes int64  `json:"votes"`
}

type hourJSON struct {
	Hour         time.Time           `json:"hour"`
	Total        int64               `json:"total"`
	Participants []bucketParticipant `json:"participants"`
}

type dayJSON struct {
	Day          time.Time           `json:"day"`
	Total        int64               `json:"total"`
	Participants []bucketParticipant `json:"participants"`
}

type minuteJSON struct {
	Minute       time.Time           `json:"minute"`
	Total        int64               `json:"total"`
	Participants []bucketParticipant `json:"participants"`
}

// reportJSON is the production report. Daily holds every vote; Hourly holds
// the hours from HourlyFrom on: the hours before it were folded into days
// (PAREDAO_DAILY_ROLLUP_AFTER) and are in Daily only. HourlyFrom is null
// while every hour is kept.
type reportJSON struct {
	ParedaoID    string              `json:"paredaoId"`
	Total        int64               `json:"total"`
	Participants []reportParticipant `json:"participants"`
	Hourly       []hourJSON          `json:"hourly"`
	Daily        []dayJSON           `json:"daily"`
	HourlyFrom   *time.Time          `json:"hourlyFrom"`
	ExactUntil   time.Time           `json:"exactUntil"`
	AsOf         time.Time           `json:"asOf"`
}

type minutesJSON struct {
	ParedaoID  string       `json:"paredaoId"`
	Minutes    []minuteJSON `json:"minutes"`
	ExactUntil time.Time    `json:"exactUntil"`
	AsOf       time.Time    `json:"asOf"`
}

// cuts returns where SQL alone stops being the source (cut: older windows
// are retired from tally's state, their counts final in SQL) and exactUntil
// (every window ending by then is closed).
func (s *Server) cuts(now time.Time) (cut, exactUntil time.Time) {
	rc := s.cfg.Report
	cut = pipeline.WindowStart(now.Add(-rc.Horizon-2*rc.Window), rc.Window)
	exactUntil = pipeline.WindowStart(now.Add(-rc.Grace), rc.Window)
	return cut, exactUntil
}

// recent merges the sink's and the views' counts of the windows from cut on:
// both are absolute counts of the same (participant, shard, window), so the
// greater is the newer; late votes add.
func (s *Server) recent(ctx context.Context, id string, cut time.Time) (buckets, error) {
	far := cut.Add(100 * 365 * 24 * time.Hour)
	sqlRows, err := s.deps.Windows.Shards(ctx, id, cut, far)
	if err != nil {
		return nil, fmt.Errorf("report shards: %w", err)
	}
	late, err := s.deps.Windows.Late(ctx, id, cut, far)
	if err != nil {
		return nil, fmt.Errorf("report late votes: %w", err)
	}
	type key struct {
		participant string
		shard       int
		start       time.Time
	}
	best := map[key]int64{}
	for _, r := range sqlRows {
		k := key{r.ParticipantID, r.Shard, r.Start.UTC()}
		best[k] = max(best[k], r.Votes)
	}
	for _, r := range s.deps.Live.ShardWindows(id, cut) {
		k := key{r.ParticipantID, r.Shard, r.Start.UTC()}
		best[k] = max(best[k], r.Votes)
	}
	out := buckets{}
	for k, n := range best {
		out.add(k.start, k.participant, n)
	}
	for _, r := range late {
		out.add(r.Start.UTC(), r.ParticipantID, r.Votes)
	}
	return out, nil
}

// buildReport is the production report of p at now: per hour and per UTC
// day, the final rows from SQL (cached) and the recent windows merged into
// both. Totals are the days', which hold every vote; the hours hold them all
// too unless days were folded (HourlyFrom).
func (s *Server) buildReport(ctx context.Context, p *pipeline.Paredao, now time.Time) (reportJSON, error) {
	cut, exactUntil := s.cuts(now)
	final, err := s.hours.get(ctx, s.deps.Windows, p.ID, cut, now)
	if err != nil {
		return reportJSON{}, fmt.Errorf("report hours and days: %w", err)
	}
	recent, err := s.recent(ctx, p.ID, cut)
	if err != nil {
		return reportJSON{}, err
	}
	byHour, byDay := buckets{}, buckets{}
	for _, r := range final.hours {
		byHour.add(r.Start.UTC().Truncate(time.Hour), r.ParticipantID, r.Votes)
	}
	for _, r := range final.days {
		byDay.add(r.Start.UTC().Truncate(24*time.Hour), r.ParticipantID, r.Votes)
	}
	for start, m := range recent {
		for participant, n := range m {
			byHour.add(start.Truncate(time.Hour), participant, n)
			byDay.add(start.Truncate(24*time.Hour), participant, n)
		}
	}
	rep := reportJSON{ParedaoID: p.ID, Hourly: []hourJSON{}, Daily: []dayJSON{}, ExactUntil: exactUntil, AsOf: now.UTC()}
	if !final.hoursFrom.IsZero() {
		from := final.hoursFrom.UTC()
		rep.HourlyFrom = &from
	}
	for _, h := range sortedTimes(byHour) {
		total, participants := bucketRow(byHour[h], p)
		rep.Hourly = append(rep.Hourly, hourJSON{Hour: h, Total: total, Participants: participants})
	}
	totals := map[string]int64{}
	for _, d := range sortedTimes(byDay) {
		total, participants := bucketRow(byDay[d], p)
		rep.Daily = append(rep.Daily, dayJSON{Day: d, Total: total, Participants: participants})
		for _, x := range participants {
			totals[x.ID] += x.Votes
		}
		rep.Total += total
	}
	for _, x := range p.Participants {
		rep.Participants = append(rep.Participants, reportParticipant{ID: x.ID, Name: x.Name, Votes: totals[x.ID]})
	}
	return rep, nil
}

// bucketRow is one hour's or day's votes of p's participants, in p's order,
// and their total.
func bucketRow(votes map[string]int64, p *pipeline.Paredao) (int64, []bucketParticipant) {
	var total int64
	out := make([]bucketParticipant, 0, len(p.Participants))
	for _, x := range p.Participants {
		n := votes[x.ID]
		out = append(out, bucketParticipant{ID: x.ID, Votes: n})
		total += n
	}
	return total, out
}

// buckets are votes per participant per window or hour start.
type buckets map[time.Time]map[string]int64

func (b buckets) add(start time.Time, participant string, n int64) {
	m := b[start]
	if m == nil {
		m = map[string]int64{}
		b[start] = m
	}
	m[participant] += n
}

func sortedTimes[V any](m map[time.Time]V) []time.Time {
	out := make([]time.Time, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// reportOf answers the report of the request's paredão, or writes the error
// and returns nil.
func (s *Server) reportOf(w http.ResponseWriter, r *http.Request) (*pipeline.Paredao, *reportJSON) {
	p := s.reportParedao(w, r)
	if p == nil {
		return nil, nil
	}
	rep, err := s.buildReport(r.Context(), p, s.deps.Now())
	if err != nil {
		s.deps.Log.Error("report failed", "paredao", p.ID, "err", err)
		writeError(w, s.deps.Log, unavailable(2*time.Second))
		return nil, nil
	}
	return p, &rep
}

func (s *Server) reportParedao(w http.ResponseWriter, r *http.Request) *pipeline.Paredao {
	p, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
	}
	return p
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if _, rep := s.reportOf(w, r); rep != nil {
		writeJSON(w, http.StatusOK, rep)
	}
}

// reportCSV answers the report as CSV, per hour (by=hour, the default) or
// per UTC day (by=day). Per hour, once days are folded, it answers 410
// hours_folded rather than a file whose rows would not add up to the total.
func (s *Server) reportCSV(w http.ResponseWriter, r *http.Request) {
	by := r.URL.Query().Get("by")
	switch by {
	case "", "hour":
		by = "hour"
	case "day":
	default:
		writeError(w, s.deps.Log, invalidRequest("by must be hour or day"))
		return
	}
	p, rep := s.reportOf(w, r)
	if rep == nil {
		return
	}
	if by == "hour" && rep.HourlyFrom != nil {
		writeError(w, s.deps.Log, errorf(http.StatusGone, "hours_folded",
			"the hours before "+rep.HourlyFrom.Format(time.RFC3339)+" were folded into days (PAREDAO_DAILY_ROLLUP_AFTER); ask report.csv?by=day"))
		return
	}
	type csvRow struct {
		start        time.Time
		total        int64
		participants []bucketParticipant
	}
	var rows []csvRow
	if by == "hour" {
		for _, h := range rep.Hourly {
			rows = append(rows, csvRow{h.Hour, h.Total, h.Participants})
		}
	} else {
		for _, d := range rep.Daily {
			rows = append(rows, csvRow{d.Day, d.Total, d.Participants})
		}
	}
	name := map[string]string{"hour": "hourly", "day": "daily"}[by]
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="paredao-`+p.ID+`-`+name+`.csv"`)
	header := []string{by, "total"}
	for _, x := range p.Participants {
		header = append(header, x.ID)
	}
	lines := [][]string{header}
	for _, row := range rows {
		line := []string{row.start.Format(time.RFC3339), strconv.FormatInt(row.total, 10)}
		for _, x := range row.participants {
			line = append(line, strconv.FormatInt(x.Votes, 10))
		}
		lines = append(lines, line)
	}
	if err := csv.NewWriter(w).WriteAll(lines); err != nil {
		s.deps.Log.Debug("report csv not sent", "paredao", p.ID, "err", err) // the client went away
	}
}

// minutes answers the report by window in [from, to) (default: the last hour).
func (s *Server) minutes(w http.ResponseWriter, r *http.Request) {
	p := s.reportParedao(w, r)
	if p == nil {
		return
	}
	now := s.deps.Now().UTC()
	from, to := now.Add(-time.Hour), now.Add(s.cfg.Report.Window)
	for _, q := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(q.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, s.deps.Log, invalidRequest(q.name+" must be an RFC 3339 time"))
				return
			}
			*q.t = t.UTC()
		}
	}
	if !to.After(from) || to.Sub(from) > 31*24*time.Hour {
		writeError(w, s.deps.Log, invalidRequest("from must be before to, at most 31 days apart"))
		return
	}
	cut, exactUntil := s.cuts(now)
	byMinute := buckets{}
	if from.Before(cut) {
		rows, err := s.deps.Windows.Minutes(r.Context(), p.ID, from, minTime(to, cut))
		if err != nil {
			s.deps.Log.Error("minutes failed", "paredao", p.ID, "err", err)
			writeError(w, s.deps.Log, unavailable(2*time.Second))
			return
		}
		for _, row := range rows {
			byMinute.add(row.Start.UTC(), row.ParticipantID, row.Votes)
		}
	}
	recent, err := s.recent(r.Context(), p.ID, cut)
	if err != nil {
		s.deps.Log.Error("minutes failed", "paredao", p.ID, "err", err)
		writeError(w, s.deps.Log, unavailable(2*time.Second))
		return
	}
	for start, m := range recent {
		if !start.Before(from) && start.Before(to) {
			byMinute[start] = m
		}
	}
	out := minutesJSON{ParedaoID: p.ID, Minutes: []minuteJSON{}, ExactUntil: exactUntil, AsOf: now}
	for _, t := range sortedTimes(byMinute) {
		row := minuteJSON{Minute: t, Participants: make([]bucketParticipant, 0, len(p.Participants))}
		for _, x := range p.Participants {
			n := byMinute[t][x.ID]
			row.Participants = append(row.Participants, bucketParticipant{ID: x.ID, Votes: n})
			row.Total += n
		}
		out.Minutes = append(out.Minutes, row)
	}
	writeJSON(w, http.StatusOK, out)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// hoursCache keeps, per paredão, the hourly and daily rows of the windows
// before the cut: they are final (retired from tally's state), so they are
// read from SQL once per cut (once a window) or every hoursTTL, whichever
// comes first (a late vote for such a window shows within hoursTTL). A report
// then costs a small query over the recent windows and the merge, not a scan
// of days of rows.
type hoursCache struct {
	mu sync.Mutex
	m  map[string]hoursEntry
}

type hoursEntry struct {
	cut, at     time.Time
	hours, days []pipeline.Count
	hoursFrom   time.Time // the day watermark: hours before it are in days only
}

const hoursTTL = 10 * time.Second

func (c *hoursCache) get(ctx context.Context, store WindowStore, id string, cut, now time.Time) (hoursEntry, error) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.cut.Equal(cut) && now.Sub(e.at) < hoursTTL && !now.Before(e.at) {
		return e, nil
	}
	hours, days, hoursFrom, err := store.HoursAndDays(ctx, id, cut)
	if err != nil {
		return hoursEntry{}, err
	}
	e = hoursEntry{cut: cut, at: now, hours: hours, days: days, hoursFrom: hoursFrom}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 1000 {
		c.m = map[string]hoursEntry{}
	}
	c.m[id] = e
	c.mu.Unlock()
	return e, nil
}
