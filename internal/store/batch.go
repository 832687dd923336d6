package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Group commit (SQLite). SQLite has one writer; every write transaction
// pays for BEGIN, COMMIT and the WAL frames it appends. Under load the
// writer goroutine takes every write waiting in the queue and runs them in
// one transaction. When one of them fails, the batch runs again with each
// write inside its own savepoint: the failed write is rolled back to its
// savepoint and told its error, the others commit together. Every write is
// told its outcome only after the commit. Each write is as atomic as
// before and sees the writes before it, exactly as if they had run one
// after another; they just share a commit.

// maxBatch bounds how many writes share one commit.
const maxBatch = 64

// DefaultCommitDelay is how long the writer waits for more writes when
// fewer are waiting than shared the commit before (Options.CommitDelay).
//
// Under steady load the writes come from many requests at once, but they
// reach the queue spread over the time their checks take, and a writer
// that commits whatever is there the moment it is free commits small
// batches, each paying BEGIN, COMMIT and an fsync. Waiting a little for
// as many writes as last time lets them share one, as PostgreSQL's
// commit_delay does when other transactions are active. A write on a
// quiet server, where the last commit had one write, never waits: the
// delay is paid only where it buys a larger batch, and it is at most a
// millisecond of latency on an answer that takes several under such load.
// With eight clients verifying at once a commit went from 2.1 writes to
// 3.2, and the CPU of a verification down by about 6 % (performance.md).
const DefaultCommitDelay = time.Millisecond

// errBatchAborted is returned to the writes of a batch whose transaction
// had to be abandoned through no fault of theirs; write retries them.
var errBatchAborted = errors.New("store: batch aborted, retry")

type writeRequest struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

func (s *Store) startBatching() {
	s.batch = make(chan writeRequest, maxBatch)
	s.closed = make(chan struct{})
	go s.writer()
}

func (s *Store) stopBatching() {
	if s.batch == nil {
		return
	}
	close(s.batch)
	<-s.closed
	s.batch = nil
}

// writeBatched hands fn to the writer and waits for its outcome. It waits
// even when ctx ends meanwhile: once queued, fn may commit, and the caller
// must not be told otherwise.
func (s *Store) writeBatched(ctx context.Context, fn func(*Tx) error) error {
	req := writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.batch <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done
}

func (s *Store) writer() {
	defer close(s.closed)
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	last := 1 // writes in the last commit
	for req := range s.batch {
		reqs := []writeRequest{req}
	drain:
		for len(reqs) < maxBatch {
			select {
			case r, ok := <-s.batch:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		if len(reqs) < last && s.commitDelay > 0 {
			wait.Reset(s.commitDelay)
		gather:
			for len(reqs) < last {
				select {
				case r, ok := <-s.batch:
					if !ok {
						break gather
					}
					reqs = append(reqs, r)
				case <-wait.C:
					break gather
				}
			}
			wait.Stop()
		}
		last = len(reqs)
		s.runBatch(reqs)
	}
}

func (s *Store) runBatch(reqs []writeRequest) {
	// Writes seldom fail, so a batch first runs without savepoints. If a
	// write fails there, the whole transaction is rolled back and the
	// batch runs again, each write in its own savepoint; a write is run
	// again only before any commit, as write's retries do. A batch of one
	// needs no savepoint: its transaction is its write.
	if s.commitBatch(reqs, false) {
		return
	}
	s.commitBatch(reqs, true)
}

// commitBatch runs reqs in one transaction, commits it and tells every
// write its outcome. Without savepoints it gives up as soon as a write of
// a batch of several fails: it rolls everything back, tells no one, and
// returns false.
func (s *Store) commitBatch(reqs []writeRequest, savepoints bool) bool {
	ctx := context.Background()
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range reqs {
			r.done <- err
		}
		return true
	}
	t := &Tx{tx: sqlTx, s: s}
	results := make([]error, len(reqs))
	aborted := false
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if !savepoints {
			err := runGuarded(r.fn, t)
			if err == nil {
				continue
			}
			sqlTx.Rollback()
			if len(reqs) > 1 {
				return false
			}
			r.done <- err
			return true
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
			aborted = true
			break
		}
		// The write's statements run under the caller's context, so a
		// cancelled request stops its own statements, not the batch.
		chain := t.chain
		err := runGuarded(r.fn, t)
		if err != nil {
			results[i] = err
			if _, rerr := sqlTx.ExecContext(ctx, "ROLLBACK TO write"); rerr != nil {
				aborted = true
				break
			}
			// Its audit entries are gone, and the chain's head with them.
			t.chain = chain
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE write"); err != nil {
			aborted = true
			break
		}
	}
	if !aborted && t.sealChain(ctx) != nil {
		aborted = true
	}
	if aborted {
		sqlTx.Rollback()
		for _, r := range reqs {
			r.done <- errBatchAborted
		}
		return true
	}
	commitErr := sqlTx.Commit()
	for _, q := range t.unprepared {
		s.prepared(ctx, s.w, q)
	}
	for i, r := range reqs {
		switch {
		case results[i] != nil:
			r.done <- results[i]
		case commitErr != nil:
			r.done <- commitErr
		default:
			r.done <- nil
		}
	}
	return true
}

// runGuarded runs one write, turning a panic into its error: a bug in one
// write must not stop the writer that every other write waits for.
func runGuarded(fn func(*Tx) error, t *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: write panicked: %v", v)
		}
	}()
	return fn(t)
}
