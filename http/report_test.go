package http

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// oneCatalog knows one paredão.
type oneCatalog struct{ p *pipeline.Paredao }

func (c oneCatalog) Get(id string) *pipeline.Paredao {
	if id == c.p.ID {
		return c.p
	}
	return nil
}
func (c oneCatalog) List() []*pipeline.Paredao { return []*pipeline.Paredao{c.p} }
func (oneCatalog) Recovered() bool             { return true }

// foldedStore answers the final rows as the sink does once days are folded:
// hourly rows from hoursFrom on, every day in days.
type foldedStore struct {
	hours, days []pipeline.Count
	hoursFrom   time.Time
}

func (foldedStore) Shards(context.Context, string, time.Time, time.Time) ([]pipeline.ShardWindow, error) {
	return nil, nil
}
func (foldedStore) Late(context.Context, string, time.Time, time.Time) ([]pipeline.Count, error) {
	return nil, nil
}
func (foldedStore) Minutes(context.Context, string, time.Time, time.Time) ([]pipeline.Count, error) {
	return nil, nil
}
func (s foldedStore) HoursAndDays(context.Context, string, time.Time) ([]pipeline.Count, []pipeline.Count, time.Time, error) {
	return s.hours, s.days, s.hoursFrom, nil
}

// liveWindows are the windows in tally's state.
type liveWindows []pipeline.ShardWindow

func (l liveWindows) ShardWindows(string, time.Time) []pipeline.ShardWindow { return l }

type testReport struct {
	Total        int64 `json:"total"`
	Participants []struct {
		ID    string `json:"id"`
		Votes int64  `json:"votes"`
	} `json:"participants"`
	Hourly []struct {
		Hour  time.Time `json:"hour"`
		Total int64     `json:"total"`
	} `json:"hourly"`
	Daily []struct {
		Day          time.Time `json:"day"`
		Total        int64     `json:"total"`
		Participants []struct {
			ID    string `json:"id"`
			Votes int64  `json:"votes"`
		} `json:"participants"`
	} `json:"daily"`
	HourlyFrom *time.Time `json:"hourlyFrom"`
}

func reportServer(t *testing.T, store WindowStore, live LiveWindows, now time.Time) *Server {
	t.Helper()
	p := &pipeline.Paredao{ID: "p1", Title: "P1", OpensAt: now.Add(-60 * 24 * time.Hour), ClosesAt: now.Add(time.Hour),
		Participants: []pipeline.Participant{{ID: "ana", Name: "Ana"}, {ID: "bia", Name: "Bia"}}}
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10,
		Report: ReportConfig{Window: time.Minute, Grace: 5 * time.Second, Horizon: 15 * time.Minute}},
		Deps{Catalog: oneCatalog{p}, Windows: store, Live: live, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func getReportPath(t *testing.T, s *Server, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

// The report per day holds every vote, the folded days' and the live
// windows' too; per hour it holds the hours still kept and says from when
// (hourlyFrom), so that nobody reads a sum of hours that misses the folded
// days as the total. The hourly CSV refuses (410 hours_folded) rather than
// answer rows that do not add up; the daily CSV says what the JSON says.
func TestReportDaysAndFoldedHours(t *testing.T) {
	now := time.Date(2026, 4, 10, 12, 30, 0, 0, time.UTC)
	d := func(n int) time.Time { return time.Date(2026, 3, n, 0, 0, 0, 0, time.UTC) }
	folded := foldedStore{
		hoursFrom: d(12),
		hours: []pipeline.Count{
			{Start: d(12).Add(5 * time.Hour), ParticipantID: "ana", Votes: 3},
			{Start: d(12).Add(5 * time.Hour), ParticipantID: "bia", Votes: 4},
			{Start: now.Add(-3 * time.Hour).Truncate(time.Hour), ParticipantID: "ana", Votes: 10},
		},
		days: []pipeline.Count{
			{Start: d(10), ParticipantID: "ana", Votes: 100},
			{Start: d(10), ParticipantID: "bia", Votes: 200},
			{Start: d(11), ParticipantID: "bia", Votes: 50},
			{Start: d(12), ParticipantID: "ana", Votes: 3},
			{Start: d(12), ParticipantID: "bia", Votes: 4},
			{Start: now.Truncate(24 * time.Hour), ParticipantID: "ana", Votes: 10},
		},
	}
	live := liveWindows{{ParticipantID: "bia", Shard: 0, Start: now.Add(-2 * time.Minute).Truncate(time.Minute), Votes: 7}}

	for _, tc := range []struct {
		name      string
		store     foldedStore
		wantTotal int64
		wantDays  int
	}{
		{"days folded", folded, 100 + 200 + 50 + 3 + 4 + 10 + 7, 4},
		{"nothing folded", foldedStore{hours: folded.hours, days: folded.days[3:]}, 3 + 4 + 10 + 7, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reportServer(t, tc.store, live, now)
			w := getReportPath(t, s, "/api/v1/production/paredoes/p1/report")
			if w.Code != http.StatusOK {
				t.Fatalf("report: %d %s", w.Code, w.Body)
			}
			var r testReport
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			var byDay, byHour, byParticipant int64
			for _, x := range r.Daily {
				byDay += x.Total
			}
			for _, x := range r.Hourly {
				byHour += x.Total
			}
			for _, x := range r.Participants {
				byParticipant += x.Votes
			}
			if r.Total != tc.wantTotal || byDay != r.Total || byParticipant != r.Total || len(r.Daily) != tc.wantDays {
				t.Fatalf("total %d, days add up to %d over %d days, participants to %d; want %d over %d days",
					r.Total, byDay, len(r.Daily), byParticipant, tc.wantTotal, tc.wantDays)
			}
			last := r.Daily[len(r.Daily)-1]
			if !last.Day.Equal(now.Truncate(24*time.Hour)) || last.Total != 17 {
				t.Fatalf("today %+v: want the SQL hour and the live window, 17 votes", last)
			}
			if tc.store.hoursFrom.IsZero() {
				if r.HourlyFrom != nil || byHour != r.Total {
					t.Fatalf("nothing folded: hourlyFrom %v, hours add up to %d of %d", r.HourlyFrom, byHour, r.Total)
				}
			} else {
				if r.HourlyFrom == nil || !r.HourlyFrom.Equal(tc.store.hoursFrom) {
					t.Fatalf("hourlyFrom %v, want %v", r.HourlyFrom, tc.store.hoursFrom)
				}
				if r.Hourly[0].Hour.Before(*r.HourlyFrom) || byHour != 3+4+10+7 {
					t.Fatalf("hourly %+v: want the kept hours from %v only", r.Hourly, r.HourlyFrom)
				}
			}
			if !bytes.Contains(w.Body.Bytes(), []byte(`"hourlyFrom":`)) {
				t.Fatalf("hourlyFrom missing from %s", w.Body)
			}

			// The daily CSV is the JSON's days.
			w = getReportPath(t, s, "/api/v1/production/paredoes/p1/report.csv?by=day")
			if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Disposition"), "paredao-p1-daily.csv") {
				t.Fatalf("daily csv: %d %v %s", w.Code, w.Header(), w.Body)
			}
			rows, err := csv.NewReader(w.Body).ReadAll()
			if err != nil || len(rows) != len(r.Daily)+1 || strings.Join(rows[0], ",") != "day,total,ana,bia" {
				t.Fatalf("daily csv %q: %v", rows, err)
			}
			for i, x := range r.Daily {
				want := []string{x.Day.Format(time.RFC3339), strconv.FormatInt(x.Total, 10),
					strconv.FormatInt(x.Participants[0].Votes, 10), strconv.FormatInt(x.Participants[1].Votes, 10)}
				if strings.Join(rows[i+1], ",") != strings.Join(want, ",") {
					t.Fatalf("daily csv row %v, want %v", rows[i+1], want)
				}
			}

			// The hourly CSV: as before while every hour is kept, refused
			// once days are folded.
			for _, path := range []string{"/api/v1/production/paredoes/p1/report.csv", "/api/v1/production/paredoes/p1/report.csv?by=hour"} {
				w = getReportPath(t, s, path)
				if tc.store.hoursFrom.IsZero() {
					if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "hour,total,ana,bia\n") ||
						!strings.Contains(w.Header().Get("Content-Disposition"), "paredao-p1-hourly.csv") {
						t.Fatalf("%s: %d %s", path, w.Code, w.Body)
					}
					continue
				}
				if w.Code != http.StatusGone || !strings.Contains(w.Body.String(), `"code":"hours_folded"`) ||
					!strings.Contains(w.Body.String(), "by=day") || !strings.Contains(w.Body.String(), "2026-03-12T00:00:00Z") {
					t.Fatalf("%s with folded days: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}

// A CSV granularity other than hour or day is a 400 that says which exist.
func TestReportCSVUnknownGranularity(t *testing.T) {
	now := time.Date(2026, 4, 10, 12, 30, 0, 0, time.UTC)
	s := reportServer(t, foldedStore{}, liveWindows{}, now)
	for _, by := range []string{"week", "HOUR", "minute"} {
		w := getReportPath(t, s, "/api/v1/production/paredoes/p1/report.csv?by="+by)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"code":"invalid_request"`) || !strings.Contains(w.Body.String(), "hour or day") {
			t.Fatalf("by=%s: %d %s", by, w.Code, w.Body)
		}
	}
}
