package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/problem"
)

// echoServer decodes a small JSON body with the API's rules and answers it.
func echoServer(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	var logs bytes.Buffer
	s := &Server{Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if err := decode(w, r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errors.New("database exploded: secret detail"))
	})
	mux.HandleFunc("GET /limited", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, problem.New(problem.RateLimited, "slow down").Retry(1500*time.Millisecond).With("resets_at", "soon"))
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	srv := httptest.NewServer(s.middleware(mux))
	t.Cleanup(srv.Close)
	return srv, &logs
}

type problemDoc struct {
	Code      string `json:"code"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	ResetsAt  string `json:"resets_at"`
	Title     string `json:"title"`
	Type      string `json:"type"`
	RequestID string
}

func readProblem(t *testing.T, resp *http.Response) problemDoc {
	t.Helper()
	defer resp.Body.Close()
	if got, want := resp.Header.Get("Content-Type"), "application/problem+json"; got != want {
		t.Fatalf("content type %q, want %q", got, want)
	}
	var p problemDoc
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("status member %d, HTTP status %d", p.Status, resp.StatusCode)
	}
	return p
}

func TestBadBodiesAreRefusedWithStableCodes(t *testing.T) {
	srv, _ := echoServer(t)
	for _, c := range []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"unknown member", `{"name":"a","extra":1}`, "application/json", 400, problem.ValidationFailed},
		{"syntax error", `{"name":`, "application/json", 400, problem.ValidationFailed},
		{"wrong type", `{"name":5}`, "application/json", 400, problem.ValidationFailed},
		{"two values", `{"name":"a"}{"name":"b"}`, "application/json", 400, problem.ValidationFailed},
		{"empty body", ``, "application/json", 400, problem.ValidationFailed},
		{"not JSON", `name=a`, "application/x-www-form-urlencoded", 415, problem.ValidationFailed},
		{"over 1 MiB", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", 413, problem.TooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/echo", c.contentType, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			p := readProblem(t, resp)
			if resp.StatusCode != c.status || p.Code != c.code {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, p.Code, c.status, c.code)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/echo", "application/json", strings.NewReader(`{"name":"张三"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "张三") {
		t.Errorf("good body: %d %s", resp.StatusCode, body)
	}
}

// slowBody is a body that would take forever to send: it must not be read
// when its declared length is over the limit.
type slowBody struct{ read atomic.Int64 }

func (b *slowBody) Read(p []byte) (int, error) {
	b.read.Add(int64(len(p)))
	time.Sleep(10 * time.Millisecond)
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestOversizedBodyIsRefusedBeforeItIsRead(t *testing.T) {
	srv, _ := echoServer(t)
	body := &slowBody{}
	req, _ := http.NewRequest("POST", srv.URL+"/echo", body)
	req.ContentLength = 64 << 20
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := readProblem(t, resp)
	if resp.StatusCode != 413 || p.Code != problem.TooLarge {
		t.Errorf("got %d %s, want 413 too_large", resp.StatusCode, p.Code)
	}
	if n := body.read.Load(); n > 8<<20 {
		t.Errorf("the server read %d bytes of a body it refused", n)
	}
}

func TestInternalErrorsAreOpaqueAndLogged(t *testing.T) {
	srv, logs := echoServer(t)
	resp, err := http.Get(srv.URL + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	p := readProblem(t, resp)
	if resp.StatusCode != 500 || p.Code != problem.Internal || strings.Contains(p.Detail, "secret") {
		t.Errorf("got %d %+v", resp.StatusCode, p)
	}
	if !strings.Contains(logs.String(), "database exploded") {
		t.Error("the real error was not logged")
	}
	resp, err = http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	if p := readProblem(t, resp); resp.StatusCode != 500 || p.Code != problem.Internal {
		t.Errorf("panic answered %d %+v", resp.StatusCode, p)
	}
}

func TestRefusalsCarryRetryAfterAndMembers(t *testing.T) {
	srv, _ := echoServer(t)
	resp, err := http.Get(srv.URL + "/limited")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Header.Get("Retry-After"), "2"; got != want {
		t.Errorf("Retry-After %q, want %q (rounded up)", got, want)
	}
	p := readProblem(t, resp)
	if resp.StatusCode != 429 || p.Code != problem.RateLimited || p.ResetsAt != "soon" {
		t.Errorf("got %d %+v", resp.StatusCode, p)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := echoServer(t)
	resp, err := http.Get(srv.URL + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "X-Request-Id"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
}
