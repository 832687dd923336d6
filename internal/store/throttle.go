package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// ThrottleLoginAccountIP counts failed logins per account and address.
const ThrottleLoginAccountIP = "login_account_ip"

// ThrottleLimit is one count a throttled attempt must stay under: fewer
// than Limit events of Scope and Key inside the window.
type ThrottleLimit struct {
	Scope string
	Key   []byte
	Limit int
}

// Throttled is ReserveThrottle's refusal: the limit that is full, and its
// oldest event, whose leaving the window frees a place.
type Throttled struct {
	Scope  string
	Oldest time.Time
}

func (e *Throttled) Error() string { return fmt.Sprintf("store: throttle %s is full", e.Scope) }

// ReserveThrottle takes a place under every limit at once, or under none:
// in one transaction it counts each key's events since the window began
// and, when every count is below its limit, records one event per limit
// at now, all marked with the returned reservation id. A full limit is
// refused with *Throttled. The events count as failures until
// ReleaseThrottle deletes them.
//
// Concurrent reservations of one key are serial: each first upserts the
// key's row in throttle_keys, which on PostgreSQL locks it until the
// transaction ends (the keys in a fixed order, so two reservations never
// wait for each other), and SQLite runs one write transaction at a time.
// So at most Limit attempts get a place, whichever node they reach. This
// is the holders-row pattern of the quota (docs/design.md).
func (s *Store) ReserveThrottle(ctx context.Context, limits []ThrottleLimit, since, now time.Time) (string, error) {
	id := NewID()
	ordered := slices.SortedFunc(slices.Values(limits), func(a, b ThrottleLimit) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), bytes.Compare(a.Key, b.Key))
	})
	err := s.write(ctx, func(t *Tx) error {
		for _, l := range ordered {
			if _, err := t.exec(ctx, `INSERT INTO throttle_keys (scope, key, last_at) VALUES ($1, $2, $3)
				ON CONFLICT (scope, key) DO UPDATE SET last_at = excluded.last_at`, l.Scope, l.Key, ms(now)); err != nil {
				return err
			}
		}
		for _, l := range limits {
			var n int
			var oldest sql.NullInt64
			if err := t.queryRow(ctx, `SELECT count(*), min(at) FROM throttle_events WHERE scope = $1 AND key = $2 AND at >= $3`,
				l.Scope, l.Key, ms(since)).Scan(&n, &oldest); err != nil {
				return err
			}
			if n >= l.Limit {
				return &Throttled{Scope: l.Scope, Oldest: nullMS(oldest)}
			}
		}
		for _, l := range limits {
			if _, err := t.exec(ctx, `INSERT INTO throttle_events (scope, key, at, reservation) VALUES ($1, $2, $3, $4)`,
				l.Scope, l.Key, ms(now), id); err != nil {
				return err
			}
		}
		return nil
	})
	return id, err
}

// ReleaseThrottle deletes the events of a reservation (the attempt
// succeeded) and forgives every earlier event of the keys in forgive, in
// one transaction. Like the events themselves, it is not audited: it
// changes the service's limits, not its state.
func (s *Store) ReleaseThrottle(ctx context.Context, reservation string, forgive []ThrottleLimit) error {
	return s.write(ctx, func(t *Tx) error {
		if _, err := t.exec(ctx, `DELETE FROM throttle_events WHERE reservation = $1`, reservation); err != nil {
			return err
		}
		for _, l := range forgive {
			if _, err := t.exec(ctx, `DELETE FROM throttle_events WHERE scope = $1 AND key = $2`, l.Scope, l.Key); err != nil {
				return err
			}
		}
		return nil
	})
}
