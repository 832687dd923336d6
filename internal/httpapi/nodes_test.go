package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/accounts"
	tempidapp "tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/face"
	"tempid/internal/metrics"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// node is one tempid server of a cluster on a shared database: its own
// process state (API, metrics, logs), the cluster's master keys and clock.
// loseReply, when set, makes it drop the connection after the handler
// has run: the answer is lost after the commit, as when the node dies or
// the network fails between the two.
type node struct {
	*app
	loseReply atomic.Bool
}

type nodeConfig struct {
	keys           *pii.Keyring
	clock          *clock.Manual
	requestTimeout time.Duration
}

// newNode starts a node on s. Nodes made with the same keys and clock are
// one cluster.
func newNode(t *testing.T, s *store.Store, cfg nodeConfig) *node {
	t.Helper()
	if cfg.keys == nil {
		kr, err := pii.ParseKeyring(pii.NewKeyFile())
		if err != nil {
			t.Fatal(err)
		}
		cfg.keys = kr
	}
	if cfg.clock == nil {
		cfg.clock = clock.NewManual(time.Now().Truncate(time.Second))
	}
	logs := &syncBuffer{}
	w, err := tempidapp.New(context.Background(), tempidapp.Config{Store: s, PII: cfg.keys, Registry: registry.Development{},
		Provider: face.NewSimulator(), Policy: policy.Default(), Clock: cfg.clock, Password: accounts.TestPassword,
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Demo: true, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	w.API.RequestTimeout = cfg.requestTimeout
	h := w.API.Handler()
	n := &node{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !n.loseReply.Load() {
			h.ServeHTTP(rw, r)
			return
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if conn, _, err := rw.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	n.app = &app{t: t, srv: srv, store: s, clock: cfg.clock, accounts: w.Accounts, keys: w.Signing, logs: logs}
	t.Cleanup(func() { assertNothingPersonalLogged(t, n.app, everyone()...) })
	return n
}

// on returns a browser sharing c's session and device, talking to node n.
func (c *client) on(n *node) *client {
	c2 := *c
	c2.a = n.app
	c2.origin = n.srv.URL
	return &c2
}

// send is client.json with extra headers and a context; a transport error
// is returned, not fatal.
func (c *client) send(ctx context.Context, method, path string, v any, headers map[string]string) (answer, error) {
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.a.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	req.Header.Set("Origin", c.origin)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	out := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if resp.StatusCode >= 300 {
		json.Unmarshal(raw, &out.problem)
	}
	return out, nil
}

// applyWithKey applies for p with face check check under an
// Idempotency-Key.
func (c *client) applyWithKey(p person, check, key string) (answer, error) {
	return c.send(context.Background(), "POST", "/api/v1/certificates",
		map[string]any{"face_check_id": check, "name": p.name, "id_number": p.id.String(), "city_code": "440100"},
		map[string]string{"Idempotency-Key": key})
}

// metric returns the lines of n's /metrics that start with prefix.
func (n *node) metric(prefix string) string {
	n.t.Helper()
	resp, err := http.Get(n.srv.URL + "/metrics")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// certificates counts every certificate in the database.
func certificates(t *testing.T, s *store.Store) int64 {
	t.Helper()
	n, err := s.CountCertificates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
