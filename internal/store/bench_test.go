package store_test

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// BenchmarkRecordVerification records claimed verifications of distinct
// codes from parallel callers: the database's part of an online
// verification. "sqlite" runs SQLite as served (synchronous FULL: an fsync
// per group commit); "sqlite-normal" runs it with synchronous NORMAL, to
// measure what durability against power loss costs.
func BenchmarkRecordVerification(b *testing.B) {
	for _, backend := range append(storetest.Backends(b), "sqlite-normal") {
		b.Run(backend, func(b *testing.B) {
			var s *store.Store
			if backend == "sqlite-normal" {
				var err error
				if s, err = store.Open(context.Background(), store.Options{DataDir: b.TempDir(), SQLiteSynchronous: "NORMAL"}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
			} else {
				s = storetest.Open(b, backend)
			}
			ctx := context.Background()
			var step atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			defer cpuPerOp(b)()
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

// cpuPerOp reports, when the returned func is called, the CPU time (user
// and system) this process spent per operation since cpuPerOp was called:
// on a shared machine a steadier figure than the wall time, and on SQLite
// it is all the work of the database. (PostgreSQL's backends are other
// processes, not counted.)
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCertificateAndDevice reads a certificate and its device's
// revocation as a verification does (verify's step 8).
func BenchmarkCertificateAndDevice(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := storetest.Open(b, backend)
			ctx := context.Background()
			if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: "bench", Username: "bench", PasswordHash: "x", Role: store.RolePassenger, CreatedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
			check, id, now := store.NewID(), store.NewID(), time.Now()
			if err := s.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{ID: check, AccountID: "bench", SessionID: "s", Purpose: store.PurposeApply,
				SubjectIndex: []byte{1}, NameIndex: []byte{1}, NameMasked: "张*", DeviceKey: []byte{2}, DeviceKeyHash: []byte{3},
				Provider: "bench", ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.CompleteFaceCheck(ctx, store.CLI, check, "bench", store.FaceResult{Passed: true}, now); err != nil {
				b.Fatal(err)
			}
			if _, err := s.IssueCertificate(ctx, store.CLI, store.Issuance{
				Certificate: store.Certificate{ID: id, HolderIndex: make([]byte, 32), AccountID: "bench", NameCT: make([]byte, 60),
					IDNumberCT: make([]byte, 60), NameMasked: "张*", IDMasked: "1101**********0000", CityCode: "110100",
					IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
				FaceCheck:  store.FaceCheckUse{ID: check, AccountID: "bench", Purpose: store.PurposeApply, SubjectIndex: []byte{1}, NameIndex: []byte{1}, Now: now, Window: time.Minute},
				MonthStart: now.Add(-time.Hour), MonthEnd: now.Add(time.Hour), MonthlyLimit: 3, RenewalWindow: time.Hour,
			}); err != nil {
				b.Fatal(err)
			}
			device := make([]byte, 32)
			b.ReportAllocs()
			b.ResetTimer()
			defer cpuPerOp(b)()
			for range b.N {
				if _, _, err := s.CertificateAndDevice(ctx, id, device, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
