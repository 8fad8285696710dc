-- Paredões the sink has seen, and how far each is rolled up: windows starting
-- before rolled_until live in hourly_counts only (NULL: nothing rolled up).
CREATE TABLE paredoes (
    paredao_id   text PRIMARY KEY,
    rolled_until timestamptz
);

-- The greatest absolute count seen per (paredão, window, participant, shard).
-- The key starts with (paredao_id, window_start): every report is a range
-- scan of one paredão's windows.
CREATE TABLE window_counts (
    paredao_id     text        NOT NULL REFERENCES paredoes,
    window_start   timestamptz NOT NULL,
    participant_id text        NOT NULL,
    shard          integer     NOT NULL CHECK (shard >= 0),
    votes          bigint      NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (paredao_id, window_start, participant_id, shard)
);

-- One row per late vote, kept after roll-up too so that a repeated late
-- record is never added twice.
CREATE TABLE late_votes (
    paredao_id     text        NOT NULL REFERENCES paredoes,
    late_id        text        NOT NULL,
    window_start   timestamptz NOT NULL,
    participant_id text        NOT NULL,
    shard          integer     NOT NULL CHECK (shard >= 0),
    PRIMARY KEY (paredao_id, late_id)
);
CREATE INDEX late_votes_window ON late_votes (paredao_id, window_start, participant_id);

-- Rolled-up votes per (paredão, UTC hour, participant): count rows summed over
-- shards plus late votes.
CREATE TABLE hourly_counts (
    paredao_id     text        NOT NULL REFERENCES paredoes,
    hour_start     timestamptz NOT NULL,
    participant_id text        NOT NULL,
    votes          bigint      NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (paredao_id, hour_start, participant_id)
);
