package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// A verification's read on SQLite runs on the connections kept for it:
// many at once all read, a revocation committed before a read is seen by
// it, and a read waiting for a connection gives up at its deadline.
func TestHotReadsOnSQLite(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	ctx := context.Background()
	acct := store.NewID()
	if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: acct, Username: "p", PasswordHash: "x", Role: store.RolePassenger, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	id := issueForTest(t, s, acct, 7, t0, 24*time.Hour)

	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if c, _, err := s.CertificateAndDevice(rctx, id, []byte{9}, t0); err != nil || c.Status != store.StatusActive {
				t.Errorf("parallel read: %+v, %v", c, err)
			}
		})
	}
	wg.Wait()

	if _, err := s.RevokeCertificate(ctx, store.CLI, id, "lost", "", t0); err != nil {
		t.Fatal(err)
	}
	if c, _, err := s.CertificateAndDevice(ctx, id, []byte{9}, t0); err != nil || c.Status != store.StatusRevoked {
		t.Errorf("after the revocation: %+v, %v", c, err)
	}

	release := store.HoldHotReadersForTest(s)
	rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	start := time.Now()
	_, _, err := s.CertificateAndDevice(rctx, id, []byte{9}, t0)
	cancel()
	release()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("a read with every connection busy: %v after %v, want the deadline", err, time.Since(start))
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.CertificateAndDevice(done, id, []byte{9}, t0); !errors.Is(err, context.Canceled) {
		t.Errorf("a read whose request ended: %v", err)
	}
	if c, _, err := s.CertificateAndDevice(ctx, id, []byte{9}, t0); err != nil || c.ID != id {
		t.Errorf("a read after the readers came back: %+v, %v", c, err)
	}
}
