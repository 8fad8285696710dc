-- Recounts of paredões from the votes log (package audit): a run row with
-- its JSON (progress, result, certificate), the leaves of its two Merkle
-- trees in chunks, and its index from vote id (key: first 8 bytes of the
-- id's SHA-256) to leaf. A run's chunks and index are written once.
CREATE TABLE audit_runs (
    id         TEXT    PRIMARY KEY,
    paredao_id TEXT    NOT NULL,
    started_at INTEGER NOT NULL, -- unix ns
    status     TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    data       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_runs_paredao ON audit_runs (paredao_id, started_at);

CREATE TABLE audit_chunks (
    run_id TEXT    NOT NULL REFERENCES audit_runs (id) ON DELETE CASCADE,
    tree   INTEGER NOT NULL CHECK (tree IN (0, 1)),
    chunk  INTEGER NOT NULL CHECK (chunk >= 0),
    leaves BLOB    NOT NULL,
    root   BLOB    NOT NULL CHECK (length(root) = 32),
    PRIMARY KEY (run_id, tree, chunk)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_index (
    run_id    TEXT    NOT NULL REFERENCES audit_runs (id) ON DELETE CASCADE,
    first_key INTEGER NOT NULL,
    entries   BLOB    NOT NULL,
    PRIMARY KEY (run_id, first_key)
) STRICT, WITHOUT ROWID;
