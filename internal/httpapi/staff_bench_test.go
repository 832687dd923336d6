package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"tempid/internal/accounts"
	tempidapp "tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/idnumber"
	"tempid/internal/issuance"
	"tempid/internal/metrics"
	"tempid/internal/online"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// BenchmarkOnlineVerification measures POST /api/v1/verifications through
// the HTTP handler, on SQLite, end to end: authentication, verification,
// the certificate and device look-ups, and the transaction that claims the
// code and records the verification with its audit entry. Every iteration
// presents a code not presented before for its operation — certificates ×
// operations × minutes — so each one is valid, never a replay.
func BenchmarkOnlineVerification(b *testing.B) {
	ctx := context.Background()
	s := storetest.Open(b, "sqlite")
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		b.Fatal(err)
	}
	base := time.Now().Truncate(time.Minute)
	clk := clock.NewManual(base)
	// Logged and measured as served: an access log line in JSON per
	// request (written nowhere) and the request metrics.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w, err := tempidapp.New(ctx, tempidapp.Config{Store: s, PII: kr, Policy: policy.Default(), Clock: clk, Password: accounts.TestPassword,
		Log: log, Metrics: metrics.New()})
	if err != nil {
		b.Fatal(err)
	}
	api, acc, iss := w.API, w.Accounts, w.Issuance
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	term, err := acc.CreateTerminal(ctx, store.CLI, "Bench gate", "BJP", false, "")
	if err != nil {
		b.Fatal(err)
	}
	account := store.NewID()
	if err := s.CreateAccount(ctx, store.CLI, store.Account{ID: account, Username: "bench", PasswordHash: "x", Role: store.RolePassenger, CreatedAt: base}); err != nil {
		b.Fatal(err)
	}

	ops := []string{online.Entry, online.TicketCheck, online.IDCheck, online.TicketPurchase,
		online.Refund, online.Change, online.ReimbursementVoucher}
	const minutes = 20 // within the pass's 30 minutes
	perCert := len(ops) * minutes
	n := b.N/perCert + 1
	type shown struct {
		pass   []byte
		device *ecdsa.PrivateKey
	}
	certs := make([]shown, n)
	for i := range certs {
		device, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		subj := issuance.Subject{Name: "张三", IDNumber: idnumber.Generate("11", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/1000), i%1000)}
		check := benchCheck(b, s, iss, account, subj, device, base)
		res, err := iss.Apply(ctx, issuance.Application{Actor: store.CLI, AccountID: account, SessionID: "bench", FaceCheckID: check,
			Name: subj.Name, IDNumber: subj.IDNumber.String(), CityCode: "110100"})
		if err != nil {
			b.Fatal(err)
		}
		certs[i] = shown{pass: res.Pass.Bytes, device: device}
	}
	type scan struct {
		at   time.Time
		body []byte
	}
	scans := make([]scan, b.N)
	for i := range scans {
		c := certs[i%n]
		round := i / n
		at := base.Add(time.Duration(round/len(ops)) * time.Minute)
		code, err := credential.MakeCode(c.pass, credential.StepAt(at), c.device, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"code": code, "operation": ops[round%len(ops)]})
		scans[i] = scan{at: at, body: body}
	}
	client := srv.Client()
	b.ResetTimer()
	cpu := cpuTime()
	defer func() {
		// CPU time of client and server per verification: steadier
		// than the wall time on a shared machine.
		b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}()
	for i := range b.N {
		clk.Set(scans[i].at)
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/verifications", bytes.NewReader(scans[i].body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+term.APIKey)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out struct {
			Verdict string `json:"verdict"`
			Reason  string `json:"reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.Verdict != "valid" {
			b.Fatalf("scan %d: %s %s (%v)", i, out.Verdict, out.Reason, err)
		}
	}
}

// benchCheck records a passed apply face check with a device key.
func benchCheck(b *testing.B, s *store.Store, iss *issuance.Service, account string, subj issuance.Subject, device *ecdsa.PrivateKey, now time.Time) string {
	b.Helper()
	ctx := context.Background()
	dk, err := credential.CompressDeviceKey(&device.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	hash := credential.DeviceKeyHash(dk)
	id := store.NewID()
	if err := s.CreateFaceCheck(ctx, store.CLI, store.FaceCheck{
		ID: id, AccountID: account, SessionID: "bench", Purpose: store.PurposeApply,
		SubjectIndex: iss.HolderIndex(subj.IDNumber), NameIndex: iss.NameIndex(subj.Name),
		NameMasked: idnumber.MaskName(subj.Name), DeviceKey: dk[:], DeviceKeyHash: hash[:], Provider: "bench",
		ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CompleteFaceCheck(ctx, store.CLI, id, account, store.FaceResult{Passed: true, Score: 1}, now); err != nil {
		b.Fatal(err)
	}
	return id
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
