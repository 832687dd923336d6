package store

import (
	"context"
	"testing"
	"time"
)

// The group-commit writer waits for as many writes as shared its last
// commit, and only then: a write on a quiet store commits at once; after a
// commit of three, a lone write waits for two more to share its commit;
// closing the store commits a write still waiting. With a negative delay
// it never waits.
func TestTheWriterWaitsForAsManyWritesAsItsLastCommit(t *testing.T) {
	ctx := context.Background()
	open := func(delay time.Duration) *Store {
		s, err := Open(ctx, Options{DataDir: t.TempDir(), CommitDelay: delay})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// write queues a write, as writeBatched does, that reports its
	// transaction after hold (if any) is closed, and returns the channel
	// of its outcome.
	txs := make(chan *Tx, 16)
	write := func(s *Store, hold chan struct{}) chan error {
		req := writeRequest{ctx: ctx, done: make(chan error, 1), fn: func(tx *Tx) error {
			if hold != nil {
				txs <- nil // running
				<-hold
			}
			txs <- tx
			return nil
		}}
		s.batch <- req
		return req.done
	}
	committed := func(what string, done chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not commit", what)
		}
	}
	// lastThree makes the writer's last commit one of three writes.
	lastThree := func(s *Store) {
		t.Helper()
		hold := make(chan struct{})
		held := write(s, hold)
		<-txs // running, holding the writer
		queued := []chan error{write(s, nil), write(s, nil), write(s, nil)}
		close(hold)
		committed("the held write", held)
		<-txs
		for _, done := range queued {
			committed("a queued write", done)
		}
		if a, b, c := <-txs, <-txs, <-txs; a != b || b != c {
			t.Fatal("three writes queued together did not share a commit")
		}
	}

	s := open(time.Hour)
	committed("a lone write on a quiet store", write(s, nil))
	<-txs
	lastThree(s)
	// One by one, 50 ms apart: without the delay the first would commit
	// alone long before the third arrives.
	var spread []chan error
	for i := range 3 {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		spread = append(spread, write(s, nil))
	}
	for _, done := range spread {
		committed("a write that waited", done)
	}
	if a, b, c := <-txs, <-txs, <-txs; a != b || b != c {
		t.Fatal("three writes 50 ms apart, after a commit of three, did not share a commit")
	}
	waiting := write(s, nil) // waits an hour for two more
	for len(s.batch) > 0 {
		time.Sleep(time.Millisecond) // until the writer holds it
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	committed("a write waiting when the store closed", waiting)
	committed("Close", closed)

	never := open(-1)
	defer never.Close()
	lastThree(never)
	first := write(never, nil)
	committed("a write with no delay", first)
	second := write(never, nil)
	committed("the next write", second)
	if a, b := <-txs, <-txs; a == b {
		t.Fatal("with a negative delay a write waited for the next")
	}
}
