// Package tencenttest is a local fake of Tencent Cloud FaceID for tests: an
// HTTPS server that checks the TC3-HMAC-SHA256 signature of every request
// the way the vendor documents it, answers IdCardVerification,
// ImageRecognition (and any capture action named like it), DetectAuth and
// GetDetectInfoEnhanced in the documented shapes, serves a stand-in of the
// hosted H5 page, and can be told to answer each result code, a refusal,
// a 5xx, slowly, or by cutting the connection.
package tencenttest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test credentials the fake knows.
const (
	SecretID  = "AKIDtempidfake0000000000000000000"
	SecretKey = "tempidfakesecretkey0000000000000"
)

// Answer is how the fake answers one action.
type Answer struct {
	// Result is IdCardVerification's Result ("0", "-1" … "-6") or
	// ImageRecognition's ("Success" or a FailedOperation code).
	Result string
	// Sim is ImageRecognition's similarity.
	Sim float64
	// Error, if set, is answered as the API error Response.Error.Code.
	Error string
	// Status, if not 0 or 200, is answered as a bare HTTP status (a 5xx
	// from a gateway).
	Status int
	// Delay holds the answer back.
	Delay time.Duration
	// Cut closes the connection without an answer.
	Cut bool
}

// Outcome is what the hosted page concludes for a session.
type Outcome struct {
	ErrCode       int64
	LiveStatus    int64
	Comparestatus int64
	Sim           string
}

// Hosted outcomes the test page offers.
var (
	Passed       = Outcome{ErrCode: 0, Sim: "91.52"}
	LivenessFail = Outcome{ErrCode: 1001, LiveStatus: 1001, Comparestatus: 0, Sim: "0.00"}
	CompareFail  = Outcome{ErrCode: 2004, LiveStatus: 0, Comparestatus: 2004, Sim: "31.07"}
	LowSim       = Outcome{ErrCode: 0, Sim: "69.99"}
)

// Request is what the fake received, without the picture.
type Request struct {
	Action   string
	Params   map[string]any // ImageBase64 is replaced by its length
	ImageLen int
}

// session is one DetectAuth session.
type session struct {
	idCard, name, redirect, ruleID string
	outcome                        *Outcome
}

// Fake is the fake FaceID endpoint.
type Fake struct {
	t   testing.TB
	srv *httptest.Server

	mu             sync.Mutex
	answers        map[string]Answer
	requests       []Request
	badSignatures  int
	allowBadSigned bool
	sessions       map[string]*session
}

// New starts a fake; the test fails if any request it received was
// wrongly signed, unless AllowBadSignatures was called.
func New(t testing.TB) *Fake {
	f := &Fake{t: t, answers: map[string]Answer{}, sessions: map[string]*session{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", f.api)
	mux.HandleFunc("GET /h5/{token}", f.page)
	mux.HandleFunc("POST /h5/{token}", f.finish)
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.badSignatures > 0 && !f.allowBadSigned {
			t.Errorf("the fake FaceID received %d wrongly signed requests", f.badSignatures)
		}
	})
	return f
}

// Endpoint is the fake's host:port, for the SDK's HTTP profile.
func (f *Fake) Endpoint() string { return strings.TrimPrefix(f.srv.URL, "https://") }

// URL is the fake's base URL.
func (f *Fake) URL() string { return f.srv.URL }

// Transport trusts the fake's certificate.
func (f *Fake) Transport() http.RoundTripper { return f.srv.Client().Transport }

// Client is an HTTP client that trusts the fake and does not follow
// redirects, to drive the hosted page as a browser would, step by step.
func (f *Fake) Client() *http.Client {
	return &http.Client{Transport: f.Transport(), CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Set makes the fake answer action so until changed.
func (f *Fake) Set(action string, a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[action] = a
}

// AllowBadSignatures lets a test send wrongly signed requests on purpose.
func (f *Fake) AllowBadSignatures() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowBadSigned = true
}

// BadSignatures is how many wrongly signed requests arrived.
func (f *Fake) BadSignatures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.badSignatures
}

// Requests are the requests received so far.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// Count is how many requests for action arrived.
func (f *Fake) Count(action string) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Action == action {
			n++
		}
	}
	return n
}

// Complete finishes a hosted session as if the passenger had gone through
// the page with outcome; it returns the redirect back to tempid.
func (f *Fake) Complete(token string, o Outcome) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[token]
	if !ok {
		return "", fmt.Errorf("no session %q", token)
	}
	s.outcome = &o
	return s.redirect, nil
}

// maxSkew is how far the signed timestamp may be from the fake's clock;
// Tencent documents five minutes.
const maxSkew = 5 * time.Minute

// checkSignature recomputes the TC3-HMAC-SHA256 signature of r with body
// as Tencent Cloud documents it (API 3.0, "Signature v3") and returns why
// it does not match, or "".
func checkSignature(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	const algo = "TC3-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "not TC3-HMAC-SHA256"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "malformed Authorization"
		}
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 4 || cred[3] != "tc3_request" {
		return "malformed Credential"
	}
	secretID, date, svc := cred[0], cred[1], cred[2]
	if secretID != SecretID {
		return "unknown SecretId"
	}
	if svc != "faceid" {
		return "credential scope for " + svc
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return "no X-TC-Timestamp"
	}
	signedAt := time.Unix(ts, 0).UTC()
	if d := time.Since(signedAt); d > maxSkew || d < -maxSkew {
		return "timestamp too far from now"
	}
	if signedAt.Format("2006-01-02") != date {
		return "credential date is not the timestamp's"
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !contains(signed, "content-type") || !contains(signed, "host") {
		return "content-type and host must be signed"
	}
	var canonHeaders strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canonHeaders.WriteString(h + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	payload := sha256.Sum256(body)
	canonical := strings.Join([]string{r.Method, "/", r.URL.RawQuery, canonHeaders.String(),
		fields["SignedHeaders"], hex.EncodeToString(payload[:])}, "\n")
	hashedCanonical := sha256.Sum256([]byte(canonical))
	scope := date + "/" + svc + "/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + scope + "\n" + hex.EncodeToString(hashedCanonical[:])
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	k := mac(mac(mac([]byte("TC3"+SecretKey), date), svc), "tc3_request")
	want := hex.EncodeToString(mac(k, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "signature mismatch"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (f *Fake) api(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	action := r.Header.Get("X-TC-Action")
	if why := checkSignature(r, body); why != "" {
		f.mu.Lock()
		f.badSignatures++
		f.mu.Unlock()
		writeError(w, "AuthFailure.SignatureFailure", "the signature does not match: "+why)
		return
	}
	if r.Header.Get("X-TC-Version") != "2018-03-01" {
		writeError(w, "InvalidParameter", "X-TC-Version")
		return
	}
	var params map[string]any
	if err := json.Unmarshal(body, &params); err != nil {
		writeError(w, "InvalidParameter", "body")
		return
	}
	clear(body)
	rec := Request{Action: action, Params: params}
	if img, ok := params["ImageBase64"].(string); ok {
		if _, err := base64.StdEncoding.DecodeString(img); err != nil {
			writeError(w, "InvalidParameterValue", "ImageBase64")
			return
		}
		rec.ImageLen = len(img)
		params["ImageBase64"] = len(img)
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	a := f.answers[action]
	f.mu.Unlock()
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.Cut {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	// Errors echo the request's name and ID number, the worst a vendor
	// could do: tempid must not pass the vendor's messages on to its logs.
	echo := fmt.Sprintf(" (IdCard=%v, Name=%v)", params["IdCard"], params["Name"])
	if a.Status != 0 && a.Status != http.StatusOK {
		http.Error(w, http.StatusText(a.Status)+echo, a.Status)
		return
	}
	if a.Error != "" {
		writeError(w, a.Error, "refused"+echo)
		return
	}
	switch {
	case action == "IdCardVerification":
		result := a.Result
		if result == "" {
			result = "0"
		}
		writeResponse(w, map[string]any{"Result": result, "Description": description(result)})
	case strings.HasPrefix(action, "ImageRecognition"):
		result, sim := a.Result, a.Sim
		if result == "" {
			result = "Success"
		}
		if a == (Answer{}) {
			sim = 88.5
		}
		writeResponse(w, map[string]any{"Sim": sim, "Result": result, "Description": result})
	case action == "DetectAuth":
		f.detectAuth(w, params)
	case action == "GetDetectInfoEnhanced":
		f.detectInfo(w, params)
	default:
		writeError(w, "InvalidAction", "no such action")
	}
}

func description(result string) string {
	return map[string]string{"0": "姓名和身份证号一致", "-1": "姓名和身份证号不一致", "-2": "非法身份证号",
		"-3": "非法姓名", "-4": "证件库服务异常", "-5": "证件库中无此身份证记录", "-6": "权威比对系统升级中"}[result]
}

func (f *Fake) detectAuth(w http.ResponseWriter, params map[string]any) {
	str := func(k string) string { s, _ := params[k].(string); return s }
	if str("RuleId") == "" || str("IdCard") == "" || str("Name") == "" || str("RedirectUrl") == "" {
		writeError(w, "InvalidParameter", "RuleId, IdCard, Name and RedirectUrl are required here")
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	token := strings.ToUpper(hex.EncodeToString(b))
	f.mu.Lock()
	f.sessions[token] = &session{idCard: str("IdCard"), name: str("Name"), redirect: str("RedirectUrl"), ruleID: str("RuleId")}
	f.mu.Unlock()
	writeResponse(w, map[string]any{"Url": f.srv.URL + "/h5/" + token, "BizToken": token})
}

func (f *Fake) detectInfo(w http.ResponseWriter, params map[string]any) {
	token, _ := params["BizToken"].(string)
	f.mu.Lock()
	s, ok := f.sessions[token]
	var o *Outcome
	if ok {
		o = s.outcome
	}
	f.mu.Unlock()
	if !ok {
		writeError(w, "InvalidParameterValue.BizTokenIllegal", "BizToken")
		return
	}
	if rule, _ := params["RuleId"].(string); rule != s.ruleID {
		writeError(w, "InvalidParameterValue.RuleIdNotExist", "RuleId")
		return
	}
	infoType, _ := params["InfoType"].(string)
	if infoType == "" {
		infoType = "0"
	}
	out := map[string]any{}
	if o == nil {
		// Not finished: the text carries no result yet.
		out["Text"] = map[string]any{"ErrCode": nil, "ErrMsg": nil, "IdCard": s.idCard, "Name": s.name}
	} else if strings.ContainsAny(infoType, "01") {
		live, cmp := o.LiveStatus, o.Comparestatus
		out["Text"] = map[string]any{"ErrCode": o.ErrCode, "ErrMsg": "", "IdCard": s.idCard, "Name": s.name,
			"LiveStatus": live, "LiveMsg": "", "Comparestatus": cmp, "Comparemsg": "", "Sim": o.Sim,
			"CompareLibType": "权威库"}
	}
	if strings.ContainsAny(infoType, "03") && o != nil {
		// The best frame of the liveness video: a picture tempid must
		// never ask for.
		out["BestFrame"] = map[string]any{"BestFrame": base64.StdEncoding.EncodeToString([]byte("FAKE-BEST-FRAME-PICTURE-BYTES-" + token))}
	}
	writeResponse(w, out)
}

// page is the stand-in of the vendor's H5 page: it offers the outcomes.
func (f *Fake) page(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	f.mu.Lock()
	_, ok := f.sessions[token]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>慧眼人脸核身 (fake)</title>
<h1>人脸核身</h1><form method="post" action="/h5/%[1]s">
<button name="outcome" value="passed" id="fake-pass">核验通过</button>
<button name="outcome" value="liveness" id="fake-liveness">活体检测失败</button>
<button name="outcome" value="compare" id="fake-compare">比对失败</button>
</form>`, html.EscapeString(token))
}

// finish records the outcome chosen on the page and sends the browser back
// to RedirectUrl, with the token added as the vendor does.
func (f *Fake) finish(w http.ResponseWriter, r *http.Request) {
	o := map[string]Outcome{"passed": Passed, "liveness": LivenessFail, "compare": CompareFail, "lowsim": LowSim}[r.FormValue("outcome")]
	back, err := f.Complete(r.PathValue("token"), o)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"token="+r.PathValue("token"), http.StatusFound)
}

func writeResponse(w http.ResponseWriter, resp map[string]any) {
	b := make([]byte, 8)
	rand.Read(b)
	resp["RequestId"] = "fake-" + hex.EncodeToString(b)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"Response": resp})
}

func writeError(w http.ResponseWriter, code, msg string) {
	writeResponse(w, map[string]any{"Error": map[string]any{"Code": code, "Message": msg}})
}

// Certificate is the fake's TLS certificate, for another process (a tempid
// binary under test) to trust.
func (f *Fake) Certificate() *x509.Certificate { return f.srv.Certificate() }
