package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"tempid/internal/store"
)

// Background starts the loops every node runs beside the API, until stop
// is called: the key schedule (reloaded every minute so that nodes follow
// each other's rotations, and rotated when due) and the retention purge
// (at start, then hourly). Audit entries need no loop: each is linked into
// the chain by the transaction that writes it. stop returns once the loops
// have ended, so that the store can be closed after it with no write of
// theirs in flight.
func (a *App) Background(log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Go(func() { a.Signing.Run(ctx, time.Minute, log) })
	loops.Go(func() { a.purgeExpired(ctx, log) })
	return func() {
		cancel()
		loops.Wait()
	}
}

// claimRetention is how long a code's claim (replay record) is kept.
const claimRetention = 25 * time.Hour

// purgeExpired removes personal data from certificates past the retention
// period, replay records no code can match any more, old login
// failures, Idempotency-Keys past their 24 hours and the write probes of
// vanished nodes, once at start and then every hour, until ctx ends. Every node
// may run it: each batch is one transaction and a purged row is skipped.
func (a *App) purgeExpired(ctx context.Context, log *slog.Logger) {
	st, pol := a.Store, a.Policy
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		for {
			now := time.Now()
			n, err := st.PurgePersonalData(ctx, store.System, now.Add(-pol.Retention), now, 1000)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("retention purge", "err", err)
				}
				break
			}
			if n > 0 {
				log.Info("retention purge", "certificates", n)
			}
			if n < 1000 {
				break
			}
		}
		// Replay records are kept longer than a code lives: offline
		// terminals upload their scans later, and a scan is matched
		// against the claims of its own step (package offline). A day
		// and an hour covers every scan made with a fresh bundle and
		// uploaded within a day.
		oldest := time.Now().Add(-claimRetention).Unix() / int64(pol.StepDuration/time.Second)
		if err := st.PurgeCodeClaims(ctx, oldest); err != nil && ctx.Err() == nil {
			log.Error("replay record purge", "err", err)
		}
		// An abandoned face check's sealed subject is of no use after it
		// expired.
		if _, err := st.PurgeAbandonedFaceChecks(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Error("face check purge", "err", err)
		}
		// Login failures count within LoginWindow; keep a day for the record.
		if err := st.PurgeThrottle(ctx, time.Now().Add(-max(pol.LoginWindow, 24*time.Hour))); err != nil && ctx.Err() == nil {
			log.Error("throttle purge", "err", err)
		}
		// Idempotency-Keys are kept 24 hours (API.md); a probe row whose
		// node stopped probing a day ago belongs to a node that is gone.
		if err := st.PurgeIdempotencyKeys(ctx, time.Now().Add(-store.IdempotencyRetention)); err != nil && ctx.Err() == nil {
			log.Error("idempotency key purge", "err", err)
		}
		if err := st.PurgeWriteProbes(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Error("write probe purge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
