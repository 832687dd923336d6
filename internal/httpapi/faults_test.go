package httpapi_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// proxy is a TCP proxy to PostgreSQL that a test can cut and restore, to
// play a database that goes away and comes back.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut stops listening and drops every connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

func TestDatabaseOutageAnswers503AndRecovers(t *testing.T) {
	dsn := storetest.Schema(t)
	u, _ := url.Parse(dsn)
	p := startProxy(t, u.Host)
	u.Host = p.addr
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

	p.cut()
	c.want(get("/readyz"), 503, "unavailable")
	c.want(get("/api/v1/quota"), 503, "unavailable")
	c.want(c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply", "subject": map[string]any{"name": "故障", "id_number": newPerson("故障二").id.String()}, "device_key": c.jwk(), "consent": true}), 503, "unavailable")

	p.restore()
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
