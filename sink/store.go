package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// ErrUnsupportedURL is returned by Open for a database url that names no
// store it knows.
var ErrUnsupportedURL = errors.New("sink: unsupported database url")

// ErrInvalidRecord is returned by Apply for a record that can never be
// stored: a bad paredão or participant id, a negative shard or count, a zero
// window start, or a late record that is not one vote. Apply stores nothing
// of a batch that holds one.
var ErrInvalidRecord = errors.New("sink: invalid window record")

// Store keeps closed-window counts and answers the report queries. Both
// implementations (PostgreSQL and SQLite) pass the same contract suite.
type Store interface {
	// Migrate creates or upgrades the schema. It is idempotent and safe to
	// run concurrently from two processes.
	Migrate(ctx context.Context) error
	// Ping tells whether the database answers.
	Ping(ctx context.Context) error
	// Apply stores records in one transaction, idempotently: a count record
	// keeps the greatest count seen for its (paredão, participant, shard,
	// window); a late record is inserted once by (paredão, LateID). A count
	// record for a window under its paredão's roll-up watermark is ignored;
	// a late one for such a window is added to its hourly row, or to its
	// daily row when its day is rolled up too. Records of several paredões
	// may be mixed.
	Apply(ctx context.Context, records []*pipeline.WindowRecord) error
	// Shards returns the count records per (participant, shard, window) for
	// windows starting in [from, to), late votes not included, ordered by
	// window, participant and shard. Rolled-up windows have no rows.
	Shards(ctx context.Context, paredaoID string, from, to time.Time) ([]ShardRow, error)
	// Late returns the late votes per (window, participant) for windows
	// starting in [from, to) that are not rolled up, ordered by window and
	// participant.
	Late(ctx context.Context, paredaoID string, from, to time.Time) ([]CountRow, error)
	// Hours returns votes per (UTC hour start, participant) over every window
	// starting before before: count records summed over shards, late votes,
	// and rolled-up hourly rows (a rolled-up hour counts whole when it starts
	// before before). Ordered by hour and participant. The hours of a day
	// folded by RollUpDays have no hourly detail and are not returned: see
	// HoursAndDays.
	Hours(ctx context.Context, paredaoID string, before time.Time) ([]CountRow, error)
	// HoursAndDays returns, read from one snapshot, what Hours returns and
	// the votes per (UTC day start, participant) over the same windows: the
	// hours summed by day, and the days RollUpDays folded (a folded day
	// counts whole when it starts before before). Both ordered by start and
	// participant. hoursFrom is the paredão's day watermark: the hours before
	// it are in days only; zero when no day is folded.
	HoursAndDays(ctx context.Context, paredaoID string, before time.Time) (hours, days []CountRow, hoursFrom time.Time, err error)
	// Minutes returns votes per (window start, participant) for windows
	// starting in [from, to): count records summed over shards plus late
	// votes. Rolled-up windows have no minute detail and are not returned.
	// Ordered by window and participant.
	Minutes(ctx context.Context, paredaoID string, from, to time.Time) ([]CountRow, error)
	// RollUp folds every minute row of a window starting before olderThan,
	// truncated to the hour, into hourly rows, keeping every total exact, and
	// moves the watermark of each paredão it folded rows of to that hour. It
	// returns how many minute rows it folded: per-shard count rows plus late
	// votes.
	//
	// Only roll up windows that tally no longer sends counts for (older than
	// its window, grace and horizon, plus the sink's lag): a count record
	// that arrives for a window under the watermark is ignored.
	RollUp(ctx context.Context, olderThan time.Time) (int64, error)
	// RollUpDays folds the hourly rows of every UTC day ending by olderThan
	// (olderThan truncated to the UTC day) into daily rows, keeping every
	// total exact, and moves the day watermark of each paredão it folded rows
	// of to that day. Minute rows of those days that RollUp has not folded
	// yet are folded into hours on the way (the hour watermark moves with
	// the day watermark, never below it). It returns how many rows it
	// folded: those minute rows plus hourly rows.
	//
	// A late record that arrives for a folded day is added to its daily row,
	// once; a count record for one is ignored, as under the hour watermark.
	RollUpDays(ctx context.Context, olderThan time.Time) (int64, error)
	// PutAuditRun creates or replaces a recount's run row (see
	// pipeline.AuditRun); the store sets UpdatedAt.
	PutAuditRun(ctx context.Context, r pipeline.AuditRun) error
	// LastAuditRun returns the newest run of paredaoID (done: the newest
	// with status "done"), nil and no error when there is none.
	LastAuditRun(ctx context.Context, paredaoID string, done bool) (*pipeline.AuditRun, error)
	// PutAuditChunks and PutAuditIndex add a run's Merkle leaves and its
	// index rows, in one transaction each call.
	PutAuditChunks(ctx context.Context, runID string, chunks []pipeline.AuditChunk) error
	PutAuditIndex(ctx context.Context, runID string, rows []pipeline.AuditIndexRow) error
	// AuditChunk returns one chunk of a run's tree, nil when none.
	AuditChunk(ctx context.Context, runID string, tree int, chunk int64) (*pipeline.AuditChunk, error)
	// AuditRoots returns the roots of a run's tree's chunks, in order.
	AuditRoots(ctx context.Context, runID string, tree int) ([][]byte, error)
	// AuditIndexRow returns the run's index row of greatest first key ≤
	// key, nil when none.
	AuditIndexRow(ctx context.Context, runID string, key int64) (*pipeline.AuditIndexRow, error)
	// PutPhoto stores the sizes (edge in pixels → image file) of the photo
	// hash (hex SHA-256, 64 characters) in one transaction. A photo's rows
	// never change: storing a (hash, size) again keeps the first.
	PutPhoto(ctx context.Context, hash string, sizes map[int][]byte) error
	// Photo returns the file of hash at size, or nil and no error when
	// there is none.
	Photo(ctx context.Context, hash string, size int) ([]byte, error)
	// Close releases the database connections.
	Close() error
}

// ShardRow is one count record as stored: the greatest absolute count seen
// for (participant, shard, window); Start is the window start, UTC. It is
// pipeline.ShardWindow, so a Store serves the reports' interfaces as it is.
type ShardRow = pipeline.ShardWindow

// CountRow is the votes of one participant in one window or hour; Start is
// the window or hour start, UTC. It is pipeline.Count.
type CountRow = pipeline.Count

// Open opens the store named by url:
//
//   - "postgres://…" or "postgresql://…": PostgreSQL through a pgx pool;
//   - "sqlite:PATH": an embedded SQLite file, its parent directory created,
//     in WAL mode with a busy timeout, foreign keys on and one writer
//     connection.
//
// Open does not create the schema: call Migrate.
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
	}
	return nil, fmt.Errorf("%w: want postgres://… or sqlite:PATH", ErrUnsupportedURL)
}

// ErrInvalidPhoto is returned by PutPhoto for a hash that is not 64 hex
// digits, no size, or a size that is not positive or has no data.
var ErrInvalidPhoto = errors.New("sink: invalid photo")

// validPhoto checks a photo before it is stored.
func validPhoto(hash string, sizes map[int][]byte) error {
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: hash %q", ErrInvalidPhoto, hash)
	}
	if len(sizes) == 0 {
		return fmt.Errorf("%w: no size", ErrInvalidPhoto)
	}
	for size, data := range sizes {
		if size <= 0 || len(data) == 0 {
			return fmt.Errorf("%w: size %d of %d bytes", ErrInvalidPhoto, size, len(data))
		}
	}
	return nil
}

// validRecord checks a record before it is stored.
func validRecord(r *pipeline.WindowRecord) error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: nil", ErrInvalidRecord)
	case !pipeline.ValidID(r.ParedaoID):
		return fmt.Errorf("%w: paredao id %q", ErrInvalidRecord, r.ParedaoID)
	case !pipeline.ValidID(r.ParticipantID):
		return fmt.Errorf("%w: participant id %q", ErrInvalidRecord, r.ParticipantID)
	case r.Shard < 0 || r.Shard > 1<<20:
		return fmt.Errorf("%w: shard %d", ErrInvalidRecord, r.Shard)
	case r.WindowStart.IsZero():
		return fmt.Errorf("%w: zero window start", ErrInvalidRecord)
	case r.Count < 0:
		return fmt.Errorf("%w: count %d", ErrInvalidRecord, r.Count)
	case r.Late() && r.Count != 1:
		return fmt.Errorf("%w: late record %q with count %d, want 1", ErrInvalidRecord, r.LateID, r.Count)
	case len(r.LateID) > 200:
		return fmt.Errorf("%w: late id of %d bytes", ErrInvalidRecord, len(r.LateID))
	}
	return nil
}

// countKey identifies one count record's row.
type countKey struct {
	paredaoID, participantID string
	shard                    int
	windowStart              int64 // unix seconds
}

// countRow is a count record reduced to what is stored.
type countRow struct {
	countKey
	votes int64
}

// lateRow is a late record reduced to what is stored.
type lateRow struct {
	paredaoID, lateID, participantID string
	shard                            int
	windowStart                      int64 // unix seconds
}

// batch is a validated Apply batch: count records reduced to the greatest
// count per row, late records to one per (paredão, LateID), both sorted so
// that concurrent writers lock rows in the same order, and the paredões
// involved, sorted.
type batch struct {
	paredoes []string
	counts   []countRow
	lates    []lateRow
}

// newBatch validates and reduces records.
func newBatch(records []*pipeline.WindowRecord) (*batch, error) {
	counts := make(map[countKey]int64)
	lates := make(map[[2]string]lateRow)
	paredoes := make(map[string]struct{})
	for _, r := range records {
		if err := validRecord(r); err != nil {
			return nil, err
		}
		paredoes[r.ParedaoID] = struct{}{}
		start := r.WindowStart.Unix()
		if r.Late() {
			lates[[2]string{r.ParedaoID, r.LateID}] = lateRow{
				paredaoID: r.ParedaoID, lateID: r.LateID, participantID: r.ParticipantID,
				shard: r.Shard, windowStart: start,
			}
			continue
		}
		k := countKey{paredaoID: r.ParedaoID, participantID: r.ParticipantID, shard: r.Shard, windowStart: start}
		if c, ok := counts[k]; !ok || r.Count > c {
			counts[k] = r.Count
		}
	}
	b := &batch{
		paredoes: make([]string, 0, len(paredoes)),
		counts:   make([]countRow, 0, len(counts)),
		lates:    make([]lateRow, 0, len(lates)),
	}
	for p := range paredoes {
		b.paredoes = append(b.paredoes, p)
	}
	slices.Sort(b.paredoes)
	for k, v := range counts {
		b.counts = append(b.counts, countRow{countKey: k, votes: v})
	}
	slices.SortFunc(b.counts, func(x, y countRow) int {
		return cmp.Or(
			cmp.Compare(x.paredaoID, y.paredaoID),
			cmp.Compare(x.windowStart, y.windowStart),
			cmp.Compare(x.participantID, y.participantID),
			cmp.Compare(x.shard, y.shard),
		)
	})
	for _, l := range lates {
		b.lates = append(b.lates, l)
	}
	slices.SortFunc(b.lates, func(x, y lateRow) int {
		return cmp.Or(cmp.Compare(x.paredaoID, y.paredaoID), cmp.Compare(x.lateID, y.lateID))
	})
	return b, nil
}

// ceilUnix is the first whole second at or after t: window starts are whole
// seconds, so start >= t ⇔ start >= ceilUnix(t), and likewise for <.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// hourStart is the start of the UTC hour holding the unix second s.
func hourStart(s int64) int64 {
	return s - ((s%3600)+3600)%3600
}

// dayStart is the start of the UTC day holding the unix second s.
func dayStart(s int64) int64 {
	return s - ((s%86400)+86400)%86400
}

// dayCutoff is the start of the UTC day holding t: RollUpDays folds the days
// before it.
func dayCutoff(t time.Time) time.Time {
	return time.Unix(dayStart(t.Unix()), 0).UTC()
}

// sumDays is the per-day answer of HoursAndDays: hours summed by UTC day,
// and the rows of folded days (which no hour overlaps: a folded day's hours
// are gone), ordered by day and participant.
func sumDays(hours, folded []CountRow) []CountRow {
	type key struct {
		day         int64
		participant string
	}
	sums := make(map[key]int64, len(folded)+len(hours)/24+1)
	for _, rows := range [][]CountRow{folded, hours} {
		for _, r := range rows {
			sums[key{dayStart(r.Start.Unix()), r.ParticipantID}] += r.Votes
		}
	}
	out := make([]CountRow, 0, len(sums))
	for k, v := range sums {
		out = append(out, CountRow{Start: time.Unix(k.day, 0).UTC(), ParticipantID: k.participant, Votes: v})
	}
	slices.SortFunc(out, func(x, y CountRow) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.ParticipantID, y.ParticipantID))
	})
	return out
}
