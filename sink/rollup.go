package sink

import (
	"context"
	"log/slog"
	"time"
)

// RollUpEvery folds, every 10 minutes, minute rows of store older than
// hoursAfter into hourly rows, then hourly rows older than daysAfter into
// UTC days (either 0: that fold never runs; both 0: it returns at once). A
// fold that fails is logged and tried again at the next tick; it commits
// nothing unfolded. It returns nil when ctx ends.
func RollUpEvery(ctx context.Context, store Store, hoursAfter, daysAfter time.Duration, log *slog.Logger) error {
	if hoursAfter <= 0 && daysAfter <= 0 {
		return nil
	}
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		RollUpOnce(ctx, store, hoursAfter, daysAfter, time.Now(), log)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// RollUpOnce runs both folds at now: hours first, so that the daily fold
// finds the minutes of its days folded already. A failure is logged, not
// returned.
func RollUpOnce(ctx context.Context, store Store, hoursAfter, daysAfter time.Duration, now time.Time, log *slog.Logger) {
	if hoursAfter > 0 {
		n, err := store.RollUp(ctx, now.Add(-hoursAfter))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("roll-up failed", "err", err)
		case n > 0:
			log.Info("rolled up minute rows into hours", "rows", n)
		}
	}
	if daysAfter > 0 {
		n, err := store.RollUpDays(ctx, now.Add(-daysAfter))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("daily roll-up failed", "err", err)
		case n > 0:
			log.Info("rolled up hourly rows into days", "rows", n)
		}
	}
}
