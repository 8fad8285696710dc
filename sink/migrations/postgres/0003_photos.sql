-- Participants' photos: the JPEG files of one processed upload, keyed by the
-- hex SHA-256 of its largest size and by the edge of each size in pixels.
-- Rows are never changed: an address is its content.
CREATE TABLE photos (
    hash       text        NOT NULL CHECK (length(hash) = 64),
    size       integer     NOT NULL CHECK (size > 0),
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hash, size)
);
