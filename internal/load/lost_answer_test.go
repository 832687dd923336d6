package load

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"tempid/internal/pii"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// killingProxy forwards TCP connections to a tempid process. Armed, it
// kills the process as soon as the process starts to send an answer —
// after the handler's commit, before the client has a byte of the reply —
// and drops the client's connection: a kill between commit and reply.
type killingProxy struct {
	ln     net.Listener
	target atomic.Value // string: host:port of the node
	armed  atomic.Bool
	kill   func()
	once   sync.Once
}

func startKillingProxy(t *testing.T, target string, kill func()) *killingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &killingProxy{ln: ln, kill: kill}
	p.target.Store(target)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *killingProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target.Load().(string))
	if err != nil {
		return
	}
	defer up.Close()
	go func() { io.Copy(up, c); up.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 && p.armed.Load() {
			p.once.Do(p.kill)
			return
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestAKillBetweenCommitAndReplyIsAnsweredByTheRetry: the server is
// killed with SIGKILL after it committed an application and before the
// passenger received a byte of the answer. Before this issue the retry was
// refused face_check_used and the passenger never saw the certificate.
// Now the retry with the same Idempotency-Key, to the restarted server,
// gets the certificate issued the first time; nothing new is issued and
// the quota counts one.
func TestAKillBetweenCommitAndReplyIsAnsweredByTheRetry(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			opts := storetest.Options(t, backend)
			storage := []string{"--data", opts.DataDir}
			if opts.DSN != "" {
				storage = []string{"--data", t.TempDir(), "--database", opts.DSN}
			}
			env := nodeEnv(pii.NewKeyFile())
			serve := append([]string{"serve", "--demo", "--listen", "127.0.0.1:0"}, storage...)
			first := startNode(t, env, serve...)
			u, err := url.Parse(first.url)
			if err != nil {
				t.Fatal(err)
			}
			proxy := startKillingProxy(t, u.Host, first.kill)

			tr := newTransport(1)
			defer tr.CloseIdleConnections()
			c := newClient("http://"+proxy.ln.Addr().String(), tr, nil)
			p := PersonAt(RandomOffset())
			if err := c.signUp(ctx, "lost-"+store.NewID()[16:], p); err != nil {
				t.Fatal(err)
			}
			check, err := c.faceCheck(ctx, purposeApply, p, "", newDevice(), captureImage())
			if err != nil {
				t.Fatal(err)
			}
			c.idempotencyKey = "apply-" + store.NewID()
			proxy.armed.Store(true)
			if a, err := c.apply(ctx, opApply, p, check); err == nil {
				t.Fatalf("the answer arrived (%s); the server was not killed in time", a.Certificate.ID)
			}
			select {
			case <-first.exited:
			default:
				t.Fatal("the server is still running")
			}

			second := startNode(t, env, serve...)
			c.base = second.url // the session lives in the database
			a, err := c.apply(ctx, opApply, p, check)
			if err != nil {
				t.Fatalf("the retry with the same key: %v\n%s", err, second.tail())
			}
			if a.Certificate.ID == "" || a.Pass == nil || a.Quota.Used != 1 {
				t.Errorf("the retry's answer %+v, want the certificate, its pass and quota used 1", a)
			}
			var list struct {
				Certificates []struct {
					ID string `json:"id"`
				} `json:"certificates"`
			}
			if err := c.json(ctx, "list", "GET", "/api/v1/certificates", nil, &list); err != nil {
				t.Fatal(err)
			}
			if len(list.Certificates) != 1 || list.Certificates[0].ID != a.Certificate.ID {
				t.Errorf("stored %+v, want exactly the certificate the retry returned (%s)", list.Certificates, a.Certificate.ID)
			}
			q, err := c.quota(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if q.Quota.Used != 1 {
				t.Errorf("quota used %d, want 1", q.Quota.Used)
			}
			// Without the key, the same application is what it always was:
			// the face check is used.
			c.idempotencyKey = ""
			if _, err := c.apply(ctx, opApply, p, check, "face_check_used"); codeOf(err) != "face_check_used" {
				t.Errorf("a retry without the key: %v, want face_check_used", err)
			}
		})
	}
}
