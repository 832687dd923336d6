package browsertest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/credential"
	"tempid/internal/face/facetest"
	"tempid/internal/idnumber"
	"tempid/internal/verify"
)

// apiClient talks to the server's HTTP API the way a terminal (Bearer key)
// or a script with a session cookie does, to set up and check what the
// browser tests do.
type apiClient struct {
	t      *testing.T
	base   string
	http   *http.Client
	csrf   string
	bearer string
}

func newAPIClient(t *testing.T, srv *server) *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{t: t, base: srv.URL, http: &http.Client{Jar: jar, Timeout: actionTimeout}}
}

// terminal returns a client authenticated as the demo terminal.
func terminal(t *testing.T, srv *server) *apiClient {
	c := newAPIClient(t, srv)
	c.bearer = srv.APIKey
	return c
}

// apiError is a refusal: the status and the problem's stable code.
type apiError struct {
	Status int
	Code   string
	Detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// send sends body (JSON unless contentType says otherwise) and decodes a
// successful answer into out; a refusal is an *apiError.
func (c *apiClient) send(method, path, contentType string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct{ Code, Detail string }
		json.Unmarshal(raw, &p)
		return &apiError{Status: resp.StatusCode, Code: p.Code, Detail: p.Detail}
	}
	if out == nil {
		return nil
	}
	if b, ok := out.(*[]byte); ok {
		*b = raw
		return nil
	}
	return json.Unmarshal(raw, out)
}

// must sends a JSON request and fails the test unless it succeeds.
func (c *apiClient) must(method, path string, in, out any) {
	c.t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.send(method, path, "application/json", body, out); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
}

// person is a passenger the tests invent: a fresh account name and a valid
// ID number that no other test uses, so that quotas never collide.
type person struct {
	username, password, name, idNumber string
}

var personSeq atomic.Int64

var personNames = []string{"王小明", "李华", "张伟", "刘洋", "陈静", "杨帆", "赵雪"}

func newPerson() person {
	n := personSeq.Add(1)
	// A different birth date for each person keeps the numbers apart even
	// past a thousand sequence numbers.
	birth := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n)*13)
	return person{
		username: fmt.Sprintf("rider%03d", n),
		password: fmt.Sprintf("browser-test-%d-pw", n),
		name:     personNames[int(n)%len(personNames)],
		idNumber: idnumber.Generate("44", birth, int(n%1000)).String(),
	}
}

// apiCertificate is a certificate issued through the API with a device key
// held by the test, so the test makes the codes a phone would.
type apiCertificate struct {
	person person
	id     string
	pass   []byte
	device *ecdsa.PrivateKey
	// api is the passenger's logged-in client (a logout revokes device).
	api *apiClient
}

// code makes the code of the step at time at.
func (c *apiCertificate) code(t *testing.T, at time.Time) string {
	t.Helper()
	s, err := credential.MakeCode(c.pass, credential.StepAt(at), c.device, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issueByAPI signs a new person up and has a certificate issued to them
// through the passenger API, as the app does: consent, face check (the
// sample photograph), application.
func issueByAPI(t *testing.T, srv *server) *apiCertificate {
	t.Helper()
	p := newPerson()
	return applyByAPI(t, signUpByAPI(t, srv, p), p)
}

// signUpByAPI signs p up and returns the logged-in client.
func signUpByAPI(t *testing.T, srv *server, p person) *apiClient {
	t.Helper()
	c := newAPIClient(t, srv)
	c.must("POST", "/api/v1/accounts", map[string]any{"username": p.username, "password": p.password, "name": p.name, "id_number": p.idNumber}, nil)
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	c.must("POST", "/api/v1/session", map[string]any{"username": p.username, "password": p.password}, &session)
	c.csrf = session.CSRFToken
	return c
}

// applyByAPI has a certificate issued to p by the logged-in client c, as
// the app does: consent, face check (the sample photograph), application.
func applyByAPI(t *testing.T, c *apiClient, p person) *apiCertificate {
	t.Helper()
	device, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		FaceCheck struct {
			ID         string `json:"id"`
			Status     string `json:"status"`
			CaptureURL string `json:"capture_url"`
		} `json:"face_check"`
	}
	c.must("POST", "/api/v1/face-checks", map[string]any{
		"purpose": "apply", "subject": map[string]string{"name": p.name, "id_number": p.idNumber},
		"device_key": json.RawMessage(credential.JWK(&device.PublicKey)), "consent": true,
	}, &fc)
	capture := fc.FaceCheck.CaptureURL
	if capture == "" {
		capture = "/api/v1/face-checks/" + fc.FaceCheck.ID + "/capture"
	}
	if err := c.send("POST", capture, "image/jpeg", facetest.SampleJPEG(), &fc); err != nil {
		t.Fatalf("face capture: %v", err)
	}
	if fc.FaceCheck.Status != "passed" {
		t.Fatalf("face check of the sample photograph: status %q, want passed", fc.FaceCheck.Status)
	}
	var issued struct {
		Certificate struct {
			ID string `json:"id"`
		} `json:"certificate"`
		Pass struct {
			Pass string `json:"pass"`
		} `json:"pass"`
	}
	c.must("POST", "/api/v1/certificates", map[string]any{
		"face_check_id": fc.FaceCheck.ID, "name": p.name, "id_number": p.idNumber, "city_code": guangzhouCode,
	}, &issued)
	pass, err := base64.RawURLEncoding.DecodeString(issued.Pass.Pass)
	if err != nil || issued.Certificate.ID == "" {
		t.Fatalf("issued certificate %q with pass %q: %v", issued.Certificate.ID, issued.Pass.Pass, err)
	}
	return &apiCertificate{person: p, id: issued.Certificate.ID, pass: pass, device: device, api: c}
}

// verification is the answer of POST /api/v1/verifications.
type verification struct {
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	Replay  bool   `json:"replay"`
	Holder  struct {
		NameMasked     string `json:"name_masked"`
		IDNumberMasked string `json:"id_number_masked"`
		IDNumber       string `json:"id_number"`
	} `json:"holder"`
	Certificate struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"certificate"`
}

// verifyOnline verifies code for operation as the demo terminal.
func verifyOnline(t *testing.T, srv *server, code, operation string) verification {
	t.Helper()
	var v verification
	terminal(t, srv).must("POST", "/api/v1/verifications", map[string]any{"code": code, "operation": operation}, &v)
	return v
}

// trustBundle fetches the demo terminal's trust bundle, as `tempid bundle
// fetch` does, and opens it.
func trustBundle(t *testing.T, srv *server) *bundle.Payload {
	t.Helper()
	var raw []byte
	if err := terminal(t, srv).send("GET", "/api/v1/trust-bundle", "", nil, &raw); err != nil {
		t.Fatalf("fetching the trust bundle: %v", err)
	}
	p, err := bundle.Open(raw, nil)
	if err != nil {
		t.Fatalf("opening the trust bundle: %v", err)
	}
	return p
}

// verifyOffline verifies code at instant now against the bundle, as an
// offline gate does.
func verifyOffline(p *bundle.Payload, code string, now time.Time) verify.Verdict {
	return bundle.Verify(code, now, p, 24*time.Hour, verify.Verifier{})
}
