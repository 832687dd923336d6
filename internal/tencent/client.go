// Package tencent puts Tencent Cloud FaceID (人脸核身) behind tempid's
// identity-registry and face-provider interfaces: IdCardVerification
// confirms a name and an ID number (registry.Registry), ImageRecognition
// compares one picture with the registry photo (face.Provider, capture
// mode), and DetectAuth with GetDetectInfoEnhanced run the vendor's hosted
// liveness page (face.Hosted, hosted mode).
//
// Calls go through the official SDK's common client (TC3-HMAC-SHA256
// signing); credentials come only from the SDK's environment provider
// (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY). Every call has a
// timeout; the read-only calls (IdCardVerification, GetDetectInfoEnhanced)
// are retried a bounded number of times, the others never; a circuit
// breaker stops calling a vendor that keeps failing. Errors carry the
// action, the vendor's error code and request id, never a message or body
// from the vendor, which may echo the name or ID number.
package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"tempid/internal/metrics"
)

// Service and version of the FaceID API.
const (
	service = "faceid"
	version = "2018-03-01"
)

// ProviderName names the vendor in face checks, metrics and the app's
// consent screen.
const ProviderName = "tencent"

// Defaults for Config.
const (
	DefaultRegion        = "ap-guangzhou"
	DefaultTimeout       = 4 * time.Second
	DefaultRetries       = 2
	DefaultThreshold     = 70
	DefaultCaptureAction = "ImageRecognition"
	breakerFailures      = 5
	breakerCooldown      = 30 * time.Second
)

// Config configures the client.
type Config struct {
	// Region is the FaceID region, e.g. ap-guangzhou.
	Region string
	// Endpoint is host[:port] of the API; empty means Tencent Cloud's
	// (faceid.tencentcloudapi.com). Tests point it at a local fake.
	Endpoint string
	// Timeout bounds one attempt; default DefaultTimeout. Three attempts
	// of a read-only call and one of DetectAuth must fit in the HTTP
	// server's write timeout.
	Timeout time.Duration
	// Retries is how many more times an idempotent call is tried after a
	// fault; default DefaultRetries, negative for none.
	Retries int
	// Transport carries the requests; nil means the SDK's default. Tests
	// pass one that trusts the fake's certificate.
	Transport http.RoundTripper
	// Credential signs the requests; nil means the SDK's environment
	// provider (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY).
	Credential common.CredentialIface
	// Metrics, if set, count the calls and their latency.
	Metrics *metrics.Metrics
	// Now is the clock of the circuit breaker; nil means time.Now.
	Now func() time.Time
}

// Client calls FaceID. It is safe for concurrent use.
type Client struct {
	sdk     *common.Client
	timeout time.Duration
	retries int
	metrics *metrics.Metrics
	breaker breaker
}

// ErrNoCredentials means the environment holds no Tencent Cloud credentials.
var ErrNoCredentials = errors.New("TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY must both be set in the environment")

// New makes a client. Without credentials in cfg or the environment it
// fails with ErrNoCredentials.
func New(cfg Config) (*Client, error) {
	cred := cfg.Credential
	if cred == nil {
		c, err := common.DefaultEnvProvider().GetCredential()
		if err != nil {
			// The SDK's error names the variables only, but say it our way.
			return nil, ErrNoCredentials
		}
		cred = c
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = cfg.Endpoint
	// The SDK's own timeout is whole seconds; ours (a context per attempt)
	// is the one that counts, the SDK's is a backstop above it.
	prof.HttpProfile.ReqTimeout = int(math.Ceil(cfg.Timeout.Seconds())) + 1
	// Retries and the breaker are ours: the SDK would retry every action.
	prof.NetworkFailureMaxRetries = 0
	prof.RateLimitExceededMaxRetries = 0
	prof.DisableRegionBreaker = true
	prof.Debug = false
	sdk := common.NewCommonClient(cred, cfg.Region, prof)
	if cfg.Transport != nil {
		sdk.WithHttpTransport(cfg.Transport)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{sdk: sdk, timeout: cfg.Timeout, retries: max(cfg.Retries, 0), metrics: cfg.Metrics,
		breaker: breaker{now: now}}, nil
}

// Error is a failed call: a fault (network, timeout, the vendor's own
// trouble) or the vendor's refusal with an error code. Its text holds the
// action, the code and the request id only.
type Error struct {
	Action    string
	Code      string // the vendor's error code, or ours: Timeout, Network, CircuitOpen, BadAnswer
	RequestID string
	// Fault is true when the vendor could not answer (retried when the
	// call is idempotent, counted by the breaker); false for a refusal.
	Fault bool
}

func (e *Error) Error() string {
	s := "tencent " + e.Action + ": " + e.Code
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// call sends action with params and decodes the answer's Response member
// into out. check, if set, judges the decoded answer: an *Error it returns
// with Fault set is treated as a fault of the vendor. Idempotent calls
// are retried after faults.
func (c *Client) call(ctx context.Context, action string, idempotent bool, params map[string]any, out any, check func() error) error {
	attempts := 1
	if idempotent {
		attempts += c.retries
	}
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(i) * 100 * time.Millisecond):
			}
		}
		if !c.breaker.allow() {
			c.count(action, "circuit_open")
			return &Error{Action: action, Code: "CircuitOpen", Fault: true}
		}
		err = c.attempt(ctx, action, params, out, check)
		var e *Error
		fault := errors.As(err, &e) && e.Fault
		c.breaker.record(!fault)
		if !fault || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// attempt is one request.
func (c *Client) attempt(ctx context.Context, action string, params map[string]any, out any, check func() error) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := tchttp.NewCommonRequest(service, version, action)
	if err := req.SetActionParameters(params); err != nil {
		return &Error{Action: action, Code: "BadRequest"}
	}
	req.SetContext(actx)
	resp := tchttp.NewCommonResponse()
	start := time.Now()
	err := c.sdk.Send(req, resp)
	if c.metrics != nil {
		c.metrics.ProviderLatency.WithLabelValues(ProviderName, action).Observe(time.Since(start).Seconds())
	}
	if err != nil {
		e := classify(action, actx, err)
		c.count(action, outcome(e))
		return e
	}
	var envelope struct {
		Response json.RawMessage `json:"Response"`
	}
	if json.Unmarshal(resp.GetBody(), &envelope) != nil || json.Unmarshal(envelope.Response, out) != nil {
		c.count(action, "error")
		return &Error{Action: action, Code: "BadAnswer", Fault: true}
	}
	if check != nil {
		if err := check(); err != nil {
			var e *Error
			if errors.As(err, &e) {
				c.count(action, outcome(e))
			} else {
				c.count(action, "ok")
			}
			return err
		}
	}
	c.count(action, "ok")
	return nil
}

func outcome(e *Error) string {
	switch {
	case e.Code == "Timeout":
		return "timeout"
	case e.Fault:
		return "error"
	default:
		return "refused"
	}
}

func (c *Client) count(action, outcome string) {
	if c.metrics != nil {
		c.metrics.ProviderRequests.WithLabelValues(ProviderName, action, outcome).Inc()
	}
}

// classify turns the SDK's error into an Error, dropping its message,
// which can hold the vendor's answer.
func classify(action string, ctx context.Context, err error) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Action: action, Code: "Timeout", Fault: true}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Our caller gave up (the passenger left): not the vendor's fault.
		return &Error{Action: action, Code: "Canceled"}
	}
	var se *tcerr.TencentCloudSDKError
	if !errors.As(err, &se) {
		return &Error{Action: action, Code: "Network", Fault: true}
	}
	code := se.GetCode()
	return &Error{Action: action, Code: code, RequestID: se.GetRequestId(), Fault: isFault(code)}
}

// isFault tells the vendor's trouble from its refusal of this request.
// Refusals are the FailedOperation codes that describe the picture or the
// person; everything else (the vendor's own failures, limits,
// authentication, account problems, a parameter the vendor did not take,
// the SDK's client errors for an HTTP status or an unreadable answer) is a
// fault: the passenger is not to blame, nothing is recorded against them.
func isFault(code string) bool {
	return !strings.HasPrefix(code, "FailedOperation.") || vendorTrouble[code]
}

// vendorTrouble are the FailedOperation codes that say the vendor, not the
// picture or the person, failed.
var vendorTrouble = map[string]bool{
	"FailedOperation.CompareSystemError":      true,
	"FailedOperation.DetectEngineSystemError": true,
	"FailedOperation.IdPhotoSystemNoanswer":   true,
	"FailedOperation.RequestLimitExceeded":    true,
	"FailedOperation.StsUnAuthErrError":       true,
	"FailedOperation.UnKnown":                 true,
	"FailedOperation.DecryptSystemError":      true,
	"FailedOperation.EncryptSystemError":      true,
	"FailedOperation.FileSaveError":           true,
	"FailedOperation.DownLoadError":           true,
	"FailedOperation.DownLoadTimeoutError":    true,
}

// Health is nil while the vendor answers, else says why tempid does not
// call it now (for /readyz).
func (c *Client) Health() error { return c.breaker.health() }

// breaker stops calling after breakerFailures faults in a row, for
// breakerCooldown; then one trial call decides whether it closes again.
type breaker struct {
	now      func() time.Time
	mu       sync.Mutex
	failures int
	openedAt time.Time
	trial    bool
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < breakerFailures {
		return true
	}
	if b.now().Sub(b.openedAt) < breakerCooldown || b.trial {
		return false
	}
	b.trial = true
	return true
}

func (b *breaker) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= breakerFailures {
		b.openedAt = b.now()
	}
}

func (b *breaker) health() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < breakerFailures {
		return nil
	}
	return fmt.Errorf("circuit open after %d failed calls in a row; next try after %s",
		b.failures, b.openedAt.Add(breakerCooldown).UTC().Format(time.RFC3339))
}
