package gate_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/base45"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/face"
	"tempid/internal/face/facetest"
	"tempid/internal/gate"
	"tempid/internal/idnumber"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/testnet"
)

// server is a complete tempid API on a real database with a manual clock,
// reached through a TCP proxy the test can cut, and a handler in front of
// the API that can damage the trust bundle it serves.
type server struct {
	t      *testing.T
	store  *store.Store
	app    *app.App
	clock  *clock.Manual
	api    *httptest.Server
	proxy  *testnet.Proxy
	url    *url.URL
	apiKey string
	tamper atomic.Bool
	seq    atomic.Int64
}

func startServer(t *testing.T, s *store.Store, at time.Time) *server {
	t.Helper()
	ctx := context.Background()
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(at)
	w, err := app.New(ctx, app.Config{Store: s, PII: kr, Registry: registry.Development{}, Provider: face.NewSimulator(),
		Policy: policy.Default(), Clock: clk, Password: accounts.TestPassword, Demo: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{t: t, store: s, app: w, clock: clk}
	h := w.API.Handler()
	srv.api = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/trust-bundle" && srv.tamper.Load() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var env map[string]string
			json.Unmarshal(rec.Body.Bytes(), &env)
			sig, _ := base64.RawURLEncoding.DecodeString(env["sig"])
			sig[0] ^= 1
			env["sig"] = base64.RawURLEncoding.EncodeToString(sig)
			b, _ := json.Marshal(env)
			rw.Write(b)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.api.Close)
	srv.proxy = testnet.Start(t, srv.api.Listener.Addr().String())
	srv.url, _ = url.Parse("http://" + srv.proxy.Addr)
	term, err := w.Accounts.CreateTerminal(ctx, store.CLI, "Gate 1", "BJP", true, store.TerminalGate)
	if err != nil {
		t.Fatal(err)
	}
	srv.apiKey = term.APIKey
	return srv
}

// holder is a passenger's phone: a pass and its device key.
type holder struct {
	pass   []byte
	device *ecdsa.PrivateKey
	certID string
}

func (h holder) code(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := credential.MakeCode(h.pass, credential.StepAt(at), h.device, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue signs up a passenger, passes a face check and applies, through the
// API, and returns the phone.
func (s *server) issue() holder {
	s.t.Helper()
	n := s.seq.Add(1)
	id := idnumber.Generate("44", time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), int(n)%1000).String()
	name := "赵" + []string{"一", "二", "三", "四", "五", "六", "七", "八"}[n%8]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	csrf := ""
	call := func(method, path, ct string, body []byte) map[string]any {
		s.t.Helper()
		req, _ := http.NewRequest(method, s.api.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var out map[string]any
		json.Unmarshal(raw, &out)
		return out
	}
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	user := fmt.Sprintf("gate%d%d", n, time.Now().UnixNano()%1e6)
	call("POST", "/api/v1/accounts", "application/json", js(map[string]any{"username": user, "password": "correct horse battery", "name": name, "id_number": id}))
	csrf = call("POST", "/api/v1/session", "application/json", js(map[string]any{"username": user, "password": "correct horse battery"}))["csrf_token"].(string)
	device, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fc := call("POST", "/api/v1/face-checks", "application/json", js(map[string]any{"purpose": "apply",
		"subject": map[string]any{"name": name, "id_number": id}, "device_key": json.RawMessage(credential.JWK(&device.PublicKey)), "consent": true}))["face_check"].(map[string]any)
	call("POST", fc["capture_url"].(string), "image/jpeg", facetest.SampleJPEG())
	r := call("POST", "/api/v1/certificates", "application/json", js(map[string]any{"face_check_id": fc["id"], "name": name, "id_number": id, "city_code": "440100"}))
	pass, err := base64.RawURLEncoding.DecodeString(r["pass"].(map[string]any)["pass"].(string))
	if err != nil {
		s.t.Fatal(err)
	}
	return holder{pass: pass, device: device, certID: r["certificate"].(map[string]any)["id"].(string)}
}

// offlineCount is how many offline verifications the server holds.
func (s *server) offlineCount() int64 {
	s.t.Helper()
	now := s.clock.Now()
	st, err := s.store.StatsOf(context.Background(), now.Add(-48*time.Hour), now.Add(48*time.Hour), time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	var n int64
	for _, v := range st.Verifications {
		n += v.Offline
	}
	return n
}

// running is a gate started by a test: its input, its output lines and
// its log.
type running struct {
	t     *testing.T
	in    *io.PipeWriter
	lines chan string
	done  chan error
	logs  *syncBuffer
	stop  context.CancelFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (s *server) config(dir string, clk clock.Clock) gate.Config {
	return gate.Config{Server: s.url, APIKey: s.apiKey, BundleFile: filepath.Join(dir, "bundle.json"),
		Refresh: 200 * time.Millisecond, Upload: 100 * time.Millisecond, Clock: clk}
}

func startGate(t *testing.T, cfg gate.Config) *running {
	t.Helper()
	pr, pw := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	g := &running{t: t, in: pw, lines: make(chan string, 100), done: make(chan error, 1), logs: &syncBuffer{}, stop: cancel}
	cfg.Log = slog.New(slog.NewTextHandler(g.logs, nil))
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			g.lines <- sc.Text()
		}
		close(g.lines)
	}()
	go func() {
		err := gate.Run(ctx, cfg, pr, outW)
		outW.Close()
		g.done <- err
	}()
	t.Cleanup(func() { cancel(); pw.Close() })
	return g
}

// scan types a line and returns the gate's answer.
func (g *running) scan(line string) string {
	g.t.Helper()
	go fmt.Fprintf(g.in, "%s\n", line)
	select {
	case l := <-g.lines:
		return l
	case <-time.After(20 * time.Second):
		g.t.Fatalf("no verdict for %.20q; log:\n%s", line, g.logs.String())
		return ""
	}
}

// close ends the input and waits for the gate to exit.
func (g *running) close() {
	g.t.Helper()
	g.in.Close()
	g.wait()
}

func (g *running) wait() {
	g.t.Helper()
	select {
	case err := <-g.done:
		if err != nil {
			g.t.Fatalf("gate.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		g.t.Fatalf("the gate did not exit; log:\n%s", g.logs.String())
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCodesPipedInGiveVerdictsOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Second)
		srv := startServer(t, s, now)
		good, revoked := srv.issue(), srv.issue()
		revokeCertificate(t, srv, revoked.certID)
		clk := clock.NewManual(now)
		cfg := srv.config(t.TempDir(), clk)
		g := startGate(t, cfg)
		waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })

		code := good.code(t, now)
		huge := strings.Repeat("TID1:", 5000)
		for _, tt := range []struct {
			name, line, want string
		}{
			{"a fresh code is valid", code, "valid - code 赵* "},
			{"the same code again for the same operation is replayed", code, "invalid replayed code 赵* "},
			{"a revoked certificate's code is revoked", revoked.code(t, now), "invalid revoked code 赵* "},
			{"a code from five minutes ago is code_expired", good.code(t, now.Add(-5*time.Minute)), "invalid code_expired code 赵* "},
			{"garbage is malformed", "garbage", "invalid malformed code - -"},
			{"a half-typed code is malformed", code[:len(code)/2], "invalid malformed code - -"},
			{"a DCC is malformed", "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", "invalid malformed code - -"},
			{"a URL is malformed", "https://example.com/?c=TID1:ABC", "invalid malformed code - -"},
			{"a slip is malformed here", "TIDS1:ABCDEF", "invalid malformed slip - -"},
			{"a line of 25 000 characters is malformed", huge, "invalid malformed code - -"},
			{"control characters are malformed", "TID1:\x00\x01\x1b[2J", "invalid malformed code - -"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := g.scan(tt.line); !strings.HasPrefix(got, tt.want) {
					t.Errorf("got %q, want it to start with %q", got, tt.want)
				}
			})
		}
		g.close()
		if got, want := srv.offlineCount(), int64(11); got != want {
			t.Errorf("the server holds %d offline verifications, want %d", got, want)
		}

		t.Run("with --json each verdict is an object", func(t *testing.T) {
			cfg.JSON = true
			g := startGate(t, cfg)
			var o gate.Output
			if err := json.Unmarshal([]byte(g.scan(good.code(t, now))), &o); err != nil {
				t.Fatal(err)
			}
			if o.Verdict != "valid" || o.Reason != "" || o.Kind != "code" || o.CertificateID != good.certID || o.Holder.NameMasked != "赵*" || o.At.IsZero() {
				t.Errorf("valid: %+v", o)
			}
			line := g.scan("garbage")
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(line, `"holder":{"name_masked":"","id_number_masked":""}`) || strings.Contains(line, "certificate_id") {
				t.Errorf("garbage: %s", line)
			}
			if o.Verdict != "invalid" || o.Reason != "malformed" {
				t.Errorf("garbage: %+v", o)
			}
			g.close()
		})
	})
}

func revokeCertificate(t *testing.T, srv *server, id string) {
	t.Helper()
	if _, err := srv.store.RevokeCertificate(context.Background(), store.CLI, id, "other", "lost", srv.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestServerDownTheGateStillVerifiesAndUploadsLater(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Second)
		srv := startServer(t, s, now)
		h := srv.issue()
		clk := clock.NewManual(now)
		cfg := srv.config(t.TempDir(), clk)
		g := startGate(t, cfg)
		waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })
		g.close()

		srv.proxy.Cut()
		g = startGate(t, cfg)
		for i, op := range []time.Duration{0, time.Minute, 2 * time.Minute} {
			clk.Set(now.Add(op))
			srv.clock.Set(now.Add(op))
			if got := g.scan(h.code(t, clk.Now())); !strings.HasPrefix(got, "valid ") {
				t.Errorf("scan %d with the server down: %q", i, got)
			}
		}
		if got := g.scan("garbage"); !strings.HasPrefix(got, "invalid malformed") {
			t.Errorf("garbage with the server down: %q", got)
		}
		time.Sleep(500 * time.Millisecond) // a few failed uploads and refreshes
		if n := srv.offlineCount(); n != 0 {
			t.Fatalf("%d scans reached a server that is down", n)
		}

		t.Run("a bundle failing its signature is refused and the old one kept", func(t *testing.T) {
			srv.tamper.Store(true)
			defer srv.tamper.Store(false)
			srv.proxy.Restore()
			waitFor(t, "the refusal", func() bool { return strings.Contains(g.logs.String(), "refused") })
			clk.Set(now.Add(3 * time.Minute))
			srv.clock.Set(now.Add(3 * time.Minute))
			if got := g.scan(h.code(t, clk.Now())); !strings.HasPrefix(got, "valid ") {
				t.Errorf("after a bad bundle: %q", got)
			}
		})
		waitFor(t, "the log uploaded once the server is back", func() bool { return srv.offlineCount() == 5 })
		g.close()
	})
}

func TestABundlePastTheFreshnessLimitIsStale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Second)
		srv := startServer(t, s, now)
		clk := clock.NewManual(now)
		cfg := srv.config(t.TempDir(), clk)
		g := startGate(t, cfg)
		waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })
		g.close()
		srv.proxy.Cut()

		// The bundle's issued_at is rounded down to 10 minutes; a second
		// past 24 h after the fetch it is past the limit whatever the
		// rounding (at exactly 24 h it is not, when the fetch fell on a
		// 10-minute mark).
		later := now.Add(24*time.Hour + time.Second)
		srv.clock.Set(later)
		h := srv.issue()
		clk.Set(later)
		g = startGate(t, cfg)
		if got := g.scan(h.code(t, later)); got != "invalid stale_bundle code - -" {
			t.Errorf("a good code with a stale bundle: %q", got)
		}
		if got := g.scan("garbage"); got != "invalid malformed code - -" {
			t.Errorf("garbage with a stale bundle: %q", got)
		}
		g.close()
	})
}

func TestUploadIsIdempotentWhenTheConnectionBreaksMidBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Second)
		srv := startServer(t, s, now)
		var phones []holder
		for range 3 {
			phones = append(phones, srv.issue())
		}
		clk := clock.NewManual(now)
		cfg := srv.config(t.TempDir(), clk)
		cfg.Batch = 2
		g := startGate(t, cfg)
		waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })

		// Every answer is lost after the server has stored the batch: the
		// gate sends the same batch again and again.
		srv.proxy.LoseAnswers(true)
		for _, h := range phones {
			if got := g.scan(h.code(t, now)); !strings.HasPrefix(got, "valid ") {
				t.Fatalf("scan: %q", got)
			}
		}
		g.scan("garbage")
		waitFor(t, "uploads whose answers are lost", func() bool { return srv.proxy.Lost() >= 3 })
		srv.proxy.LoseAnswers(false)
		g.close()
		if got, want := srv.offlineCount(), int64(4); got != want {
			t.Errorf("%d offline verifications stored, want %d: each scan once", got, want)
		}

		// A gate restarted on the same log has nothing left to send: the
		// resent batches were acknowledged as duplicates.
		g = startGate(t, cfg)
		g.close()
		if got, want := srv.offlineCount(), int64(4); got != want {
			t.Errorf("after a restart %d offline verifications stored, want %d", got, want)
		}
		if strings.Contains(g.logs.String(), "pending") {
			t.Errorf("scans left in the log: %s", g.logs.String())
		}
	})
}

func TestAFullScanLogKeepsVerifyingAndSaysSo(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	// The start of a minute: the one code below is scanned for 40 s and
	// lives until 30 s past the end of its minute (CREDENTIAL.md step 7),
	// so from a later second it would expire mid-test.
	now := time.Now().Truncate(time.Minute)
	srv := startServer(t, s, now)
	h := srv.issue()
	clk := clock.NewManual(now)
	cfg := srv.config(t.TempDir(), clk)
	g := startGate(t, cfg)
	waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })
	g.close()
	srv.proxy.Cut()

	cfg.MaxLogPages = 8
	g = startGate(t, cfg)
	for i := range 40 {
		clk.Set(now.Add(time.Duration(i) * time.Second))
		want := "valid "
		if i > 0 {
			want = "invalid replayed"
		}
		if got := g.scan(h.code(t, now)); !strings.HasPrefix(got, want) {
			t.Fatalf("scan %d with the log full: %q", i, got)
		}
	}
	if !strings.Contains(g.logs.String(), "the scan log is full") {
		t.Errorf("the gate did not say the log is full:\n%s", g.logs.String())
	}
	g.close()
}

func TestSIGTERMEndsTheGateWithTheLogFlushed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Second)
		srv := startServer(t, s, now)
		h := srv.issue()
		clk := clock.NewManual(now)
		cfg := srv.config(t.TempDir(), clk)
		cfg.Upload = time.Hour // only the flush at exit uploads
		g := startGate(t, cfg)
		waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })
		if got := g.scan(h.code(t, now)); !strings.HasPrefix(got, "valid ") {
			t.Fatalf("scan: %q", got)
		}
		g.scan("garbage")
		g.stop() // what SIGINT and SIGTERM do (signal.NotifyContext); the input stays open
		g.wait()
		if got, want := srv.offlineCount(), int64(2); got != want {
			t.Errorf("%d scans uploaded at exit, want %d", got, want)
		}
	})
}

// slip has an officer at BJP issue a paper slip through the API, and
// returns its text and certificate id.
func (s *server) slip(name string) (string, string) {
	s.t.Helper()
	ctx := context.Background()
	n := s.seq.Add(1)
	user := fmt.Sprintf("officer%d%d", n, time.Now().UnixNano()%1e6)
	if _, err := s.app.Accounts.CreateStaff(ctx, store.CLI, user, "correct horse battery", store.RoleOfficer, "BJP"); err != nil {
		s.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path, csrf string, v any) map[string]any {
		s.t.Helper()
		b, _ := json.Marshal(v)
		req, _ := http.NewRequest("POST", s.api.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			s.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
		}
		var out map[string]any
		json.Unmarshal(raw, &out)
		return out
	}
	csrf := post("/api/v1/session", "", map[string]any{"username": user, "password": "correct horse battery"})["csrf_token"].(string)
	id := idnumber.Generate("44", time.Date(1991, 3, 4, 0, 0, 0, 0, time.UTC), int(n)%1000).String()
	r := post("/api/v1/slips", csrf, map[string]any{"name": name, "id_number": id, "method": "questions"})
	return r["slip"].(string), r["certificate"].(map[string]any)["id"].(string)
}

func TestASlipAtAGateIsStaffedLane(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Second)
		srv := startServer(t, s, now)
		slip, certID := srv.slip("钱七")
		revoked, revokedID := srv.slip("孙八")
		revokeCertificate(t, srv, revokedID)
		clk := clock.NewManual(now)
		cfg := srv.config(t.TempDir(), clk)
		// A caller's verifier without Gate is made a gate's: a gate is a
		// fixed lane whatever the configuration says.
		g := startGate(t, cfg)
		waitFor(t, "the first bundle", func() bool { _, err := os.Stat(cfg.BundleFile); return err == nil })
		for _, tt := range []struct {
			name, line, want string
		}{
			{"a valid slip is staffed_lane, with its masked holder", slip, "invalid staffed_lane slip 钱* "},
			{"the same slip again is staffed_lane again, never replayed", slip, "invalid staffed_lane slip 钱* "},
			{"a revoked slip is staffed_lane too: the lane comes first in the reason order", revoked, "invalid staffed_lane slip 孙* "},
			{"a slip with a flipped signature byte is bad_signature", flipLast(t, slip), "invalid bad_signature slip - -"},
			{"a slip with a trailing character is malformed", slip + "A", "invalid malformed slip - -"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := g.scan(tt.line); !strings.HasPrefix(got, tt.want) {
					t.Errorf("got %q, want it to start with %q", got, tt.want)
				}
			})
		}
		g.close()

		t.Run("with --json kind is slip and the certificate is named", func(t *testing.T) {
			cfg.JSON = true
			g := startGate(t, cfg)
			var o gate.Output
			if err := json.Unmarshal([]byte(g.scan(slip)), &o); err != nil {
				t.Fatal(err)
			}
			if o.Verdict != "invalid" || o.Reason != "staffed_lane" || o.Kind != "slip" || o.CertificateID != certID || o.Holder.NameMasked != "钱*" || o.Holder.IDNumberMasked == "" {
				t.Errorf("slip: %+v", o)
			}
			g.close()
		})
		t.Run("the scans reach the server as offline verifications", func(t *testing.T) {
			if got, want := srv.offlineCount(), int64(6); got != want {
				t.Errorf("the server holds %d offline verifications, want %d", got, want)
			}
		})
	})
}

// flipLast changes one bit of the last byte a slip's Base45 text encodes
// (its signature), keeping the text well-formed.
func flipLast(t *testing.T, slip string) string {
	t.Helper()
	raw, err := base45.Decode(strings.TrimPrefix(slip, credential.SlipPrefix))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	return credential.SlipPrefix + base45.Encode(raw)
}
