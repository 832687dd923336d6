package app

import (
	"context"
	"log/slog"
	"time"

	"tempid/internal/store"
)

// Background starts the loops every node runs beside the API, until stop
// is called: the audit sealer (every second), the key schedule (reloaded
// every minute so that nodes follow each other's rotations, and rotated
// when due) and the retention purge (at start, then hourly). stop ends
// them and returns once the sealer has finished its batch; the caller
// seals what is still pending (store.SealAllAudit) when it shuts down.
func (a *App) Background(log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sealerDone := make(chan struct{})
	go func() {
		defer close(sealerDone)
		sealAudit(ctx, a.Store, log)
	}()
	go a.Signing.Run(ctx, time.Minute, log)
	go a.purgeExpired(ctx, log)
	return func() {
		cancel()
		<-sealerDone
	}
}

// sealAudit chains pending audit entries every second until ctx ends.
func sealAudit(ctx context.Context, st interface {
	SealAudit(context.Context, time.Time, int) (int, error)
}, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n, err := st.SealAudit(ctx, time.Now(), 2000)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("audit sealing", "err", err)
				}
				break
			}
			if n < 2000 {
				break
			}
		}
	}
}

// purgeExpired removes personal data from certificates past the retention
// period, replay records no code can match any more and old login
// failures, once at start and then every hour, until ctx ends. Every node
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
		// Replay records older than an hour of steps can never match a
		// code that still verifies.
		oldest := time.Now().Add(-time.Hour).Unix() / int64(pol.StepDuration/time.Second)
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
