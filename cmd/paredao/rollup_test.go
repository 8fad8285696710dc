package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/sink"
)

// The daily roll-up's setting: 30 days by default, 0 turns it off, and it
// must stay above the hourly roll-up (hours fold into days after minutes
// fold into hours) and, alone, beyond the late horizon.
func TestDailyRollupConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{"default 30 days", nil, nil, 720 * time.Hour, ""},
		{"environment", nil, map[string]string{"PAREDAO_DAILY_ROLLUP_AFTER": "240h"}, 240 * time.Hour, ""},
		{"flag wins", []string{"--daily-rollup-after", "100h"}, map[string]string{"PAREDAO_DAILY_ROLLUP_AFTER": "240h"}, 100 * time.Hour, ""},
		{"never", nil, map[string]string{"PAREDAO_DAILY_ROLLUP_AFTER": "0"}, 0, ""},
		{"never, with hours never either", []string{"--rollup-after", "0", "--daily-rollup-after", "0"}, nil, 0, ""},
		{"days without hours", []string{"--rollup-after", "0"}, nil, 720 * time.Hour, ""},
		{"equal to the hourly roll-up", []string{"--rollup-after", "48h", "--daily-rollup-after", "48h"}, nil, 0, "--daily-rollup-after"},
		{"below the hourly roll-up", nil, map[string]string{"PAREDAO_ROLLUP_AFTER": "1000h"}, 0, "above --rollup-after"},
		{"below the late horizon", []string{"--rollup-after", "0", "--daily-rollup-after", "10m"}, nil, 0, "--daily-rollup-after"},
		{"not a duration", []string{"--daily-rollup-after", "monthly"}, nil, 0, "--daily-rollup-after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig("run", tc.args, envOf(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.DailyRollup != tc.want {
				t.Fatalf("daily roll-up after %v, want %v", c.DailyRollup, tc.want)
			}
		})
	}
}

// The sink's roll-up task folds both ways with the configured ages: minute
// rows older than the hourly age into hours, hours older than the daily age
// into UTC days, and the report's totals do not move.
func TestRollUpOnceFoldsHoursAndDays(t *testing.T) {
	ctx := context.Background()
	store, err := sink.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "paredao.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeOK(t, store)
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 4, 10, 12, 0, 0, 0, time.UTC)
	var records []*pipeline.WindowRecord
	var want int64
	for h := range 40 * 24 { // a vote count every hour for 40 days before now
		start := now.Add(-time.Duration(h+1) * time.Hour)
		records = append(records, &pipeline.WindowRecord{ParedaoID: "p1", ParticipantID: "ana", WindowStart: start, Count: int64(h%7 + 1)})
		want += int64(h%7 + 1)
	}
	if err := store.Apply(ctx, records); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	sink.RollUpOnce(ctx, store, 48*time.Hour, 720*time.Hour, now, log)

	hours, days, hoursFrom, err := store.HoursAndDays(ctx, "p1", now)
	if err != nil {
		t.Fatal(err)
	}
	if wantFrom := now.Add(-720 * time.Hour).Truncate(24 * time.Hour); !hoursFrom.Equal(wantFrom) {
		t.Fatalf("hours kept from %v, want %v (30 days back, at the UTC day)", hoursFrom, wantFrom)
	}
	minutes, err := store.Minutes(ctx, "p1", now.Add(-1000*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(minutes) != 48 { // the windows starting 48 hours ago or later
		t.Fatalf("%d minute rows kept, want 48", len(minutes))
	}
	var byDay, byHour int64
	for _, d := range days {
		byDay += d.Votes
	}
	for _, h := range hours {
		byHour += h.Votes
		if h.Start.Before(hoursFrom) {
			t.Fatalf("an hour %v before the day watermark %v", h.Start, hoursFrom)
		}
	}
	if byDay != want {
		t.Fatalf("days add up to %d, want %d", byDay, want)
	}
	if byHour >= want {
		t.Fatalf("hours add up to %d of %d: no day was folded", byHour, want)
	}

	// Either fold off: only the other runs.
	sink.RollUpOnce(ctx, store, 0, 0, now.Add(48*time.Hour), log)
	if _, _, from, _ := store.HoursAndDays(ctx, "p1", now); !from.Equal(hoursFrom) {
		t.Fatalf("with both folds off the day watermark moved to %v", from)
	}
}
