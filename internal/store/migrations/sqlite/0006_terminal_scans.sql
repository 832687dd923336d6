-- Scans that terminals verified offline and uploaded later
-- (POST /api/v1/terminal/scans). Each is a verification like an online one,
-- marked offline, with the terminal's own verdict beside the server's
-- re-verification as of the scan's time.
ALTER TABLE verifications ADD COLUMN offline BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE verifications ADD COLUMN server_verdict TEXT;
ALTER TABLE verifications ADD COLUMN server_reason TEXT;
ALTER TABLE verifications ADD COLUMN recorded_at INTEGER;

-- A terminal's scan is stored once however often its batch is sent: the
-- key is the terminal and the scan's client id.
CREATE TABLE terminal_scans (
    terminal_id      TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    verification_id  TEXT NOT NULL,
    PRIMARY KEY (terminal_id, client_id)
) WITHOUT ROWID;

-- After-the-fact replays, listed for administrators newest first.
CREATE INDEX verifications_after_the_fact ON verifications (at) WHERE offline AND replay;
