package processors

import (
	"context"
	"log/slog"
	"time"
)

// CloseWindowsEvery visits the table of the tally that current returns (nil
// while there is none) every interval so closed windows reach the sink (goka
// has no timers): when a batch was applied or a window closed since the last
// visit, and at least every closeVisitMax (partitions a rebalance brought
// in), so an idle tally costs nothing. It returns nil when ctx ends.
func CloseWindowsEvery(ctx context.Context, current func() *Tally, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last time.Time
	var lastProc *Tally
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		p := current()
		if p == nil || !p.Recovered() {
			continue
		}
		now := time.Now()
		if p == lastProc && !p.CloseDue(now) && now.Sub(last) < closeVisitMax {
			continue
		}
		lastProc, last = p, now
		p.BeginVisit()
		if err := p.VisitAll(ctx, CloseVisitor, now); err != nil && ctx.Err() == nil {
			log.Debug("close windows visit", "err", err)
			last = time.Time{} // visit again at the next tick
		}
	}
}

// closeVisitMax is the longest time between two close visits.
const closeVisitMax = 10 * time.Second
