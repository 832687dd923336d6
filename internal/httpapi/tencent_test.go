package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"tempid/internal/httpapi/apiv1"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"tempid/internal/accounts"
	tempidapp "tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/face"
	"tempid/internal/face/facetest"
	"tempid/internal/metrics"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/tencent"
	"tempid/internal/tencent/tencenttest"
)

// publicURL is the address the hosted tests configure as tempid's own.
const publicURL = "https://tempid.example"

// newTencentApp is the whole API on s with Tencent Cloud FaceID (the local
// fake) as the identity registry and the face provider, in mode "capture"
// or "hosted", wired as serve wires it.
func newTencentApp(t *testing.T, s *store.Store, mode string, cfg tencent.FaceConfig) (*app, *tencenttest.Fake, *tencent.Client) {
	t.Helper()
	f := tencenttest.New(t)
	m := metrics.New()
	c, err := tencent.New(tencent.Config{Endpoint: f.Endpoint(), Transport: f.Transport(), Timeout: 1500 * time.Millisecond,
		Credential: common.NewCredential(tencenttest.SecretID, tencenttest.SecretKey), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	var provider face.Provider = &tencent.Capture{Client: c, Config: cfg}
	if mode == "hosted" {
		cfg.RuleID = "1"
		provider = &tencent.Hosted{Client: c, Config: cfg}
	}
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Now().Truncate(time.Second))
	logs := &syncBuffer{}
	w, err := tempidapp.New(context.Background(), tempidapp.Config{Store: s, PII: kr, Registry: tencent.Registry{Client: c},
		Provider: provider, Policy: policy.Default(), Clock: clk, Password: accounts.TestPassword,
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m,
		FaceReturnURL: publicURL + "/face-return", ProviderHealth: func() map[string]error { return map[string]error{"tencent": c.Health()} }})
	if err != nil {
		t.Fatal(err)
	}
	// Demo is off: the session cookie is Secure, which a cookie jar sends
	// over plain HTTP to loopback only.
	srv := httptest.NewServer(w.API.Handler())
	t.Cleanup(srv.Close)
	a := &app{t: t, srv: srv, store: s, clock: clk, accounts: w.Accounts, keys: w.Signing, logs: logs}
	t.Cleanup(func() { assertNothingPersonalLogged(t, a, everyone()...) })
	return a, f, c
}

// startCheck starts an apply face check for p.
func (c *client) startCheck(p person) answer {
	c.a.t.Helper()
	return c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply",
		"subject": map[string]any{"name": p.name, "id_number": p.id.String()}, "device_key": c.jwk(), "consent": true})
}

// want fails t (a subtest's own, unlike client.want) unless r has this
// status and, if given, this problem code.
func want(t *testing.T, r answer, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("got %d %s (%s), want %d %s", r.status, r.code(), r.raw, status, code)
	}
}

// auditCount is how many audit entries exist: every state change writes one.
func auditCount(t *testing.T, s *store.Store) int {
	t.Helper()
	e, err := s.AuditEntries(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}

func TestTencentRegistryResultsOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "capture", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("赵敏")
		c.signUp(me)
		for _, tc := range []struct {
			name, result string
			status       int
			code         string
		}{
			{"0 confirms and the check starts", "0", 201, ""},
			{"-1 is identity_mismatch", "-1", 422, "identity_mismatch"},
			{"-2 is invalid_id_number", "-2", 400, "invalid_id_number"},
			{"-3 is validation_failed", "-3", 400, "validation_failed"},
			{"-4 is unavailable", "-4", 503, "unavailable"},
			{"-5 is identity_mismatch", "-5", 422, "identity_mismatch"},
			{"-6 is unavailable", "-6", 503, "unavailable"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fake.Set("IdCardVerification", tencenttest.Answer{Result: tc.result})
				before := auditCount(t, s)
				r := c.startCheck(me)
				want(t, r, tc.status, tc.code)
				if tc.status != 201 && auditCount(t, s) != before {
					t.Error("a refused start wrote something")
				}
			})
		}
	})
}

func TestTencentCaptureOutcomesOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "capture", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("周芷若")
		c.signUp(me)
		img := facetest.SampleJPEG()
		for _, tc := range []struct {
			name   string
			answer tencenttest.Answer
			status string
			reason string
		}{
			{"a similarity at the threshold passes", tencenttest.Answer{Result: "Success", Sim: 70}, "passed", ""},
			{"just below the threshold fails", tencenttest.Answer{Result: "Success", Sim: 69.9}, "failed", "face_mismatch"},
			{"no face", tencenttest.Answer{Error: "FailedOperation.LifePhotoDetectNoFaces"}, "failed", "no_face"},
			{"several faces", tencenttest.Answer{Result: "FailedOperation.LifePhotoDetectFaces"}, "failed", "multiple_faces"},
			{"a fake", tencenttest.Answer{Result: "FailedOperation.LifePhotoDetectFake"}, "failed", "liveness_failed"},
			{"blurred", tencenttest.Answer{Result: "FailedOperation.ImageBlur"}, "failed", "poor_quality"},
			{"no registry photo", tencenttest.Answer{Result: "FailedOperation.IdPhotoNoExist"}, "failed", "no_registry_photo"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fake.Set("ImageRecognition", tc.answer)
				r := c.startCheck(me)
				want(t, r, 201, "")
				fc := as[apiv1.FaceCheckResponse](r).FaceCheck
				if fc.Provider != "tencent" || fc.CaptureURL == "" || fc.RedirectURL != "" {
					t.Fatalf("capture mode answered %s", r.raw)
				}
				got := c.do("POST", fc.CaptureURL, "image/jpeg", img)
				want(t, got, 200, "")
				if as[apiv1.FaceCheckResponse](got).FaceCheck.Status != tc.status || (tc.reason != "" && as[apiv1.FaceCheckResponse](got).FaceCheck.Reason != tc.reason) {
					t.Errorf("got %s, want %s %s", got.raw, tc.status, tc.reason)
				}
				if tc.status == "passed" {
					r := c.apply(me, fc.ID)
					want(t, r, 201, "")
					// Revoked, so that R5 does not refuse the next
					// checks for the account's own identity.
					if _, err := a.accounts.Issuance.Revoke(t.Context(), store.CLI, as[apiv1.Applied](r).Certificate.ID, "other", "test"); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
		// The picture went to the vendor once per capture, whole.
		for _, r := range fake.Requests() {
			if r.Action == "ImageRecognition" && r.ImageLen != base64.StdEncoding.EncodedLen(len(img)) {
				t.Errorf("the vendor got %d bytes of base64, want the capture's %d", r.ImageLen, base64.StdEncoding.EncodedLen(len(img)))
			}
		}
		assertNoImageLogged(t, a, img)
	})
}

// assertNoImageLogged scans the logs for any piece of the image, raw or
// in base64.
func assertNoImageLogged(t *testing.T, a *app, img []byte) {
	t.Helper()
	logs := a.logs.String()
	b64 := base64.StdEncoding.EncodeToString(img)
	for off := 0; off+32 <= len(img); off += len(img) / 16 {
		if strings.Contains(logs, string(img[off:off+32])) {
			t.Fatalf("bytes %d..%d of a capture are in the logs", off, off+32)
		}
	}
	for off := 0; off+48 <= len(b64); off += len(b64) / 16 {
		if strings.Contains(logs, b64[off:off+48]) {
			t.Fatalf("base64 of a capture is in the logs")
		}
	}
}

func TestTencentOutagesAnswer503AndChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "capture", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("张无忌")
		c.signUp(me)
		r := c.startCheck(me)
		want(t, r, 201, "")
		capture := as[apiv1.FaceCheckResponse](r).FaceCheck.CaptureURL
		for _, tc := range []struct {
			name   string
			answer tencenttest.Answer
		}{
			{"a 5xx", tencenttest.Answer{Status: 502}},
			{"a slow answer", tencenttest.Answer{Delay: 2 * time.Second}},
			{"a cut connection", tencenttest.Answer{Cut: true}},
			{"the vendor's own failure", tencenttest.Answer{Result: "FailedOperation.CompareSystemError"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fake.Set("ImageRecognition", tc.answer)
				before := auditCount(t, s)
				want(t, c.do("POST", capture, "image/jpeg", facetest.SampleJPEG()), 503, "unavailable")
				if auditCount(t, s) != before {
					t.Error("an outage wrote something")
				}
			})
		}
		// The check is still pending and passes once the vendor is back.
		fake.Set("ImageRecognition", tencenttest.Answer{})
		got := c.do("POST", capture, "image/jpeg", facetest.SampleJPEG())
		want(t, got, 200, "")
		if as[apiv1.FaceCheckResponse](got).FaceCheck.Status != "passed" {
			t.Fatalf("after the outage: %s", got.raw)
		}
		metricsText := c.do("GET", "/metrics", "", nil)
		for _, want := range []string{
			`tempid_provider_requests_total{action="ImageRecognition",outcome="timeout",provider="tencent"} 1`,
			`tempid_provider_requests_total{action="ImageRecognition",outcome="ok",provider="tencent"} 1`,
			`tempid_provider_request_duration_seconds_count{action="IdCardVerification",provider="tencent"}`,
		} {
			if !bytes.Contains(metricsText.raw, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestTencentRegistryOutageOpensTheBreakerShownInReadyz(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "capture", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("小昭")
		c.signUp(me)
		ready := c.json("GET", "/readyz", nil)
		want(t, ready, 200, "")
		if got := as[apiv1.Health](ready).Providers["tencent"]; got != "ok" {
			t.Errorf("readyz providers.tencent = %v, want ok", got)
		}
		fake.Set("IdCardVerification", tencenttest.Answer{Status: 503})
		before := auditCount(t, s)
		// Three tries per start (the call is read-only, so retried); the
		// fifth fault in a row, in the second start, opens the breaker,
		// and the third start is refused without a call.
		for range 3 {
			want(t, c.startCheck(me), 503, "unavailable")
		}
		if auditCount(t, s) != before {
			t.Error("an outage wrote something")
		}
		if n := fake.Count("IdCardVerification"); n != 1+5 {
			t.Errorf("%d registry calls, want 6 (1 sign-up, 3 and 2 tries, none while open)", n)
		}
		ready = c.json("GET", "/readyz", nil)
		want(t, ready, 200, "")
		if got := as[apiv1.Health](ready).Providers["tencent"]; !strings.HasPrefix(got, "unavailable: circuit open") {
			t.Errorf("readyz providers.tencent = %q, want the open circuit", got)
		}
	})
}

// hostedReturn drives the fake's hosted page as the passenger's browser
// would: open redirect_url, choose an outcome, and follow the vendor's
// redirect, which must lead to the app's /face-return for this check.
func hostedReturn(t *testing.T, fake *tencenttest.Fake, redirect, checkID, outcome string) {
	t.Helper()
	hc := fake.Client()
	page, err := hc.Get(redirect)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !bytes.Contains(body, []byte("人脸核身")) {
		t.Fatalf("the hosted page: %d %s", page.StatusCode, body)
	}
	back, err := hc.PostForm(redirect, url.Values{"outcome": {outcome}})
	if err != nil {
		t.Fatal(err)
	}
	back.Body.Close()
	loc, err := url.Parse(back.Header.Get("Location"))
	if back.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("the vendor did not send the passenger back: %d %v", back.StatusCode, err)
	}
	if loc.Scheme+"://"+loc.Host != publicURL || loc.Path != "/face-return" || loc.Query().Get("face_check") != checkID {
		t.Fatalf("the vendor sent the passenger to %s, want %s/face-return?face_check=%s", loc, publicURL, checkID)
	}
}

func TestTencentHostedChecksThroughTheRedirectAndReturn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "hosted", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("殷离")
		c.signUp(me)
		for _, tc := range []struct {
			name, outcome, status, reason string
		}{
			{"liveness failed", "liveness", "failed", "liveness_failed"},
			{"comparison failed", "compare", "failed", "face_mismatch"},
			{"below the threshold", "lowsim", "failed", "face_mismatch"},
			// Last: then the account's own identity has a certificate (R5).
			{"passed", "passed", "passed", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.startCheck(me)
				want(t, r, 201, "")
				fc := as[apiv1.FaceCheckResponse](r).FaceCheck
				id := fc.ID
				redirect := fc.RedirectURL
				if fc.Provider != "tencent" || !strings.HasPrefix(redirect, fake.URL()+"/h5/") || fc.CaptureURL != "" ||
					fc.CompleteURL != "/api/v1/face-checks/"+id+"/complete" {
					t.Fatalf("hosted mode answered %s", r.raw)
				}
				// A capture is not how a hosted check ends.
				want(t, c.do("POST", "/api/v1/face-checks/"+id+"/capture", "image/jpeg", facetest.SampleJPEG()), 400, "validation_failed")
				// Back too early: the check stays pending.
				want(t, c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil), 409, "face_check_not_passed")
				hostedReturn(t, fake, redirect, id, tc.outcome)
				got := c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil)
				want(t, got, 200, "")
				if as[apiv1.FaceCheckResponse](got).FaceCheck.Status != tc.status || (tc.reason != "" && as[apiv1.FaceCheckResponse](got).FaceCheck.Reason != tc.reason) {
					t.Fatalf("got %s, want %s %s", got.raw, tc.status, tc.reason)
				}
				// Used once.
				want(t, c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil), 409, "face_check_used")
				if tc.status == "passed" {
					want(t, c.apply(me, id), 201, "")
				} else {
					want(t, c.apply(me, id), 409, "face_check_not_passed")
				}
			})
		}
		for _, r := range fake.Requests() {
			if r.Action == "GetDetectInfoEnhanced" && r.Params["InfoType"] != "1" {
				t.Errorf("asked for InfoType %v; only text (1), never pictures", r.Params["InfoType"])
			}
		}
	})
}

func TestTencentHostedChecksStayBoundAndExpire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "hosted", tencent.FaceConfig{})
		c, other := a.client(), a.client()
		me, them := newPerson("宋青书"), newPerson("周颠")
		c.signUp(me)
		other.signUp(them)
		r := c.startCheck(me)
		want(t, r, 201, "")
		id := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
		hostedReturn(t, fake, as[apiv1.FaceCheckResponse](r).FaceCheck.RedirectURL, id, "passed")
		// Another account cannot complete it, nor use it.
		want(t, other.json("POST", "/api/v1/face-checks/"+id+"/complete", nil), 404, "not_found")
		want(t, c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil), 200, "")
		want(t, other.apply(me, id), 404, "not_found")
		// Another subject cannot use it.
		want(t, c.apply(them, id), 409, "face_check_mismatch")
		want(t, c.apply(me, id), 201, "")

		// A check not completed in time expires (for a companion: the
		// account's own identity now has a certificate, R5).
		r = c.startCheck(them)
		want(t, r, 201, "")
		id = as[apiv1.FaceCheckResponse](r).FaceCheck.ID
		hostedReturn(t, fake, as[apiv1.FaceCheckResponse](r).FaceCheck.RedirectURL, id, "passed")
		a.clock.Advance(policy.Default().FaceCheckPendingTTL + time.Second)
		want(t, c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil), 410, "face_check_expired")
	})
}

func TestTencentHostedOutagesAnswer503AndChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "hosted", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("杨逍")
		c.signUp(me)
		// DetectAuth opens a session: never retried, and nothing written
		// when it fails.
		fake.Set("DetectAuth", tencenttest.Answer{Status: 500})
		before := auditCount(t, s)
		want(t, c.startCheck(me), 503, "unavailable")
		if auditCount(t, s) != before || fake.Count("DetectAuth") != 1 {
			t.Errorf("a failed DetectAuth: %d audit entries added, %d calls (want 0, 1)", auditCount(t, s)-before, fake.Count("DetectAuth"))
		}
		fake.Set("DetectAuth", tencenttest.Answer{})
		r := c.startCheck(me)
		want(t, r, 201, "")
		id := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
		hostedReturn(t, fake, as[apiv1.FaceCheckResponse](r).FaceCheck.RedirectURL, id, "passed")
		fake.Set("GetDetectInfoEnhanced", tencenttest.Answer{Cut: true})
		before = auditCount(t, s)
		want(t, c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil), 503, "unavailable")
		if auditCount(t, s) != before {
			t.Error("a failed GetDetectInfoEnhanced wrote something")
		}
		if n := fake.Count("GetDetectInfoEnhanced"); n != 1+tencent.DefaultRetries {
			t.Errorf("GetDetectInfoEnhanced tried %d times, want %d", n, 1+tencent.DefaultRetries)
		}
		fake.Set("GetDetectInfoEnhanced", tencenttest.Answer{})
		got := c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil)
		want(t, got, 200, "")
		if as[apiv1.FaceCheckResponse](got).FaceCheck.Status != "passed" {
			t.Errorf("after the outage: %s", got.raw)
		}
	})
}

// TestParallelCompletionsOfOneHostedCheckEndItOnce: the passenger's app and
// a reload both ask complete at once; one answer is the result, the others
// face_check_used, and one result is recorded.
func TestParallelCompletionsOfOneHostedCheckEndItOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "hosted", tencent.FaceConfig{})
		c := a.client()
		me := newPerson("韦一笑")
		c.signUp(me)
		r := c.startCheck(me)
		want(t, r, 201, "")
		id := as[apiv1.FaceCheckResponse](r).FaceCheck.ID
		hostedReturn(t, fake, as[apiv1.FaceCheckResponse](r).FaceCheck.RedirectURL, id, "passed")
		before := auditCount(t, s)
		const n = 12
		results := make(chan answer, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { results <- c.json("POST", "/api/v1/face-checks/"+id+"/complete", nil) })
		}
		wg.Wait()
		close(results)
		counts := map[string]int{}
		for r := range results {
			counts[fmt.Sprint(r.status, r.code())]++
		}
		if counts["200"] != 1 || counts["409face_check_used"] != n-1 {
			t.Errorf("answers %v, want one 200 and %d face_check_used", counts, n-1)
		}
		if got := auditCount(t, s) - before; got != 1 {
			t.Errorf("%d audit entries, want the one completion", got)
		}
		f, err := s.FaceCheck(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != store.FacePassed || f.SubjectSealed != nil || !strings.HasPrefix(f.ProviderRef, "fake-") {
			t.Errorf("the check: status %s, sealed subject kept %v, reference %q", f.Status, f.SubjectSealed != nil, f.ProviderRef)
		}
	})
}

// TestAGuestCompletesAHostedCheckAtItsOwnRoute: a guest's hosted check
// names the guest twin of /complete, ends there after the vendor's page,
// and the guest applies with it; the account route does not serve it.
func TestAGuestCompletesAHostedCheckAtItsOwnRoute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, fake, _ := newTencentApp(t, s, "hosted", tencent.FaceConfig{})
		g := a.client()
		me := newPerson("张无忌")
		r := g.json("POST", "/api/v1/guest/face-checks", map[string]any{"purpose": "apply",
			"subject": map[string]any{"name": me.name, "id_number": me.id.String()}, "device_key": g.jwk(), "consent": true})
		want(t, r, 201, "")
		fc := as[apiv1.FaceCheckResponse](r).FaceCheck
		if want := "/api/v1/guest/face-checks/" + fc.ID + "/complete"; fc.CompleteURL != want || fc.CaptureURL != "" {
			t.Fatalf("a guest's hosted check answered %s, want complete_url %s", r.raw, want)
		}
		hostedReturn(t, fake, fc.RedirectURL, fc.ID, "passed")
		// Another account's route does not know the guest's check.
		acct := a.client()
		acct.signUp(newPerson("殷素素"))
		want(t, acct.json("POST", "/api/v1/face-checks/"+fc.ID+"/complete", nil), 404, "not_found")
		got := g.json("POST", fc.CompleteURL, nil)
		want(t, got, 200, "")
		if as[apiv1.FaceCheckResponse](got).FaceCheck.Status != "passed" {
			t.Fatalf("the guest's check after the vendor's page: %s", got.raw)
		}
		applied := g.json("POST", "/api/v1/guest/certificates", map[string]any{"face_check_id": fc.ID, "name": me.name, "id_number": me.id.String(), "city_code": "440100"})
		want(t, applied, 201, "")
	})
}
