package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

func gateVerification(cert string, step int64) store.Verification {
	return store.Verification{ID: store.NewID(), CertificateID: cert, Step: step, Operation: "entry",
		Verifier: "terminal:gate", StationCode: "BJP", Verdict: store.VerdictValid, At: time.Now()}
}

// takenVerification records a verification at the gate, whose id a test
// then gives writes that the server must refuse.
func takenVerification(t *testing.T, s *store.Store) store.Verification {
	t.Helper()
	v := gateVerification(store.NewID(), 1)
	if _, err := s.RecordVerification(context.Background(), store.TerminalActor("gate"), v, true); err != nil {
		t.Fatal(err)
	}
	return v
}

// idList quotes identifiers for an IN list.
func idList(vs ...store.Verification) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v.ID + "'"
	}
	return strings.Join(q, ", ")
}

// On PostgreSQL the verifications of one batch commit together, and a
// statement the server refuses fails only its own write: its claim is not
// kept, and the writes before and after it commit, in one commit, whether
// it is first, in the middle or last, alone or next to another failure.
func TestAFailedWriteDoesNotFailItsBatchNeighbours(t *testing.T) {
	s := storetest.Open(t, "postgres")
	actor := store.TerminalActor("gate")
	ctx := context.Background()
	taken := takenVerification(t, s)
	for _, pattern := range []string{"xoo", "oxo", "oox", "oxxo", "xx", "ooo"} {
		t.Run(pattern, func(t *testing.T) {
			cert := store.NewID()
			vs := make([]store.Verification, len(pattern))
			var good, bad []store.Verification
			for i, c := range pattern {
				vs[i] = gateVerification(cert, int64(i+1))
				if c == 'x' {
					vs[i].ID = taken.ID // the verification's primary key is taken
					bad = append(bad, vs[i])
				} else {
					good = append(good, vs[i])
				}
			}
			commits := store.GroupCommitsForTest(s)
			errs := store.RecordInOneBatchForTest(s, actor, vs)
			want := 1
			if len(good) == 0 {
				want = 0
			}
			if n := store.GroupCommitsForTest(s) - commits; n != int64(want) {
				t.Errorf("the batch committed %d times, want %d", n, want)
			}
			for i, c := range pattern {
				var pg *pgconn.PgError
				switch {
				case c == 'o' && errs[i] != nil:
					t.Errorf("write %d failed with its neighbour: %v", i+1, errs[i])
				case c == 'x' && (!errors.As(errs[i], &pg) || pg.Code != "23505"):
					t.Errorf("write %d: %v, want its own unique violation", i+1, errs[i])
				}
			}
			if len(good) > 0 {
				if n, err := store.CountForTest(s, "verifications WHERE id IN ("+idList(good...)+")"); err != nil || n != len(good) {
					t.Errorf("%d of %d good verifications committed (%v)", n, len(good), err)
				}
				if n, err := store.CountForTest(s, "audit_events WHERE object = 'certificate:"+cert+"'"); err != nil || n != len(good) {
					t.Errorf("%d audit entries for %d verifications (%v)", n, len(good), err)
				}
			}
			for _, v := range bad {
				if n, err := store.CountForTest(s, fmt.Sprintf("code_claims WHERE certificate_id = '%s' AND step = %d", cert, v.Step)); err != nil || n != 0 {
					t.Errorf("the failed write's claim of step %d was kept (%d rows, %v)", v.Step, n, err)
				}
			}
		})
	}
	// The entries of the batches that ran again after a failure are
	// linked as if nothing had failed.
	if rep, err := s.VerifyAudit(ctx); err != nil || rep.FirstBad != nil {
		t.Errorf("the audit chain after the failed writes: %+v, %v", rep.FirstBad, err)
	}
}

// Verifications recorded at once on one node share commits: the writes
// waiting while a batch runs go together in the next.
func TestParallelVerificationsShareCommits(t *testing.T) {
	s := storetest.Open(t, "postgres")
	actor := store.TerminalActor("gate")
	cert := store.NewID()
	const n = 48
	vs := make([]store.Verification, n)
	var wg sync.WaitGroup
	for i := range vs {
		vs[i] = gateVerification(cert, int64(i+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := s.RecordVerification(context.Background(), actor, vs[i], true); err != nil || out.Replay {
				t.Errorf("verification %d: %v (replay %v)", i, err, out.Replay)
			}
		}()
	}
	before := store.GroupCommitsForTest(s)
	wg.Wait()
	commits := store.GroupCommitsForTest(s) - before
	if n, err := store.CountForTest(s, "verifications WHERE id IN ("+idList(vs...)+")"); err != nil || n != len(vs) {
		t.Errorf("%d verifications recorded (%v), want %d", n, err, len(vs))
	}
	if commits >= n {
		t.Errorf("%d verifications took %d commits: none were shared", n, commits)
	}
	t.Logf("%d verifications, %d commits", n, commits)
}

// Through the node's writer, where one batch's COMMIT travels with the next
// batch's start: writes refused by the server among many parallel ones
// fail alone, every other write commits once, and the audit chain holds.
func TestFailedWritesAmongParallelOnesFailAlone(t *testing.T) {
	s := storetest.Open(t, "postgres")
	actor := store.TerminalActor("gate")
	ctx := context.Background()
	taken := takenVerification(t, s)
	cert := store.NewID()
	const n = 60
	vs := make([]store.Verification, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range vs {
		vs[i] = gateVerification(cert, int64(i+1))
		if i%5 == 2 {
			vs[i].ID = taken.ID // the verification's primary key is taken
		}
		wg.Go(func() { _, errs[i] = s.RecordVerification(ctx, actor, vs[i], true) })
	}
	wg.Wait()
	var good []store.Verification
	for i, err := range errs {
		var pg *pgconn.PgError
		switch {
		case i%5 == 2 && !(errors.As(err, &pg) && pg.Code == "23505"):
			t.Errorf("write %d: %v, want its own unique violation", i+1, err)
		case i%5 != 2 && err != nil:
			t.Errorf("write %d failed with its neighbour: %v", i+1, err)
		case i%5 != 2:
			good = append(good, vs[i])
		}
	}
	if got, err := store.CountForTest(s, "verifications WHERE id IN ("+idList(good...)+")"); err != nil || got != len(good) {
		t.Errorf("%d of %d good verifications committed (%v)", got, len(good), err)
	}
	if got, err := store.CountForTest(s, "audit_events WHERE object = 'certificate:"+cert+"'"); err != nil || got != len(good) {
		t.Errorf("%d audit entries for %d verifications (%v)", got, len(good), err)
	}
	if got, err := store.CountForTest(s, "code_claims WHERE certificate_id = '"+cert+"'"); err != nil || got != len(good) {
		t.Errorf("%d claims kept for %d verifications (%v)", got, len(good), err)
	}
	if rep, err := s.VerifyAudit(ctx); err != nil || rep.FirstBad != nil {
		t.Errorf("the audit chain: %+v, %v", rep.FirstBad, err)
	}
}
