package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paredao/paredao/pipeline"
)

// Advisory locks. Migrate takes pgMigrateLock so that two processes migrating
// at once apply each file once. Apply takes the per-paredão lock
// (pgParedaoLockClass, hashtext(paredao_id)) shared and RollUp and RollUpDays
// take it exclusive, so a count record can never slip under a watermark that
// a concurrent roll-up is moving (it would be folded twice), nor a late vote
// into an hour that is being folded into its day. The one-key and two-key
// lock spaces do not overlap.
const (
	pgMigrateLock      int64 = 0x70617265_64616f01 // "paredao" 1
	pgParedaoLockClass int32 = 0x70617201          // "par" 1
)

// postgresStore is the production Store, on PostgreSQL 14 or newer (for
// date_bin). Times are timestamptz; hours and days are bucketed with date_bin
// from the epoch, so they are UTC hours and days whatever the session time
// zone.
type postgresStore struct {
	pool *pgxpool.Pool
}

func openPostgres(ctx context.Context, url string) (*postgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &postgresStore{pool: pool}, nil
}

func (s *postgresStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

func (s *postgresStore) Close() error {
	s.pool.Close()
	return nil
}

func (s *postgresStore) Migrate(ctx context.Context) error {
	all, err := migrations("postgres")
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrateLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied := make(map[int]bool, len(versions))
		for _, v := range versions {
			applied[int(v)] = true
		}
		todo, err := pending(all, applied)
		if err != nil {
			return err
		}
		for _, m := range todo {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %04d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record %04d_%s: %w", m.version, m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

const (
	pgLockShared = `SELECT pg_advisory_xact_lock_shared($1, hashtext(id)) FROM unnest($2::text[]) AS id`

	pgRegister = `INSERT INTO paredoes (paredao_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`

	// pgUpsertCounts keeps the greatest count per row and ignores the rows
	// under their paredão's watermark. The WHERE of DO UPDATE leaves a row
	// untouched (no new row version) when the count did not grow.
	pgUpsertCounts = `
INSERT INTO window_counts (paredao_id, window_start, participant_id, shard, votes)
SELECT r.paredao_id, r.window_start, r.participant_id, r.shard, r.votes
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int[], $5::bigint[])
     AS r (paredao_id, window_start, participant_id, shard, votes)
JOIN paredoes p ON p.paredao_id = r.paredao_id
WHERE p.rolled_until IS NULL OR r.window_start >= p.rolled_until
ORDER BY 1, 2, 3, 4
ON CONFLICT (paredao_id, window_start, participant_id, shard)
DO UPDATE SET votes = EXCLUDED.votes WHERE window_counts.votes < EXCLUDED.votes`

	// pgInsertLates inserts each late vote once and adds the new ones whose
	// window is rolled up to the daily rows when their day is rolled up, to
	// the hourly rows otherwise. (A data-modifying WITH runs whether or not
	// the statement reads it.)
	pgInsertLates = `
WITH inserted AS (
    INSERT INTO late_votes (paredao_id, late_id, window_start, participant_id, shard)
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::int[])
    ON CONFLICT (paredao_id, late_id) DO NOTHING
    RETURNING paredao_id, window_start, participant_id
), placed AS (
    SELECT i.paredao_id, i.window_start, i.participant_id,
           coalesce(i.window_start < p.days_rolled_until, false) AS in_days,
           coalesce(i.window_start < p.rolled_until, false) AS in_hours
    FROM inserted i JOIN paredoes p ON p.paredao_id = i.paredao_id
), to_days AS (
    INSERT INTO daily_counts (paredao_id, day_start, participant_id, votes)
    SELECT paredao_id, date_bin('1 day', window_start, TIMESTAMPTZ 'epoch'), participant_id, count(*)
    FROM placed
    WHERE in_days
    GROUP BY 1, 2, 3
    ON CONFLICT (paredao_id, day_start, participant_id)
    DO UPDATE SET votes = daily_counts.votes + EXCLUDED.votes
)
INSERT INTO hourly_counts (paredao_id, hour_start, participant_id, votes)
SELECT paredao_id, date_bin('1 hour', window_start, TIMESTAMPTZ 'epoch'), participant_id, count(*)
FROM placed
WHERE in_hours AND NOT in_days
GROUP BY 1, 2, 3
ON CONFLICT (paredao_id, hour_start, participant_id)
DO UPDATE SET votes = hourly_counts.votes + EXCLUDED.votes`
)

func (s *postgresStore) Apply(ctx context.Context, records []*pipeline.WindowRecord) error {
	if len(records) == 0 {
		return nil
	}
	b, err := newBatch(records)
	if err != nil {
		return err
	}
	q := &pgx.Batch{}
	q.Queue(pgLockShared, pgParedaoLockClass, b.paredoes)
	q.Queue(pgRegister, b.paredoes)
	if n := len(b.counts); n > 0 {
		var (
			paredoes     = make([]string, n)
			starts       = make([]time.Time, n)
			participants = make([]string, n)
			shards       = make([]int32, n)
			votes        = make([]int64, n)
		)
		for i, c := range b.counts {
			shard, err := integer("shard", c.shard)
			if err != nil {
				return err
			}
			paredoes[i], starts[i], participants[i] = c.paredaoID, time.Unix(c.windowStart, 0).UTC(), c.participantID
			shards[i], votes[i] = shard, c.votes
		}
		q.Queue(pgUpsertCounts, paredoes, starts, participants, shards, votes)
	}
	if n := len(b.lates); n > 0 {
		var (
			paredoes     = make([]string, n)
			ids          = make([]string, n)
			starts       = make([]time.Time, n)
			participants = make([]string, n)
			shards       = make([]int32, n)
		)
		for i, l := range b.lates {
			shard, err := integer("shard", l.shard)
			if err != nil {
				return err
			}
			paredoes[i], ids[i], starts[i] = l.paredaoID, l.lateID, time.Unix(l.windowStart, 0).UTC()
			participants[i], shards[i] = l.participantID, shard
		}
		q.Queue(pgInsertLates, paredoes, ids, starts, participants, shards)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, q).Close()
	})
	if err != nil {
		return fmt.Errorf("apply %d records: %w", len(records), err)
	}
	return nil
}

const (
	pgShards = `
SELECT participant_id, shard, window_start, votes
FROM window_counts
WHERE paredao_id = $1 AND window_start >= $2 AND window_start < $3
ORDER BY window_start, participant_id, shard`

	// pgWatermark is the start of the first window not rolled up.
	pgWatermark = `coalesce((SELECT rolled_until FROM paredoes WHERE paredao_id = $1), '-infinity')`

	pgLate = `
SELECT window_start, participant_id, count(*)
FROM late_votes
WHERE paredao_id = $1 AND window_start >= $2 AND window_start < $3
  AND window_start >= ` + pgWatermark + `
GROUP BY window_start, participant_id
ORDER BY window_start, participant_id`

	pgMinutes = `
SELECT window_start, participant_id, sum(votes)::bigint
FROM (
    SELECT window_start, participant_id, votes
    FROM window_counts
    WHERE paredao_id = $1 AND window_start >= $2 AND window_start < $3
    UNION ALL
    SELECT window_start, participant_id, 1
    FROM late_votes
    WHERE paredao_id = $1 AND window_start >= $2 AND window_start < $3
      AND window_start >= ` + pgWatermark + `
) AS v
GROUP BY window_start, participant_id
ORDER BY window_start, participant_id`

	pgHours = `
SELECT hour, participant_id, sum(votes)::bigint
FROM (
    SELECT date_bin('1 hour', window_start, TIMESTAMPTZ 'epoch') AS hour, participant_id, sum(votes) AS votes
    FROM window_counts
    WHERE paredao_id = $1 AND window_start < $2
    GROUP BY 1, 2
    UNION ALL
    SELECT date_bin('1 hour', window_start, TIMESTAMPTZ 'epoch'), participant_id, count(*)
    FROM late_votes
    WHERE paredao_id = $1 AND window_start < $2 AND window_start >= ` + pgWatermark + `
    GROUP BY 1, 2
    UNION ALL
    SELECT hour_start, participant_id, votes
    FROM hourly_counts
    WHERE paredao_id = $1 AND hour_start < $2
) AS v
GROUP BY hour, participant_id
ORDER BY hour, participant_id`
)

func (s *postgresStore) Shards(ctx context.Context, paredaoID string, from, to time.Time) ([]ShardRow, error) {
	rows, err := s.pool.Query(ctx, pgShards, paredaoID, bound(from), bound(to))
	if err != nil {
		return nil, fmt.Errorf("shards of %s: %w", paredaoID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ShardRow, error) {
		var r ShardRow
		var shard int32
		err := row.Scan(&r.ParticipantID, &shard, &r.Start, &r.Votes)
		r.Shard, r.Start = int(shard), r.Start.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("shards of %s: %w", paredaoID, err)
	}
	return out, nil
}

func (s *postgresStore) Late(ctx context.Context, paredaoID string, from, to time.Time) ([]CountRow, error) {
	return s.counts(ctx, "late votes", pgLate, paredaoID, bound(from), bound(to))
}

func (s *postgresStore) Minutes(ctx context.Context, paredaoID string, from, to time.Time) ([]CountRow, error) {
	return s.counts(ctx, "minutes", pgMinutes, paredaoID, bound(from), bound(to))
}

func (s *postgresStore) Hours(ctx context.Context, paredaoID string, before time.Time) ([]CountRow, error) {
	return s.counts(ctx, "hours", pgHours, paredaoID, bound(before))
}

// pgFoldedDays are the daily rows of days starting before $2.
const pgFoldedDays = `
SELECT day_start, participant_id, votes
FROM daily_counts
WHERE paredao_id = $1 AND day_start < $2
ORDER BY day_start, participant_id`

func (s *postgresStore) HoursAndDays(ctx context.Context, paredaoID string, before time.Time) (hours, days []CountRow, hoursFrom time.Time, err error) {
	// One REPEATABLE READ transaction reads one snapshot: a day folded
	// meanwhile is seen in neither or in both.
	var folded []CountRow
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if hours, err = pgCounts(ctx, tx, "hours", pgHours, paredaoID, bound(before)); err != nil {
			return err
		}
		if folded, err = pgCounts(ctx, tx, "days", pgFoldedDays, paredaoID, bound(before)); err != nil {
			return err
		}
		var wm *time.Time
		err = tx.QueryRow(ctx, `SELECT days_rolled_until FROM paredoes WHERE paredao_id = $1`, paredaoID).Scan(&wm)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("day watermark of %s: %w", paredaoID, err)
		case wm != nil:
			hoursFrom = wm.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("hours and days of %s: %w", paredaoID, err)
	}
	return hours, sumDays(hours, folded), hoursFrom, nil
}

// bound rounds a range bound up to the whole second, as the SQLite store
// does: window starts are whole seconds, and timestamptz would otherwise drop
// the nanoseconds of t and move the bound down.
func bound(t time.Time) time.Time { return time.Unix(ceilUnix(t), 0).UTC() }

// counts runs a report query whose rows are (start, participant, votes).
func (s *postgresStore) counts(ctx context.Context, what, query string, args ...any) ([]CountRow, error) {
	return pgCounts(ctx, s.pool, what, query, args...)
}

// pgQueryer is the pool or a transaction.
type pgQueryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgCounts runs a report query whose rows are (start, participant, votes) on
// db.
func pgCounts(ctx context.Context, db pgQueryer, what, query string, args ...any) ([]CountRow, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", what, args[0], err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CountRow, error) {
		var r CountRow
		err := row.Scan(&r.Start, &r.ParticipantID, &r.Votes)
		r.Start = r.Start.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", what, args[0], err)
	}
	return out, nil
}

const (
	pgRollUpCandidates = `
SELECT paredao_id FROM paredoes
WHERE rolled_until IS NULL OR rolled_until < $1
ORDER BY paredao_id`

	// pgFoldCounts moves a paredão's count rows before $2 into hourly rows
	// and returns how many it moved.
	pgFoldCounts = `
WITH moved AS (
    DELETE FROM window_counts
    WHERE paredao_id = $1 AND window_start < $2
    RETURNING window_start, participant_id, votes
), folded AS (
    INSERT INTO hourly_counts (paredao_id, hour_start, participant_id, votes)
    SELECT $1, date_bin('1 hour', window_start, TIMESTAMPTZ 'epoch'), participant_id, sum(votes)
    FROM moved
    GROUP BY 2, 3
    ON CONFLICT (paredao_id, hour_start, participant_id)
    DO UPDATE SET votes = hourly_counts.votes + EXCLUDED.votes
)
SELECT count(*) FROM moved`

	// pgFoldLates adds a paredão's late votes of windows between its
	// watermark and $2 to the hourly rows and returns how many it added. The
	// late votes stay, for deduplication; the watermark hides them from the
	// minute reports.
	pgFoldLates = `
WITH folded AS (
    SELECT date_bin('1 hour', window_start, TIMESTAMPTZ 'epoch') AS hour_start, participant_id, count(*) AS votes
    FROM late_votes
    WHERE paredao_id = $1 AND window_start < $2 AND window_start >= ` + pgWatermark + `
    GROUP BY 1, 2
), added AS (
    INSERT INTO hourly_counts (paredao_id, hour_start, participant_id, votes)
    SELECT $1, hour_start, participant_id, votes FROM folded
    ON CONFLICT (paredao_id, hour_start, participant_id)
    DO UPDATE SET votes = hourly_counts.votes + EXCLUDED.votes
)
SELECT coalesce(sum(votes), 0)::bigint FROM folded`
)

func (s *postgresStore) RollUp(ctx context.Context, olderThan time.Time) (int64, error) {
	cutoff := olderThan.Truncate(time.Hour).UTC()
	rows, err := s.pool.Query(ctx, pgRollUpCandidates, cutoff)
	if err != nil {
		return 0, fmt.Errorf("roll up: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
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

// rollUpParedao folds one paredão's minute rows before cutoff in one
// transaction.
func (s *postgresStore) rollUpParedao(ctx context.Context, paredaoID string, cutoff time.Time) (int64, error) {
	var folded int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		hours, _, err := lockWatermarks(ctx, tx, paredaoID)
		if err != nil {
			return err
		}
		if hours != nil && !hours.Before(cutoff) {
			return nil // another roll-up got here first
		}
		n, err := pgFoldMinutes(ctx, tx, paredaoID, cutoff)
		if err != nil || n == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE paredoes SET rolled_until = $2 WHERE paredao_id = $1`, paredaoID, cutoff); err != nil {
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

// lockWatermarks takes the paredão's lock exclusive for tx and reads its hour
// and day watermarks (nil: not rolled up).
func lockWatermarks(ctx context.Context, tx pgx.Tx, paredaoID string) (hours, days *time.Time, err error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, pgParedaoLockClass, paredaoID); err != nil {
		return nil, nil, err
	}
	err = tx.QueryRow(ctx, `SELECT rolled_until, days_rolled_until FROM paredoes WHERE paredao_id = $1`, paredaoID).Scan(&hours, &days)
	return hours, days, err
}

// pgFoldMinutes moves a paredão's count rows before cutoff into hourly rows
// and adds its late votes between its hour watermark and cutoff to them; the
// caller moves the watermark. It returns how many minute rows it folded.
func pgFoldMinutes(ctx context.Context, tx pgx.Tx, paredaoID string, cutoff time.Time) (int64, error) {
	var counts, lates int64
	if err := tx.QueryRow(ctx, pgFoldCounts, paredaoID, cutoff).Scan(&counts); err != nil {
		return 0, fmt.Errorf("fold counts: %w", err)
	}
	if err := tx.QueryRow(ctx, pgFoldLates, paredaoID, cutoff).Scan(&lates); err != nil {
		return 0, fmt.Errorf("fold late votes: %w", err)
	}
	return counts + lates, nil
}

const (
	pgRollUpDaysCandidates = `
SELECT paredao_id FROM paredoes
WHERE days_rolled_until IS NULL OR days_rolled_until < $1
ORDER BY paredao_id`

	// pgFoldHours moves a paredão's hourly rows before $2 into daily rows
	// and returns how many it moved.
	pgFoldHours = `
WITH moved AS (
    DELETE FROM hourly_counts
    WHERE paredao_id = $1 AND hour_start < $2
    RETURNING hour_start, participant_id, votes
), folded AS (
    INSERT INTO daily_counts (paredao_id, day_start, participant_id, votes)
    SELECT $1, date_bin('1 day', hour_start, TIMESTAMPTZ 'epoch'), participant_id, sum(votes)
    FROM moved
    GROUP BY 2, 3
    ON CONFLICT (paredao_id, day_start, participant_id)
    DO UPDATE SET votes = daily_counts.votes + EXCLUDED.votes
)
SELECT count(*) FROM moved`

	// pgMoveWatermarks moves the day watermark to $2 and the hour watermark
	// to $2 when it is behind.
	pgMoveWatermarks = `
UPDATE paredoes SET rolled_until = greatest(rolled_until, $2), days_rolled_until = $2
WHERE paredao_id = $1`
)

func (s *postgresStore) RollUpDays(ctx context.Context, olderThan time.Time) (int64, error) {
	cutoff := dayCutoff(olderThan)
	rows, err := s.pool.Query(ctx, pgRollUpDaysCandidates, cutoff)
	if err != nil {
		return 0, fmt.Errorf("roll up days: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
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

// rollUpDaysParedao folds one paredão's days before cutoff in one
// transaction: the minute rows the hourly roll-up has not reached into
// hours, then the hours into days.
func (s *postgresStore) rollUpDaysParedao(ctx context.Context, paredaoID string, cutoff time.Time) (int64, error) {
	var folded int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		hoursWM, daysWM, err := lockWatermarks(ctx, tx, paredaoID)
		if err != nil {
			return err
		}
		if daysWM != nil && !daysWM.Before(cutoff) {
			return nil // another roll-up got here first
		}
		var minutes, hours int64
		if hoursWM == nil || hoursWM.Before(cutoff) {
			if minutes, err = pgFoldMinutes(ctx, tx, paredaoID, cutoff); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, pgFoldHours, paredaoID, cutoff).Scan(&hours); err != nil {
			return fmt.Errorf("fold hours: %w", err)
		}
		if minutes+hours == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, pgMoveWatermarks, paredaoID, cutoff); err != nil {
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

func (s *postgresStore) PutPhoto(ctx context.Context, hash string, sizes map[int][]byte) error {
	if err := validPhoto(hash, sizes); err != nil {
		return err
	}
	var b pgx.Batch
	for size, data := range sizes {
		b.Queue(`INSERT INTO photos (hash, size, data) VALUES ($1, $2, $3) ON CONFLICT (hash, size) DO NOTHING`, hash, size, data)
	}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, &b).Close()
	}); err != nil {
		return fmt.Errorf("put photo %s: %w", hash, err)
	}
	return nil
}

func (s *postgresStore) Photo(ctx context.Context, hash string, size int) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM photos WHERE hash = $1 AND size = $2`, hash, size).Scan(&data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read photo %s: %w", hash, err)
	}
	return data, nil
}
