package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// The audit log has no index by time: AuditPage finds a time range's ids by
// bisection. It must select exactly the entries a scan by time selects,
// also when entries are written a little out of time order (a write that
// waited for the writer).
func TestAuditTimeRangesSelectWhatAScanByTimeSelects(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			s := storetest.Open(t, backend)
			ctx := context.Background()
			var times []time.Time
			for i := range 120 {
				at := t0.Add(time.Duration(i) * time.Minute)
				if i%7 == 3 {
					at = at.Add(-4 * time.Minute) // written late
				}
				times = append(times, at)
				if err := s.RecordAudit(ctx, store.CLI, "test.range", "test", map[string]any{"i": i}, at); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range []struct{ from, to time.Duration }{
				{0, 0}, {30 * time.Minute, 0}, {0, 45 * time.Minute}, {20 * time.Minute, 21 * time.Minute},
				{59*time.Minute + 30*time.Second, 90 * time.Minute}, {-time.Hour, 3 * time.Hour}, {3 * time.Hour, 4 * time.Hour},
			} {
				var from, to time.Time
				if r.from != 0 {
					from = t0.Add(r.from)
				}
				if r.to != 0 {
					to = t0.Add(r.to)
				}
				var want []int64
				for _, at := range times {
					if (from.IsZero() || !at.Before(from)) && (to.IsZero() || at.Before(to)) {
						want = append(want, at.UnixMilli())
					}
				}
				page, err := s.AuditPage(ctx, store.AuditQuery{Action: "test.range", From: from, To: to, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range page {
					got = append(got, e.At.UnixMilli())
				}
				if !slices.Equal(got, want) {
					t.Errorf("from %v to %v: got %d entries, want %d", r.from, r.to, len(got), len(want))
				}
			}
		})
	}
}
