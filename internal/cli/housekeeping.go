package cli

import (
	"context"
	"log/slog"
	"time"

	"tempid/internal/policy"
	"tempid/internal/store"
)

// claimRetention is how long a code's claim (replay record) is kept.
const claimRetention = 25 * time.Hour

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
		// Replay records are kept longer than a code lives: offline
		// terminals upload their scans later, and a scan is matched
		// against the claims of its own step (package offline). A day
		// and an hour covers every scan made with a fresh bundle and
		// uploaded within a day.
		oldest := time.Now().Add(-claimRetention).Unix() / int64(pol.StepDuration/time.Second)
		if err := st.PurgeCodeClaims(ctx, oldest); err != nil && ctx.Err() == nil {
			log.Error("replay record purge", "err", err)
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
