-- The daily roll-up: hours starting before days_rolled_until live in
-- daily_counts only (NULL: no day rolled up). It never passes rolled_until:
-- a day is folded from hourly rows, after its minutes were.
ALTER TABLE paredoes ADD COLUMN days_rolled_until INTEGER;

-- Rolled-up votes per (paredão, UTC day, participant): hourly rows summed,
-- plus the late votes that arrived for the day after it was folded.
CREATE TABLE daily_counts (
    paredao_id     TEXT    NOT NULL REFERENCES paredoes,
    day_start      INTEGER NOT NULL,
    participant_id TEXT    NOT NULL,
    votes          INTEGER NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (paredao_id, day_start, participant_id)
) STRICT, WITHOUT ROWID;
