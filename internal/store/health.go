package store

import (
	"context"
	"os"
	"sync"
	"time"
)

// probeInterval is how often Writable writes to find out: readiness probes
// from a load balancer every few hundred milliseconds must not become a
// write load of their own.
const probeInterval = time.Second

// writeHealth remembers the outcome of the latest write, a probe's or a
// request's: a node whose writes fail is not ready, even while it can
// still read.
type writeHealth struct {
	mu    sync.Mutex
	at    time.Time // when the outcome below was seen; zero: never
	err   error     // the storage failure, nil when the write succeeded
	probe sync.Mutex
}

// observe records the outcome of a write. Refusals and a caller that went
// away say nothing about the storage and are ignored.
func (h *writeHealth) observe(err error) {
	if err != nil && CauseOf(err) == "" {
		return
	}
	h.mu.Lock()
	h.at, h.err = time.Now(), err
	h.mu.Unlock()
}

func (h *writeHealth) last() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.at, h.err
}

// Writable tells whether this node can write to the database now: the
// outcome of the latest write if it is younger than probeInterval, else
// that of a small probe write, made by one caller at a time. A failure is
// an "unavailable" refusal whose StorageError names the cause.
func (s *Store) Writable(ctx context.Context) error {
	if at, err := s.health.last(); time.Since(at) < probeInterval {
		return err
	}
	if !s.health.probe.TryLock() {
		// Another caller is probing: its answer is not in yet, the last
		// one is the best there is.
		_, err := s.health.last()
		return err
	}
	defer s.health.probe.Unlock()
	if at, err := s.health.last(); time.Since(at) < probeInterval {
		return err
	}
	err := s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO write_probes (node, at) VALUES ($1, $2)
			ON CONFLICT (node) DO UPDATE SET at = excluded.at`, probeNode, ms(time.Now()))
		return err
	})
	if err != nil && CauseOf(err) == "" {
		// Not a storage failure by our classification, yet the node cannot
		// write: say so rather than call it ready.
		err = unavailable(CauseIOError, err)
		s.health.observe(err)
	}
	return err
}

// probeNode names this process's row in write_probes: one row per node
// and start, purged with the idempotency keys.
var probeNode = func() string {
	host, _ := os.Hostname()
	return host + "/" + NewID()[20:]
}()

// PurgeWriteProbes forgets the probe rows of nodes that have not written
// since before.
func (s *Store) PurgeWriteProbes(ctx context.Context, before time.Time) error {
	return s.write(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM write_probes WHERE at < $1`, ms(before))
		return err
	})
}
