-- Recounts of paredões from the votes log (package audit): a run row with
-- its JSON (progress, result, certificate), the leaves of its two Merkle
-- trees in chunks, and its index from vote id (key: first 8 bytes of the
-- id's SHA-256) to leaf. A run's chunks and index are written once.
CREATE TABLE audit_runs (
    id         text        PRIMARY KEY,
    paredao_id text        NOT NULL,
    started_at timestamptz NOT NULL,
    status     text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    data       bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_runs_paredao ON audit_runs (paredao_id, started_at);

CREATE TABLE audit_chunks (
    run_id text     NOT NULL REFERENCES audit_runs (id) ON DELETE CASCADE,
    tree   smallint NOT NULL CHECK (tree IN (0, 1)),
    chunk  bigint   NOT NULL CHECK (chunk >= 0),
    leaves bytea    NOT NULL,
    root   bytea    NOT NULL CHECK (length(root) = 32),
    PRIMARY KEY (run_id, tree, chunk)
);

CREATE TABLE audit_index (
    run_id    text   NOT NULL REFERENCES audit_runs (id) ON DELETE CASCADE,
    first_key bigint NOT NULL,
    entries   bytea  NOT NULL,
    PRIMARY KEY (run_id, first_key)
);
