-- Login throttle reservations (issue 12).
--
-- A login takes its place under the throttle's limits before the password
-- is checked: one event per limit, all with the reservation's id, written
-- in one transaction that first counts the events already there. A wrong
-- password leaves the events as its failures; a right one deletes them by
-- this id. Events recorded before this migration have no reservation.
ALTER TABLE throttle_events ADD COLUMN reservation TEXT;
CREATE INDEX throttle_events_by_reservation ON throttle_events (reservation);

-- One row per throttled key, upserted first by every reservation of the
-- key: the row lock serialises the reservations of one key across
-- connections and nodes, so two cannot both count the same events and
-- both take the last place. last_at lets the purge drop idle keys.
CREATE TABLE throttle_keys (
    scope    TEXT NOT NULL,
    key      BYTEA NOT NULL,
    last_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
