package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)

	"github.com/paredao/paredao/pipeline"
)

// sqliteStore is the embedded Store: one SQLite file, pure Go. Times are unix
// seconds. Writes go through a single connection (SQLite has one writer;
// transactions start IMMEDIATE so a second process waits on busy_timeout
// instead of failing to upgrade a read lock); reports use a small pool of
// read-only connections, which WAL lets read while a batch is written.
type sqliteStore struct {
	write *sql.DB
	read  *sql.DB
}

// sqlitePragmas apply to every connection. synchronous=FULL: a committed batch
// survives a power loss, because the sink commits the Kafka offsets right
// after.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"

func openSQLite(ctx context.Context, path string) (*sqliteStore, error) {
	path = strings.TrimPrefix(path, "//") // sqlite:///abs/path and sqlite://rel/path too
	switch {
	case path == "":
		return nil, fmt.Errorf("%w: sqlite: wants a file path", ErrUnsupportedURL)
	case strings.ContainsRune(path, '?'), strings.HasPrefix(path, ":memory:"), strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("%w: sqlite:%s: want a plain file path", ErrUnsupportedURL, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write, err := sql.Open("sqlite", path+"?"+sqlitePragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// The writer connection creates the file and switches it to WAL before
	// any reader opens it.
	if err := write.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, errors.Join(err, write.Close()))
	}
	read, err := sql.Open("sqlite", path+"?"+sqlitePragmas+"&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, errors.Join(err, write.Close()))
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	return &sqliteStore{write: write, read: read}, nil
}

func (s *sqliteStore) Ping(ctx context.Context) error {
	if err := errors.Join(s.write.PingContext(ctx), s.read.PingContext(ctx)); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

func (s *sqliteStore) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

func (s *sqliteStore) Migrate(ctx context.Context) error {
	all, err := migrations("sqlite")
	if err != nil {
		return err
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied := make(map[int]bool)
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return fmt.Errorf("read schema_migrations: %w", errors.Join(err, rows.Close()))
			}
			applied[v] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		todo, err := pending(all, applied)
		if err != nil {
			return err
		}
		for _, m := range todo {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %04d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().Unix()); err != nil {
				return fmt.Errorf("record %04d_%s: %w", m.version, m.name, err)
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction and commits it when fn succeeds.
func (s *sqliteStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

const (
	sqliteUpsertCount = `
INSERT INTO window_counts (paredao_id, window_start, participant_id, shard, votes) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (paredao_id, window_start, participant_id, shard)
DO UPDATE SET votes = excluded.votes WHERE excluded.votes > window_counts.votes`

	sqliteInsertLate = `
INSERT INTO late_votes (paredao_id, late_id, window_start, participant_id, shard) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (paredao_id, late_id) DO NOTHING`

	sqliteAddHourly = `
INSERT INTO hourly_counts (paredao_id, hour_start, participant_id, votes) VALUES (?, ?, ?, ?)
ON CONFLICT (paredao_id, hour_start, participant_id) DO UPDATE SET votes = votes + excluded.votes`

	sqliteAddDaily = `
INSERT INTO daily_counts (paredao_id, day_start, participant_id, votes) VALUES (?, ?, ?, ?)
ON CONFLICT (paredao_id, day_start, participant_id) DO UPDATE SET votes = votes + excluded.votes`
)

// watermarks are how far a paredão is rolled up: windows starting before
// hours live in hourly_counts (or daily_counts), windows starting before days
// in daily_counts only. days never passes hours.
type watermarks struct {
	hours, days sql.NullInt64
}

func (w watermarks) inHours(start int64) bool { return w.hours.Valid && start < w.hours.Int64 }
func (w watermarks) inDays(start int64) bool  { return w.days.Valid && start < w.days.Int64 }

// readWatermarks reads a paredão's watermarks in tx.
func readWatermarks(ctx context.Context, tx *sql.Tx, paredaoID string) (watermarks, error) {
	var w watermarks
	err := tx.QueryRowContext(ctx, `SELECT rolled_until, days_rolled_until FROM paredoes WHERE paredao_id = ?`, paredaoID).Scan(&w.hours, &w.days)
	return w, err
}

func (s *sqliteStore) Apply(ctx context.Context, records []*pipeline.WindowRecord) error {
	if len(records) == 0 {
		return nil
	}
	b, err := newBatch(records)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// watermarks per paredão: windows starting before them are rolled up.
		marks := make(map[string]watermarks, len(b.paredoes))
		for _, p := range b.paredoes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO paredoes (paredao_id) VALUES (?) ON CONFLICT DO NOTHING`, p); err != nil {
				return err
			}
			w, err := readWatermarks(ctx, tx, p)
			if err != nil {
				return err
			}
			marks[p] = w
		}
		rolled := func(paredaoID string, start int64) bool { return marks[paredaoID].inHours(start) }
		if len(b.counts) > 0 {
			upsert, err := tx.PrepareContext(ctx, sqliteUpsertCount)
			if err != nil {
				return err
			}
			defer func() { _ = upsert.Close() }() // the statement dies with the transaction anyway
			for _, c := range b.counts {
				if rolled(c.paredaoID, c.windowStart) {
					continue // already folded into hourly_counts
				}
				if _, err := upsert.ExecContext(ctx, c.paredaoID, c.windowStart, c.participantID, c.shard, c.votes); err != nil {
					return err
				}
			}
		}
		if len(b.lates) > 0 {
			insert, err := tx.PrepareContext(ctx, sqliteInsertLate)
			if err != nil {
				return err
			}
			defer func() { _ = insert.Close() }() // the statement dies with the transaction anyway
			for _, l := range b.lates {
				res, err := insert.ExecContext(ctx, l.paredaoID, l.lateID, l.windowStart, l.participantID, l.shard)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				switch {
				case n != 1: // delivered before
				case marks[l.paredaoID].inDays(l.windowStart):
					if _, err := tx.ExecContext(ctx, sqliteAddDaily, l.paredaoID, dayStart(l.windowStart), l.participantID, 1); err != nil {
						return err
					}
				case rolled(l.paredaoID, l.windowStart):
					if _, err := tx.ExecContext(ctx, sqliteAddHourly, l.paredaoID, hourStart(l.windowStart), l.participantID, 1); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply %d records: %w", len(records), err)
	}
	return nil
}

const (
	// sqliteWatermark is the start of the first window not rolled up.
	sqliteWatermark = `coalesce((SELECT rolled_until FROM paredoes WHERE paredao_id = ?1), -9223372036854775808)`

	// sqliteHour is the UTC hour start of window_start.
	sqliteHour = `(window_start - ((window_start % 3600) + 3600) % 3600)`

	sqliteShards = `
SELECT participant_id, shard, window_start, votes
FROM window_counts
WHERE paredao_id = ?1 AND window_start >= ?2 AND window_start < ?3
ORDER BY window_start, participant_id, shard`

	sqliteLate = `
SELECT window_start, participant_id, count(*)
FROM late_votes
WHERE paredao_id = ?1 AND window_start >= max(?2, ` + sqliteWatermark + `) AND window_start < ?3
GROUP BY window_start, participant_id
ORDER BY window_start, participant_id`

	sqliteMinutes = `
SELECT window_start, participant_id, sum(votes)
FROM (
    SELECT window_start, participant_id, votes
    FROM window_counts
    WHERE paredao_id = ?1 AND window_start >= ?2 AND window_start < ?3
    UNION ALL
    SELECT window_start, participant_id, 1
    FROM late_votes
    WHERE paredao_id = ?1 AND window_start >= max(?2, ` + sqliteWatermark + `) AND window_start < ?3
)
GROUP BY window_start, participant_id
ORDER BY window_start, participant_id`

	// sqliteHours sums shards per window first, in primary-key order (no
	// sorting), then the few rows per window into hours.
	sqliteHours = `
SELECT hour, participant_id, sum(votes)
FROM (
    SELECT ` + sqliteHour + ` AS hour, participant_id, sum(votes) AS votes
    FROM window_counts
    WHERE paredao_id = ?1 AND window_start < ?2
    GROUP BY window_start, participant_id
    UNION ALL
    SELECT ` + sqliteHour + `, participant_id, count(*)
    FROM late_votes
    WHERE paredao_id = ?1 AND window_start >= ` + sqliteWatermark + ` AND window_start < ?2
    GROUP BY window_start, participant_id
    UNION ALL
    SELECT hour_start, participant_id, votes
    FROM hourly_counts
    WHERE paredao_id = ?1 AND hour_start < ?2
)
GROUP BY hour, participant_id
ORDER BY hour, participant_id`
)

func (s *sqliteStore) Shards(ctx context.Context, paredaoID string, from, to time.Time) ([]ShardRow, error) {
	rows, err := s.read.QueryContext(ctx, sqliteShards, paredaoID, ceilUnix(from), ceilUnix(to))
	if err != nil {
		return nil, fmt.Errorf("shards of %s: %w", paredaoID, err)
	}
	defer func() { _ = rows.Close() }() // for the early returns; Close is checked below
	var out []ShardRow
	for rows.Next() {
		var r ShardRow
		var start int64
		if err := rows.Scan(&r.ParticipantID, &r.Shard, &start, &r.Votes); err != nil {
			return nil, fmt.Errorf("shards of %s: %w", paredaoID, err)
		}
		r.Start = time.Unix(start, 0).UTC()
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("shards of %s: %w", paredaoID, err)
	}
	return out, nil
}

func (s *sqliteStore) Late(ctx context.Context, paredaoID string, from, to time.Time) ([]CountRow, error) {
	return s.counts(ctx, "late votes", sqliteLate, paredaoID, ceilUnix(from), ceilUnix(to))
}

func (s *sqliteStore) Minutes(ctx context.Context, paredaoID string, from, to time.Time) ([]CountRow, error) {
	return s.counts(ctx, "minutes", sqliteMinutes, paredaoID, ceilUnix(from), ceilUnix(to))
}

func (s *sqliteStore) Hours(ctx context.Context, paredaoID string, before time.Time) ([]CountRow, error) {
	return s.counts(ctx, "hours", sqliteHours, paredaoID, ceilUnix(before))
}

// sqliteFoldedDays are the daily rows of days starting before ?2.
const sqliteFoldedDays = `
SELECT day_start, participant_id, votes
FROM daily_counts
WHERE paredao_id = ?1 AND day_start < ?2
ORDER BY day_start, participant_id`

func (s *sqliteStore) HoursAndDays(ctx context.Context, paredaoID string, before time.Time) (hours, days []CountRow, hoursFrom time.Time, err error) {
	// A read transaction in WAL mode reads one snapshot, taken at its first
	// query: a day folded meanwhile is seen in neither or in both.
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("hours and days of %s: %w", paredaoID, err)
	}
	defer func() { _ = tx.Rollback() }() // it only read: rolling back ends it
	hours, err = countRows(ctx, tx, "hours", sqliteHours, paredaoID, ceilUnix(before))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	folded, err := countRows(ctx, tx, "days", sqliteFoldedDays, paredaoID, ceilUnix(before))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	var wm sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT days_rolled_until FROM paredoes WHERE paredao_id = ?`, paredaoID).Scan(&wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, time.Time{}, fmt.Errorf("day watermark of %s: %w", paredaoID, err)
	}
	if wm.Valid {
		hoursFrom = time.Unix(wm.Int64, 0).UTC()
	}
	return hours, sumDays(hours, folded), hoursFrom, nil
}

// counts runs a report query whose rows are (start, participant, votes).
func (s *sqliteStore) counts(ctx context.Context, what, query string, paredaoID string, args ...any) ([]CountRow, error) {
	return countRows(ctx, s.read, what, query, paredaoID, args...)
}

// sqliteQueryer is the read pool or a read transaction.
type sqliteQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// countRows runs a report query whose rows are (start, participant, votes)
// on db.
func countRows(ctx context.Context, db sqliteQueryer, what, query string, paredaoID string, args ...any) ([]CountRow, error) {
	rows, err := db.QueryContext(ctx, query, append([]any{paredaoID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", what, paredaoID, err)
	}
	defer func() { _ = rows.Close() }() // for the early returns; Close is checked below
	var out []CountRow
	for rows.Next() {
		var r CountRow
		var start int64
		if err := rows.Scan(&start, &r.ParticipantID, &r.Votes); err != nil {
			return nil, fmt.Errorf("%s of %s: %w", what, paredaoID, err)
		}
		r.Start = time.Unix(start, 0).UTC()
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("%s of %s: %w", what, paredaoID, err)
	}
	return out, nil
}

const (
	sqliteFoldCounts = `
INSERT INTO hourly_counts (paredao_id, hour_start, participant_id, votes)
SELECT paredao_id, ` + sqliteHour + `, participant_id, sum(votes)
FROM window_counts
WHERE paredao_id = ?1 AND window_start < ?2
GROUP BY 2, 3
ON CONFLICT (paredao_id, hour_start, participant_id) DO UPDATE SET votes = votes + excluded.votes`

	sqliteFoldLates = `
INSERT INTO hourly_counts (paredao_id, hour_start, participant_id, votes)
SELECT paredao_id, ` + sqliteHour + `, participant_id, count(*)
FROM late_votes
WHERE paredao_id = ?1 AND window_start >= ` + sqliteWatermark + ` AND window_start < ?2
GROUP BY 2, 3
ON CONFLICT (paredao_id, hour_start, participant_id) DO UPDATE SET votes = votes + excluded.votes`

	sqliteCountLates = `
SELECT count(*) FROM late_votes
WHERE paredao_id = ?1 AND window_start >= ` + sqliteWatermark + ` AND window_start < ?2`
)

func (s *sqliteStore) RollUp(ctx context.Context, olderThan time.Time) (int64, error) {
	cutoff := olderThan.Truncate(time.Hour).Unix()
	ids, err := s.rollUpCandidates(ctx, sqliteHourRollUpCandidates, cutoff)
	if err != nil {
		return 0, fmt.Errorf("roll up: %w", err)
	}
	var total int64
	for _, id := range ids {
		n, err := s.rollUpParedao(ctx, id, cutoff)
		if err != nil {
			return total, fmt.Errorf("roll up %s: %w", id, err)
		}
		total += n
	}
	return total, nil
}

func (s *sqliteStore) RollUpDays(ctx context.Context, olderThan time.Time) (int64, error) {
	cutoff := dayCutoff(olderThan).Unix()
	ids, err := s.rollUpCandidates(ctx, sqliteDayRollUpCandidates, cutoff)
	if err != nil {
		return 0, fmt.Errorf("roll up days: %w", err)
	}
	var total int64
	for _, id := range ids {
		n, err := s.rollUpDaysParedao(ctx, id, cutoff)
		if err != nil {
			return total, fmt.Errorf("roll up days of %s: %w", id, err)
		}
		total += n
	}
	return total, nil
}

// The paredões whose roll-up watermark (hours, days) is behind a cutoff.
const (
	sqliteHourRollUpCandidates = `SELECT paredao_id FROM paredoes WHERE rolled_until IS NULL OR rolled_until < ? ORDER BY paredao_id`
	sqliteDayRollUpCandidates  = `SELECT paredao_id FROM paredoes WHERE days_rolled_until IS NULL OR days_rolled_until < ? ORDER BY paredao_id`
)

// rollUpCandidates lists the paredões of query (sqliteHourRollUpCandidates,
// sqliteDayRollUpCandidates) whose watermark is behind cutoff.
func (s *sqliteStore) rollUpCandidates(ctx context.Context, query string, cutoff int64) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, query, cutoff)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return ids, nil
}

// rollUpParedao folds one paredão's minute rows before cutoff in one
// transaction.
func (s *sqliteStore) rollUpParedao(ctx context.Context, paredaoID string, cutoff int64) (int64, error) {
	var folded int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		w, err := readWatermarks(ctx, tx, paredaoID)
		if err != nil {
			return err
		}
		if w.hours.Valid && w.hours.Int64 >= cutoff {
			return nil // another roll-up got here first
		}
		n, err := foldMinutes(ctx, tx, paredaoID, cutoff)
		if err != nil || n == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE paredoes SET rolled_until = ? WHERE paredao_id = ?`, cutoff, paredaoID); err != nil {
			return fmt.Errorf("move watermark: %w", err)
		}
		folded = n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return folded, nil
}

// foldMinutes adds a paredão's count rows before cutoff, and its late votes
// between its hour watermark and cutoff, to the hourly rows and deletes the
// count rows; the caller moves the watermark. It returns how many minute
// rows it folded.
func foldMinutes(ctx context.Context, tx *sql.Tx, paredaoID string, cutoff int64) (int64, error) {
	if _, err := tx.ExecContext(ctx, sqliteFoldCounts, paredaoID, cutoff); err != nil {
		return 0, fmt.Errorf("fold counts: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM window_counts WHERE paredao_id = ? AND window_start < ?`, paredaoID, cutoff)
	if err != nil {
		return 0, fmt.Errorf("fold counts: %w", err)
	}
	counts, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("fold counts: %w", err)
	}
	var lates int64
	if err := tx.QueryRowContext(ctx, sqliteCountLates, paredaoID, cutoff).Scan(&lates); err != nil {
		return 0, fmt.Errorf("fold late votes: %w", err)
	}
	if lates > 0 {
		if _, err := tx.ExecContext(ctx, sqliteFoldLates, paredaoID, cutoff); err != nil {
			return 0, fmt.Errorf("fold late votes: %w", err)
		}
	}
	return counts + lates, nil
}

const (
	// sqliteDay is the UTC day start of hour_start.
	sqliteDay = `(hour_start - ((hour_start % 86400) + 86400) % 86400)`

	sqliteFoldHours = `
INSERT INTO daily_counts (paredao_id, day_start, participant_id, votes)
SELECT paredao_id, ` + sqliteDay + `, participant_id, sum(votes)
FROM hourly_counts
WHERE paredao_id = ?1 AND hour_start < ?2
GROUP BY 2, 3
ON CONFLICT (paredao_id, day_start, participant_id) DO UPDATE SET votes = votes + excluded.votes`

	// sqliteMoveWatermarks moves the day watermark to ?2 and the hour
	// watermark to ?2 when it is behind.
	sqliteMoveWatermarks = `
UPDATE paredoes SET rolled_until = max(coalesce(rolled_until, ?2), ?2), days_rolled_until = ?2
WHERE paredao_id = ?1`
)

// rollUpDaysParedao folds one paredão's days before cutoff in one
// transaction: the minute rows the hourly roll-up has not reached into
// hours, then the hours into days.
func (s *sqliteStore) rollUpDaysParedao(ctx context.Context, paredaoID string, cutoff int64) (int64, error) {
	var folded int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		w, err := readWatermarks(ctx, tx, paredaoID)
		if err != nil {
			return err
		}
		if w.days.Valid && w.days.Int64 >= cutoff {
			return nil // another roll-up got here first
		}
		var minutes int64
		if !w.hours.Valid || w.hours.Int64 < cutoff {
			if minutes, err = foldMinutes(ctx, tx, paredaoID, cutoff); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, sqliteFoldHours, paredaoID, cutoff); err != nil {
			return fmt.Errorf("fold hours: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM hourly_counts WHERE paredao_id = ? AND hour_start < ?`, paredaoID, cutoff)
		if err != nil {
			return fmt.Errorf("fold hours: %w", err)
		}
		hours, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("fold hours: %w", err)
		}
		if minutes+hours == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, sqliteMoveWatermarks, paredaoID, cutoff); err != nil {
			return fmt.Errorf("move watermarks: %w", err)
		}
		folded = minutes + hours
		return nil
	})
	if err != nil {
		return 0, err
	}
	return folded, nil
}

func (s *sqliteStore) PutPhoto(ctx context.Context, hash string, sizes map[int][]byte) error {
	if err := validPhoto(hash, sizes); err != nil {
		return err
	}
	now := time.Now().Unix()
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		for size, data := range sizes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO photos (hash, size, data, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (hash, size) DO NOTHING`, hash, size, data, now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("put photo %s: %w", hash, err)
	}
	return nil
}

func (s *sqliteStore) Photo(ctx context.Context, hash string, size int) ([]byte, error) {
	var data []byte
	err := s.read.QueryRowContext(ctx, `SELECT data FROM photos WHERE hash = ? AND size = ?`, hash, size).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read photo %s: %w", hash, err)
	}
	return data, nil
}
