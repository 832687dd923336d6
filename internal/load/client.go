package load

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"syscall"
	"time"

	"tempid/internal/credential"
	"tempid/internal/httpapi/apiv1"
)

// CheckLoopback refuses a server URL whose host is not a loopback
// address: the load generator must never send traffic off this machine.
func CheckLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want http://host:port", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("server %q: only loopback addresses (127.0.0.0/8, ::1, localhost) may be load tested", raw)
	}
	return u, nil
}

// newTransport returns the transport every simulated client shares: one
// idle connection per worker, so connections are reused rather than
// re-dialled, and a dialer that refuses any address that is not loopback
// (a redirect or a DNS answer cannot send load elsewhere).
func newTransport(concurrency int) *http.Transport {
	d := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("load: refusing to connect to %s: not a loopback address", address)
			}
			return nil
		},
	}
	return &http.Transport{
		Proxy:                 nil, // a proxy from the environment would take the traffic off the machine
		DialContext:           d.DialContext,
		MaxIdleConns:          2 * concurrency,
		MaxIdleConnsPerHost:   concurrency,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
	}
}

// client is one browser or terminal: its own cookie jar and CSRF token (or
// API key) over the shared transport, talking to one server.
type client struct {
	base   string
	http   *http.Client
	csrf   string
	apiKey string
	rec    *recorder
	// idempotencyKey, if set, is sent as the Idempotency-Key of POSTs.
	idempotencyKey string
}

func newClient(base string, tr http.RoundTripper, rec *recorder) *client {
	jar, _ := cookiejar.New(nil)
	return &client{base: strings.TrimRight(base, "/"), rec: rec, http: &http.Client{
		Transport: tr, Jar: jar, Timeout: 90 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// problemError is a refusal or failure answered by the server, or a
// failure to get an answer at all (status 0).
type problemError struct {
	status int
	code   string
	detail string
}

func (e *problemError) Error() string {
	if e.status == 0 {
		return "transport: " + e.detail
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.detail)
}

// key is how the report groups the error.
func (e *problemError) key() string {
	if e.status == 0 {
		return "transport"
	}
	return fmt.Sprintf("%d %s", e.status, e.code)
}

// codeOf returns the problem code of err, or "".
func codeOf(err error) string {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe.code
	}
	return ""
}

// call makes one request, times it as op and decodes a 2xx answer into
// out. A problem whose code is in expect is recorded as an expected
// refusal; the error is returned either way.
func (c *client) call(ctx context.Context, op, method, path, contentType string, body []byte, out any, expect ...string) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.csrf != "" && method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	if c.idempotencyKey != "" && method == http.MethodPost {
		req.Header.Set("Idempotency-Key", c.idempotencyKey)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
	}
	d := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			// The run ended mid-call: neither a success nor a failure.
			return ctx.Err()
		}
		pe := &problemError{detail: err.Error()}
		c.record(op, d, outcome{err: pe.key()})
		return pe
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		json.Unmarshal(raw, &p)
		if p.Code == "" {
			p.Code = "http_" + http.StatusText(resp.StatusCode)
		}
		pe := &problemError{status: resp.StatusCode, code: p.Code, detail: p.Detail}
		for _, e := range expect {
			if e == p.Code {
				c.record(op, d, outcome{expected: p.Code})
				return pe
			}
		}
		c.record(op, d, outcome{err: pe.key()})
		return pe
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.record(op, d, outcome{err: "bad_answer"})
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if j, ok := out.(judged); ok {
		if f := j.failure(); f != "" {
			// A verdict is an answer, not an error, to the server; to the
			// load run an invalid verdict for a fresh code is a failure.
			c.record(op, d, outcome{err: fmt.Sprintf("%d %s", resp.StatusCode, f)})
			return nil
		}
	}
	c.record(op, d, outcome{})
	return nil
}

// judged is an answer that can be a failure although its status is 2xx.
type judged interface{ failure() string }

func (c *client) record(op string, d time.Duration, o outcome) {
	if c.rec != nil {
		c.rec.observe(op, d, o)
	}
}

func (c *client) json(ctx context.Context, op, method, path string, in, out any, expect ...string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	return c.call(ctx, op, method, path, "application/json", body, out, expect...)
}

// Operation names, as reported.
const (
	opSignUp       = "signup"
	opLogin        = "login"
	opFaceStart    = "face_check.start"
	opFaceCapture  = "face_check.capture"
	opApply        = "apply"
	opRenew        = "apply.renewal"
	opPass         = "pass"
	opVerify       = "verify"
	opQuota        = "quota"
	opLogout       = "logout"
	opRevoke       = "revoke"
	opAdminLogin   = "admin.login"
	opTerminalAdd  = "admin.terminal"
	defaultCity    = "110100"
	loadPassword   = "load-test password 1"
	jpegMediaType  = "image/jpeg"
	purposeApply   = "apply"
	purposeView    = "view"
	verifyEndpoint = "/api/v1/verifications"
)

// signUp creates an account with p's identity and logs it in.
func (c *client) signUp(ctx context.Context, username string, p Person) error {
	if err := c.json(ctx, opSignUp, "POST", "/api/v1/accounts", apiv1.SignUpRequest{
		Username: username, Password: loadPassword, Name: p.Name, IDNumber: p.IDNumber,
	}, nil); err != nil {
		return err
	}
	return c.login(ctx, opLogin, username, loadPassword)
}

func (c *client) login(ctx context.Context, op, username, password string) error {
	var out apiv1.Session
	if err := c.json(ctx, op, "POST", "/api/v1/session", apiv1.LoginRequest{Username: username, Password: password}, &out); err != nil {
		return err
	}
	c.csrf = out.CSRFToken
	return nil
}

// device is a simulated phone's key pair: the pass names its public key,
// and every code is signed with it.
type device struct{ key *ecdsa.PrivateKey }

func newDevice() device {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("load: P-256 key generation failed: " + err.Error())
	}
	return device{key: k}
}

func (d device) jwk() json.RawMessage { return credential.JWK(&d.key.PublicKey) }

// code makes the rotating code of a pass at a step, as the phone does.
func (d device) code(pass []byte, step uint32) (string, error) {
	return credential.MakeCode(pass, step, d.key, rand.Reader)
}

// faceCheck starts a face check and sends the capture; it returns the id
// of the passed check. start and capture are timed apart, so the face
// provider's cost shows as its own operation.
func (c *client) faceCheck(ctx context.Context, purpose string, p Person, certID string, d device, capture []byte) (string, error) {
	in := apiv1.FaceCheckRequest{Purpose: purpose, DeviceKey: d.jwk(), Consent: true}
	if purpose == purposeApply {
		in.Subject = &apiv1.Subject{Name: p.Name, IDNumber: p.IDNumber}
	} else {
		in.CertificateID = certID
	}
	var started apiv1.FaceCheckResponse
	if err := c.json(ctx, opFaceStart, "POST", "/api/v1/face-checks", in, &started); err != nil {
		return "", err
	}
	var done apiv1.FaceCheckResponse
	if err := c.call(ctx, opFaceCapture, "POST", started.FaceCheck.CaptureURL, jpegMediaType, capture, &done); err != nil {
		return "", err
	}
	if done.FaceCheck.Status != "passed" {
		return "", fmt.Errorf("face check %s (%s)", done.FaceCheck.Status, done.FaceCheck.Reason)
	}
	return started.FaceCheck.ID, nil
}

func (c *client) apply(ctx context.Context, op string, p Person, check string, expect ...string) (apiv1.Applied, error) {
	var out apiv1.Applied
	err := c.json(ctx, op, "POST", "/api/v1/certificates", apiv1.ApplyRequest{
		FaceCheckID: check, Name: p.Name, IDNumber: p.IDNumber, CityCode: defaultCity,
	}, &out, expect...)
	return out, err
}

func (c *client) quota(ctx context.Context, idNumber string) (apiv1.QuotaResponse, error) {
	var out apiv1.QuotaResponse
	path := "/api/v1/quota"
	if idNumber != "" {
		path += "?id_number=" + url.QueryEscape(idNumber)
	}
	err := c.json(ctx, opQuota, "GET", path, nil, &out)
	return out, err
}

func (c *client) newPass(ctx context.Context, certID, check string) ([]byte, error) {
	var out apiv1.PassResponse
	if err := c.json(ctx, opPass, "POST", "/api/v1/certificates/"+url.PathEscape(certID)+"/passes",
		apiv1.PassRequest{FaceCheckID: check}, &out); err != nil {
		return nil, err
	}
	return decodePass(out.Pass.Pass)
}

func decodePass(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("pass: not base64url")
	}
	return b, nil
}

// verdict is the answer to a verification, judged: to the load run an
// invalid verdict for a fresh code is a failure.
type verdict struct{ apiv1.VerifyResponse }

func (v *verdict) failure() string {
	if v.Verdict == apiv1.Valid {
		return ""
	}
	return "verdict_" + v.Verdict + "_" + v.Reason
}

func (c *client) verify(ctx context.Context, code, operation string) (verdict, error) {
	var out verdict
	err := c.json(ctx, opVerify, "POST", verifyEndpoint, apiv1.VerifyRequest{Code: code, Operation: operation}, &out)
	return out, err
}
