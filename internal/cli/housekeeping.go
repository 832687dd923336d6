package cli

import (
	"context"
	"log/slog"
	"time"

	"tempid/internal/policy"
	"tempid/internal/store"
)

// purgeExpired removes personal data from certificates past the retention
// period, replay records no code can match any more and old login
// failures, once at start and
// then every hour, until ctx ends. Every node
// may run it: each batch is one transaction and a purged row is skipped.
func purgeExpired(ctx context.Context, st *store.Store, pol policy.Settings, log *slog.Logger) {
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
		// Replay records older than an hour of steps can never match a
		// code that still verifies.
		oldest := time.Now().Add(-time.Hour).Unix() / int64(pol.StepDuration/time.Second)
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
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
