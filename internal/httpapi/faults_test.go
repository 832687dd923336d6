package httpapi_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
	"tempid/internal/testnet"
)

func TestDatabaseOutageAnswers503AndRecovers(t *testing.T) {
	dsn := storetest.Schema(t)
	u, _ := url.Parse(dsn)
	p := testnet.Start(t, u.Host)
	u.Host = p.Addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	s, err := store.Open(context.Background(), store.Options{DSN: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := newApp(t, s)
	c := a.client()
	c.signUp(newPerson("故障"))
	get := func(path string) answer { return c.json("GET", path, nil) }
	c.want(get("/readyz"), 200, "")
	c.want(get("/api/v1/quota"), 200, "")

	p.Cut()
	c.want(get("/readyz"), 503, "unavailable")
	c.want(get("/api/v1/quota"), 503, "unavailable")
	c.want(c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply", "subject": map[string]any{"name": "故障", "id_number": newPerson("故障二").id.String()}, "device_key": c.jwk(), "consent": true}), 503, "unavailable")

	p.Restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := get("/readyz")
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready 20 s after the database came back: %d %s", r.status, r.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.want(get("/api/v1/quota"), 200, "")
}
