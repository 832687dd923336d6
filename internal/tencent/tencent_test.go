package tencent_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"tempid/internal/face"
	"tempid/internal/idnumber"
	"tempid/internal/metrics"
	"tempid/internal/problem"
	"tempid/internal/tencent"
	"tempid/internal/tencent/tencenttest"
)

func newClient(t *testing.T, f *tencenttest.Fake, m *metrics.Metrics) *tencent.Client {
	t.Helper()
	c, err := tencent.New(tencent.Config{Endpoint: f.Endpoint(), Transport: f.Transport(), Timeout: time.Second,
		Credential: common.NewCredential(tencenttest.SecretID, tencenttest.SecretKey), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var subject = face.Subject{Name: "王小明", IDNumber: "110101199003074573"}

func number(t *testing.T) idnumber.Number {
	n, err := idnumber.Parse(subject.IDNumber, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEachRegistryResultMapsToTempidsAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, result, code string
		fault              bool
	}{
		{"0 confirms", "0", "", false},
		{"-1 name and number differ", "-1", problem.IdentityMismatch, false},
		{"-2 invalid number", "-2", problem.InvalidIDNumber, false},
		{"-3 invalid name", "-3", problem.ValidationFailed, false},
		{"-4 registry down", "-4", "", true},
		{"-5 no record is a mismatch too", "-5", problem.IdentityMismatch, false},
		{"-6 registry upgrading", "-6", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tencenttest.New(t)
			f.Set("IdCardVerification", tencenttest.Answer{Result: tc.result})
			err := tencent.Registry{Client: newClient(t, f, nil)}.Confirm(context.Background(), subject.Name, number(t))
			p, isProblem := problem.As(err)
			switch {
			case tc.code == "" && !tc.fault && err != nil:
				t.Fatalf("got %v, want confirmed", err)
			case tc.code != "" && (!isProblem || p.Code != tc.code):
				t.Fatalf("got %v, want %s", err, tc.code)
			case tc.fault && (err == nil || isProblem):
				t.Fatalf("got %v, want a provider failure", err)
			}
			if tc.fault && f.Count("IdCardVerification") != 1+tencent.DefaultRetries {
				t.Errorf("%d calls for a registry outage, want %d (retried)", f.Count("IdCardVerification"), 1+tencent.DefaultRetries)
			}
			if !tc.fault && f.Count("IdCardVerification") != 1 {
				t.Errorf("%d calls for an answer, want 1", f.Count("IdCardVerification"))
			}
		})
	}
}

func TestCaptureRefusalsMapToReasonsTheAppExplains(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer tencenttest.Answer
		passed bool
		reason string
	}{
		{"a similarity at the threshold passes", tencenttest.Answer{Result: "Success", Sim: 70}, true, ""},
		{"a similarity just below it fails", tencenttest.Answer{Result: "Success", Sim: 69.99}, false, face.ReasonFaceMismatch},
		{"low similarity refused in Result", tencenttest.Answer{Result: "FailedOperation.CompareLowSimilarity", Sim: 12}, false, face.ReasonFaceMismatch},
		{"no face as an API error", tencenttest.Answer{Error: "FailedOperation.LifePhotoDetectNoFaces"}, false, face.ReasonNoFace},
		{"several faces", tencenttest.Answer{Result: "FailedOperation.LifePhotoDetectFaces"}, false, face.ReasonMultipleFaces},
		{"a fake", tencenttest.Answer{Result: "FailedOperation.LifePhotoDetectFake"}, false, face.ReasonLivenessFailed},
		{"blurred", tencenttest.Answer{Result: "FailedOperation.ImageBlur"}, false, face.ReasonPoorQuality},
		{"too small or too large", tencenttest.Answer{Result: "FailedOperation.LifePhotoSizeError"}, false, face.ReasonPoorQuality},
		{"undecodable", tencenttest.Answer{Error: "FailedOperation.ImageDecodeFailed"}, false, face.ReasonUnreadableImage},
		{"too large", tencenttest.Answer{Result: "FailedOperation.ImageSizeTooLarge"}, false, face.ReasonImageTooLarge},
		{"no registry photo", tencenttest.Answer{Result: "FailedOperation.IdPhotoNoExist"}, false, face.ReasonNoRegistryPhoto},
		{"name and number differ", tencenttest.Answer{Result: "FailedOperation.IdNameMisMatch"}, false, face.ReasonIdentityNotConfirmed},
		{"a refusal not listed", tencenttest.Answer{Result: "FailedOperation.SomethingNew"}, false, face.ReasonRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tencenttest.New(t)
			f.Set("ImageRecognition", tc.answer)
			p := &tencent.Capture{Client: newClient(t, f, nil)}
			res, err := p.Check(context.Background(), subject, face.Capture{ContentType: "image/jpeg", Data: []byte("\xff\xd8picture")})
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed != tc.passed || res.Reason != tc.reason {
				t.Errorf("got passed=%v reason=%q, want %v %q", res.Passed, res.Reason, tc.passed, tc.reason)
			}
			if !strings.HasPrefix(res.Reference, "fake-") {
				t.Errorf("reference %q is not the vendor's request id", res.Reference)
			}
			if f.Count("ImageRecognition") != 1 {
				t.Errorf("%d calls, want 1", f.Count("ImageRecognition"))
			}
		})
	}
}

func TestTheThresholdAndTheActionNameAreSettings(t *testing.T) {
	f := tencenttest.New(t)
	f.Set("ImageRecognitionV2", tencenttest.Answer{Result: "Success", Sim: 75})
	p := &tencent.Capture{Client: newClient(t, f, nil), Config: tencent.FaceConfig{Threshold: 80, CaptureAction: "ImageRecognitionV2"}}
	res, err := p.Check(context.Background(), subject, face.Capture{Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed || res.Score != 75 {
		t.Errorf("75 against a threshold of 80: passed=%v score=%v", res.Passed, res.Score)
	}
	if f.Count("ImageRecognitionV2") != 1 {
		t.Error("the configured action was not called")
	}
}

func TestFaultsAreRetriedOnlyForReadOnlyCalls(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer tencenttest.Answer
		code   string
	}{
		{"a 5xx", tencenttest.Answer{Status: http.StatusBadGateway}, ""},
		{"a slow answer", tencenttest.Answer{Delay: 1500 * time.Millisecond}, "Timeout"},
		{"a cut connection", tencenttest.Answer{Cut: true}, ""},
		{"the vendor's internal error", tencenttest.Answer{Error: "InternalError.UnKnown"}, "InternalError.UnKnown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tencenttest.New(t)
			m := metrics.New()
			// A client per action: five faults in a row open the breaker.
			c := func() *tencent.Client { return newClient(t, f, m) }
			for _, a := range []string{"IdCardVerification", "ImageRecognition", "DetectAuth", "GetDetectInfoEnhanced"} {
				f.Set(a, tc.answer)
			}
			ctx := context.Background()
			regErr := tencent.Registry{Client: c()}.Confirm(ctx, subject.Name, number(t))
			_, capErr := (&tencent.Capture{Client: c()}).Check(ctx, subject, face.Capture{Data: []byte("x")})
			_, authErr := (&tencent.Hosted{Client: c(), Config: tencent.FaceConfig{RuleID: "1"}}).Begin(ctx, subject, "https://tempid.example/face-return?face_check=x")
			_, infoErr := (&tencent.Hosted{Client: c(), Config: tencent.FaceConfig{RuleID: "1"}}).Finish(ctx, subject, "TOKEN")
			for _, err := range []error{regErr, capErr, authErr, infoErr} {
				var e *tencent.Error
				if !errors.As(err, &e) || !e.Fault || (tc.code != "" && e.Code != tc.code) {
					t.Errorf("got %v, want a fault %s", err, tc.code)
				}
				if _, ok := problem.As(err); ok {
					t.Errorf("a fault is a refusal: %v", err)
				}
			}
			want := map[string]int{"IdCardVerification": 3, "GetDetectInfoEnhanced": 3, "ImageRecognition": 1, "DetectAuth": 1}
			for a, n := range want {
				if got := f.Count(a); got != n {
					t.Errorf("%s called %d times, want %d", a, got, n)
				}
			}
			outcome := "error"
			if tc.code == "Timeout" {
				outcome = "timeout"
			}
			if got := testutil.ToFloat64(m.ProviderRequests.WithLabelValues("tencent", "DetectAuth", outcome)); got != 1 {
				t.Errorf("tempid_provider_requests_total{DetectAuth,%s} = %v, want 1", outcome, got)
			}
		})
	}
}

func TestTheBreakerOpensAfterFaultsAndClosesAfterACooldown(t *testing.T) {
	f := tencenttest.New(t)
	now := time.Now()
	m := metrics.New()
	c, err := tencent.New(tencent.Config{Endpoint: f.Endpoint(), Transport: f.Transport(), Timeout: time.Second, Retries: -1,
		Credential: common.NewCredential(tencenttest.SecretID, tencenttest.SecretKey), Metrics: m, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	reg := tencent.Registry{Client: c}
	f.Set("IdCardVerification", tencenttest.Answer{Status: 503})
	for range 5 {
		reg.Confirm(context.Background(), subject.Name, number(t))
	}
	if c.Health() == nil {
		t.Fatal("five faults in a row, and the breaker is closed")
	}
	f.Set("IdCardVerification", tencenttest.Answer{Result: "0"})
	var e *tencent.Error
	if err := reg.Confirm(context.Background(), subject.Name, number(t)); !errors.As(err, &e) || e.Code != "CircuitOpen" {
		t.Fatalf("got %v while open, want CircuitOpen", err)
	}
	if f.Count("IdCardVerification") != 5 {
		t.Errorf("%d calls reached the vendor, want 5 (none while open)", f.Count("IdCardVerification"))
	}
	if got := testutil.ToFloat64(m.ProviderRequests.WithLabelValues("tencent", "IdCardVerification", "circuit_open")); got != 1 {
		t.Errorf("circuit_open counted %v times, want 1", got)
	}
	now = now.Add(31 * time.Second)
	if err := reg.Confirm(context.Background(), subject.Name, number(t)); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
	if c.Health() != nil {
		t.Error("a good trial call did not close the breaker")
	}
}

func TestAWronglySignedRequestIsRefusedAndCounted(t *testing.T) {
	f := tencenttest.New(t)
	f.AllowBadSignatures()
	c, err := tencent.New(tencent.Config{Endpoint: f.Endpoint(), Transport: f.Transport(),
		Credential: common.NewCredential(tencenttest.SecretID, "not-the-secret-key")})
	if err != nil {
		t.Fatal(err)
	}
	err = tencent.Registry{Client: c}.Confirm(context.Background(), subject.Name, number(t))
	var e *tencent.Error
	if !errors.As(err, &e) || e.Code != "AuthFailure.SignatureFailure" {
		t.Fatalf("got %v, want AuthFailure.SignatureFailure", err)
	}
	if f.BadSignatures() == 0 {
		t.Error("the fake did not notice the wrong signature")
	}
}

func TestHostedSessionsEndAsTheVendorSays(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outcome *tencenttest.Outcome
		passed  bool
		reason  string
		pending bool
	}{
		{"passed", &tencenttest.Passed, true, "", false},
		{"liveness failed", &tencenttest.LivenessFail, false, face.ReasonLivenessFailed, false},
		{"comparison failed", &tencenttest.CompareFail, false, face.ReasonFaceMismatch, false},
		{"below our threshold", &tencenttest.LowSim, false, face.ReasonFaceMismatch, false},
		{"not finished yet", nil, false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tencenttest.New(t)
			h := &tencent.Hosted{Client: newClient(t, f, nil), Config: tencent.FaceConfig{RuleID: "7"}}
			s, err := h.Begin(context.Background(), subject, "https://tempid.example/face-return?face_check=abc")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s.URL, f.URL()+"/h5/") || s.Token == "" {
				t.Fatalf("session %+v", s)
			}
			if tc.outcome != nil {
				if _, err := f.Complete(s.Token, *tc.outcome); err != nil {
					t.Fatal(err)
				}
			}
			res, err := h.Finish(context.Background(), subject, s.Token)
			if tc.pending {
				if !errors.Is(err, face.ErrNotFinished) {
					t.Fatalf("got %v, want ErrNotFinished", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed != tc.passed || res.Reason != tc.reason {
				t.Errorf("got passed=%v reason=%q, want %v %q", res.Passed, res.Reason, tc.passed, tc.reason)
			}
			for _, r := range f.Requests() {
				if r.Action == "GetDetectInfoEnhanced" && r.Params["InfoType"] != "1" {
					t.Errorf("InfoType %v: tempid must ask for text only, never pictures", r.Params["InfoType"])
				}
			}
		})
	}
}

func TestAnotherSubjectsSessionIsNotAccepted(t *testing.T) {
	f := tencenttest.New(t)
	h := &tencent.Hosted{Client: newClient(t, f, nil), Config: tencent.FaceConfig{RuleID: "7"}}
	s, err := h.Begin(context.Background(), subject, "https://tempid.example/face-return")
	if err != nil {
		t.Fatal(err)
	}
	f.Complete(s.Token, tencenttest.Passed)
	other := subject
	other.Name = "李四"
	if _, err := h.Finish(context.Background(), other, s.Token); err == nil {
		t.Error("a session of another subject completed the check")
	}
}

func TestNoCredentialsInTheEnvironmentIsRefused(t *testing.T) {
	t.Setenv("TENCENTCLOUD_SECRET_ID", "")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "")
	if _, err := tencent.New(tencent.Config{}); !errors.Is(err, tencent.ErrNoCredentials) {
		t.Errorf("got %v, want ErrNoCredentials", err)
	}
}
