-- Participants' photos: the JPEG files of one processed upload, keyed by the
-- hex SHA-256 of its largest size and by the edge of each size in pixels.
-- Rows are never changed: an address is its content.
CREATE TABLE photos (
    hash       TEXT    NOT NULL CHECK (length(hash) = 64),
    size       INTEGER NOT NULL CHECK (size > 0),
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (hash, size)
) STRICT, WITHOUT ROWID;
