package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paredao/paredao/pipeline"
)

// The audit's rows (see pipeline.AuditRun and migrations 0004_audit): the
// store keeps them as they are.

func (s *postgresStore) PutAuditRun(ctx context.Context, r pipeline.AuditRun) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_runs (id, paredao_id, started_at, status, data, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data, updated_at = now()`,
		r.ID, r.ParedaoID, r.StartedAt, r.Status, r.Data)
	if err != nil {
		return fmt.Errorf("put audit run %s: %w", r.ID, err)
	}
	return nil
}

func (s *postgresStore) LastAuditRun(ctx context.Context, paredaoID string, done bool) (*pipeline.AuditRun, error) {
	r := pipeline.AuditRun{ParedaoID: paredaoID}
	err := s.pool.QueryRow(ctx, `SELECT id, started_at, status, data, updated_at FROM audit_runs
WHERE paredao_id = $1 AND (NOT $2 OR status = 'done') ORDER BY started_at DESC LIMIT 1`, paredaoID, done).
		Scan(&r.ID, &r.StartedAt, &r.Status, &r.Data, &r.UpdatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit run of %s: %w", paredaoID, err)
	}
	return &r, nil
}

func (s *postgresStore) PutAuditChunks(ctx context.Context, runID string, chunks []pipeline.AuditChunk) error {
	rows := make([][]any, len(chunks))
	for i, c := range chunks {
		tree, err := smallint("audit tree", c.Tree)
		if err != nil {
			return fmt.Errorf("put audit chunks of %s: %w", runID, err)
		}
		rows[i] = []any{runID, tree, c.Index, c.Leaves, c.Root}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"audit_chunks"}, []string{"run_id", "tree", "chunk", "leaves", "root"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("put audit chunks of %s: %w", runID, err)
	}
	return nil
}

func (s *postgresStore) PutAuditIndex(ctx context.Context, runID string, index []pipeline.AuditIndexRow) error {
	rows := make([][]any, len(index))
	for i, r := range index {
		rows[i] = []any{runID, r.FirstKey, r.Entries}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"audit_index"}, []string{"run_id", "first_key", "entries"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("put audit index of %s: %w", runID, err)
	}
	return nil
}

func (s *postgresStore) AuditChunk(ctx context.Context, runID string, tree int, chunk int64) (*pipeline.AuditChunk, error) {
	c := pipeline.AuditChunk{Tree: tree, Index: chunk}
	t16, err := smallint("audit tree", tree)
	if err != nil {
		return nil, fmt.Errorf("read audit chunk %s/%d/%d: %w", runID, tree, chunk, err)
	}
	err = s.pool.QueryRow(ctx, `SELECT leaves, root FROM audit_chunks WHERE run_id = $1 AND tree = $2 AND chunk = $3`,
		runID, t16, chunk).Scan(&c.Leaves, &c.Root)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit chunk %s/%d/%d: %w", runID, tree, chunk, err)
	}
	return &c, nil
}

func (s *postgresStore) AuditRoots(ctx context.Context, runID string, tree int) ([][]byte, error) {
	t16, err := smallint("audit tree", tree)
	if err != nil {
		return nil, fmt.Errorf("read audit roots %s/%d: %w", runID, tree, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT root FROM audit_chunks WHERE run_id = $1 AND tree = $2 ORDER BY chunk`, runID, t16)
	if err != nil {
		return nil, fmt.Errorf("read audit roots %s/%d: %w", runID, tree, err)
	}
	roots, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("read audit roots %s/%d: %w", runID, tree, err)
	}
	return roots, nil
}

func (s *postgresStore) AuditIndexRow(ctx context.Context, runID string, key int64) (*pipeline.AuditIndexRow, error) {
	var r pipeline.AuditIndexRow
	err := s.pool.QueryRow(ctx, `SELECT first_key, entries FROM audit_index WHERE run_id = $1 AND first_key <= $2
ORDER BY first_key DESC LIMIT 1`, runID, key).Scan(&r.FirstKey, &r.Entries)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit index %s: %w", runID, err)
	}
	return &r, nil
}

func (s *sqliteStore) PutAuditRun(ctx context.Context, r pipeline.AuditRun) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO audit_runs (id, paredao_id, started_at, status, data, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data, updated_at = excluded.updated_at`,
		r.ID, r.ParedaoID, r.StartedAt.UnixNano(), r.Status, r.Data, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("put audit run %s: %w", r.ID, err)
	}
	return nil
}

func (s *sqliteStore) LastAuditRun(ctx context.Context, paredaoID string, done bool) (*pipeline.AuditRun, error) {
	r := pipeline.AuditRun{ParedaoID: paredaoID}
	var started, updated int64
	err := s.read.QueryRowContext(ctx, `SELECT id, started_at, status, data, updated_at FROM audit_runs
WHERE paredao_id = ? AND (NOT ? OR status = 'done') ORDER BY started_at DESC LIMIT 1`, paredaoID, done).
		Scan(&r.ID, &started, &r.Status, &r.Data, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit run of %s: %w", paredaoID, err)
	}
	r.StartedAt, r.UpdatedAt = time.Unix(0, started).UTC(), time.Unix(0, updated).UTC()
	return &r, nil
}

func (s *sqliteStore) PutAuditChunks(ctx context.Context, runID string, chunks []pipeline.AuditChunk) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range chunks {
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_chunks (run_id, tree, chunk, leaves, root) VALUES (?, ?, ?, ?, ?)`,
				runID, c.Tree, c.Index, c.Leaves, c.Root); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("put audit chunks of %s: %w", runID, err)
	}
	return nil
}

func (s *sqliteStore) PutAuditIndex(ctx context.Context, runID string, index []pipeline.AuditIndexRow) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range index {
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_index (run_id, first_key, entries) VALUES (?, ?, ?)`,
				runID, r.FirstKey, r.Entries); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("put audit index of %s: %w", runID, err)
	}
	return nil
}

func (s *sqliteStore) AuditChunk(ctx context.Context, runID string, tree int, chunk int64) (*pipeline.AuditChunk, error) {
	c := pipeline.AuditChunk{Tree: tree, Index: chunk}
	err := s.read.QueryRowContext(ctx, `SELECT leaves, root FROM audit_chunks WHERE run_id = ? AND tree = ? AND chunk = ?`,
		runID, tree, chunk).Scan(&c.Leaves, &c.Root)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit chunk %s/%d/%d: %w", runID, tree, chunk, err)
	}
	return &c, nil
}

func (s *sqliteStore) AuditRoots(ctx context.Context, runID string, tree int) ([][]byte, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT root FROM audit_chunks WHERE run_id = ? AND tree = ? ORDER BY chunk`, runID, tree)
	if err != nil {
		return nil, fmt.Errorf("read audit roots %s/%d: %w", runID, tree, err)
	}
	defer func() { _ = rows.Close() }() // for the early returns; Close is checked below
	var roots [][]byte
	for rows.Next() {
		var root []byte
		if err := rows.Scan(&root); err != nil {
			return nil, fmt.Errorf("read audit roots %s/%d: %w", runID, tree, err)
		}
		roots = append(roots, root)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read audit roots %s/%d: %w", runID, tree, err)
	}
	return roots, nil
}

func (s *sqliteStore) AuditIndexRow(ctx context.Context, runID string, key int64) (*pipeline.AuditIndexRow, error) {
	var r pipeline.AuditIndexRow
	err := s.read.QueryRowContext(ctx, `SELECT first_key, entries FROM audit_index WHERE run_id = ? AND first_key <= ?
ORDER BY first_key DESC LIMIT 1`, runID, key).Scan(&r.FirstKey, &r.Entries)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit index %s: %w", runID, err)
	}
	return &r, nil
}
