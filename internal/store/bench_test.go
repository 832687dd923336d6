package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strconv"
	"strings"
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
// measure what durability against power loss costs. Besides the time it
// reports the CPU time per verification of this process (cpu-µs/op) and,
// when PostgreSQL runs on this machine, of its backends serving the store
// (pg-µs/op): on a machine whose cores are shared, CPU time varies less
// than elapsed time.
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
			} else if backend == "postgres" {
				var err error
				if s, err = store.Open(context.Background(), store.Options{DSN: withApplicationName(b, storetest.Schema(b), "bench")}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
			} else {
				s = storetest.Open(b, backend)
			}
			ctx := context.Background()
			var step atomic.Int64
			b.SetParallelism(4)
			cpu := startCPU(b, backend == "postgres")
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
			cpu.report(b)
		})
	}
}

// cpuPerOp reports, when the returned func is called, the CPU time (user
// and system) this process spent per operation since cpuPerOp was called:
// on a shared machine a steadier figure than the wall time, and on SQLite
// it is all the work of the database. (PostgreSQL's backends are other
// processes, not counted.)
func cpuPerOp(b *testing.B) func() {
	start := selfCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((selfCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// withApplicationName names the connections of a DSN, so that their
// backends can be found in pg_stat_activity.
func withApplicationName(b *testing.B, dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name+strconv.Itoa(os.Getpid()))
	u.RawQuery = q.Encode()
	return u.String()
}

// cpuMeter measures the CPU time of this process and, optionally, of the
// PostgreSQL backends named by withApplicationName.
type cpuMeter struct {
	self     time.Duration
	backends map[int]time.Duration // nil: not measured
}

func startCPU(b *testing.B, backends bool) *cpuMeter {
	m := &cpuMeter{self: selfCPU()}
	if backends {
		m.backends = backendCPU(b)
	}
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64((selfCPU()-m.self).Microseconds())/float64(b.N), "cpu-µs/op")
	if m.backends == nil {
		return
	}
	var pg time.Duration
	for pid, t := range backendCPU(b) {
		pg += t - m.backends[pid]
	}
	if pg > 0 {
		b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-µs/op")
	}
}

func selfCPU() time.Duration {
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

// backendCPU reads the CPU time of the benchmark's PostgreSQL backends
// from /proc; it finds none when PostgreSQL runs elsewhere.
func backendCPU(b *testing.B) map[int]time.Duration {
	db, err := sql.Open("pgx", os.Getenv(storetest.EnvPostgres))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, "bench"+strconv.Itoa(os.Getpid()))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis; utime and
		// stime are the 14th and 15th of the line, in clock ticks
		// (100 a second on Linux).
		_, after, _ := strings.Cut(string(stat), ") ")
		f := strings.Fields(after)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
}
