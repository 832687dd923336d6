package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// Forty reservations at once through two stores on one database (two
// nodes) take exactly the places there are, and a reservation takes a
// place under every limit or under none.
func TestReservationsFromTwoNodesTakeOnlyThePlacesThereAre(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			o := storetest.Options(t, backend)
			var nodes []*store.Store
			for range 2 {
				s, err := store.Open(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				nodes = append(nodes, s)
			}
			now := time.Now()
			since := now.Add(-15 * time.Minute)
			wide := store.ThrottleLimit{Scope: store.ThrottleLoginAccount, Key: []byte("account"), Limit: 10}
			narrow := store.ThrottleLimit{Scope: store.ThrottleLoginAccountIP, Key: []byte("account+ip"), Limit: 5}
			var took, refused atomic.Int32
			var ids sync.Map
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					id, err := nodes[i%2].ReserveThrottle(ctx, []store.ThrottleLimit{wide, narrow}, since, now)
					var full *store.Throttled
					switch {
					case err == nil:
						took.Add(1)
						ids.Store(id, true)
					case errors.As(err, &full) && full.Scope == narrow.Scope && !full.Oldest.IsZero():
						refused.Add(1)
					default:
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if took.Load() != 5 || refused.Load() != 35 {
				t.Fatalf("%d reservations took a place, %d were refused; want 5 and 35", took.Load(), refused.Load())
			}
			count := func(l store.ThrottleLimit) int {
				n, _, err := nodes[0].CountThrottle(ctx, l.Scope, l.Key, since)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count(wide); n != 5 {
				t.Errorf("the wider limit holds %d events, want 5: a refused reservation took a place", n)
			}
			// Releasing gives the places back; forgiving clears the key.
			ids.Range(func(id, _ any) bool {
				if err := nodes[1].ReleaseThrottle(ctx, id.(string), nil); err != nil {
					t.Fatal(err)
				}
				return false // one
			})
			if n := count(narrow); n != 4 {
				t.Errorf("after one release the limit holds %d events, want 4", n)
			}
			if err := nodes[0].ReleaseThrottle(ctx, "none", []store.ThrottleLimit{wide}); err != nil {
				t.Fatal(err)
			}
			if n, m := count(wide), count(narrow); n != 0 || m != 4 {
				t.Errorf("after forgiving the wider key: %d and %d events, want 0 and 4", n, m)
			}
		})
	}
}
