package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// BenchmarkRecordVerification records claimed verifications of distinct
// codes from parallel callers: the database's part of an online
// verification.
func BenchmarkRecordVerification(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := storetest.Open(b, backend)
			ctx := context.Background()
			var step atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				cert := store.NewID()
				for pb.Next() {
					v := store.Verification{ID: store.NewID(), CertificateID: cert, Step: step.Add(1), Operation: "entry",
						Verifier: "terminal:gate", StationCode: "BJP", Verdict: store.VerdictValid, At: time.Now()}
					if _, err := s.RecordVerification(ctx, store.TerminalActor("gate"), v, true); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
