-- Times are unix seconds (UTC). Tables are STRICT (types enforced) and
-- WITHOUT ROWID (rows stored in primary-key order, so a report is one range
-- scan of one paredão's windows).

-- Paredões the sink has seen, and how far each is rolled up: windows starting
-- before rolled_until live in hourly_counts only (NULL: nothing rolled up).
CREATE TABLE paredoes (
    paredao_id   TEXT PRIMARY KEY,
    rolled_until INTEGER
) STRICT, WITHOUT ROWID;

-- The greatest absolute count seen per (paredão, window, participant, shard).
CREATE TABLE window_counts (
    paredao_id     TEXT    NOT NULL REFERENCES paredoes,
    window_start   INTEGER NOT NULL,
    participant_id TEXT    NOT NULL,
    shard          INTEGER NOT NULL CHECK (shard >= 0),
    votes          INTEGER NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (paredao_id, window_start, participant_id, shard)
) STRICT, WITHOUT ROWID;

-- One row per late vote, kept after roll-up too so that a repeated late
-- record is never added twice.
CREATE TABLE late_votes (
    paredao_id     TEXT    NOT NULL REFERENCES paredoes,
    late_id        TEXT    NOT NULL,
    window_start   INTEGER NOT NULL,
    participant_id TEXT    NOT NULL,
    shard          INTEGER NOT NULL CHECK (shard >= 0),
    PRIMARY KEY (paredao_id, late_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX late_votes_window ON late_votes (paredao_id, window_start, participant_id);

-- Rolled-up votes per (paredão, UTC hour, participant): count rows summed over
-- shards plus late votes.
CREATE TABLE hourly_counts (
    paredao_id     TEXT    NOT NULL REFERENCES paredoes,
    hour_start     INTEGER NOT NULL,
    participant_id TEXT    NOT NULL,
    votes          INTEGER NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (paredao_id, hour_start, participant_id)
) STRICT, WITHOUT ROWID;
