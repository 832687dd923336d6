package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/pii"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// TestAKilledServerLosesNoAcknowledgedCertificate streams applications
// from several goroutines, each for persons of its own, kills the server
// with SIGKILL in the middle, restarts it on the same data and shows that
// every certificate a client received a 201 for exists, that every
// certificate in the database is counted by its holder's quota, and that
// the audit chain verifies.
func TestAKilledServerLosesNoAcknowledgedCertificate(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			opts := storetest.Options(t, backend)
			storage := []string{"--data", t.TempDir()}
			if opts.DSN != "" {
				storage = append(storage, "--database", opts.DSN)
			} else {
				storage = []string{"--data", opts.DataDir}
			}
			env := nodeEnv(pii.NewKeyFile())
			serve := append([]string{"serve", "--demo", "--listen", "127.0.0.1:0"}, storage...)
			first := startNode(t, env, serve...)

			type passenger struct {
				c    *client
				p    Person
				cert string // the certificate a 201 acknowledged, if any
			}
			const workers, killAfter = 4, 6
			var (
				mu         sync.Mutex
				passengers []*passenger
				acked      atomic.Int64
				killed     atomic.Bool
				killOnce   sync.Once
				wg         sync.WaitGroup
			)
			tr := newTransport(workers)
			defer tr.CloseIdleConnections()
			offset := RandomOffset()
			deadline := time.Now().Add(90 * time.Second)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !killed.Load() && time.Now().Before(deadline) && i < 50; i++ {
						ps := &passenger{c: newClient(first.url, tr, nil), p: PersonAt(offset + uint64(w*1000+i))}
						if err := ps.c.signUp(ctx, fmt.Sprintf("crash-%d-%d-%d", offset%100000, w, i), ps.p); err != nil {
							continue
						}
						mu.Lock()
						passengers = append(passengers, ps)
						mu.Unlock()
						check, err := ps.c.faceCheck(ctx, purposeApply, ps.p, "", newDevice(), captureImage())
						if err != nil {
							continue
						}
						a, err := ps.c.apply(ctx, opApply, ps.p, check)
						if err != nil {
							continue
						}
						mu.Lock()
						ps.cert = a.Certificate.ID
						mu.Unlock()
						if acked.Add(1) >= killAfter {
							// The other goroutines are mid-request now.
							killOnce.Do(func() { killed.Store(true); first.kill() })
						}
					}
				}()
			}
			wg.Wait()
			if !killed.Load() {
				t.Fatalf("only %d certificates acknowledged before the deadline; the server was never killed:\n%s", acked.Load(), first.tail())
			}

			second := startNode(t, env, serve...)
			total := 0
			for _, ps := range passengers {
				ps.c.base = second.url // the session cookie lives in the database
				if ps.cert != "" {
					var got struct{}
					if err := ps.c.json(ctx, "get", "GET", "/api/v1/certificates/"+ps.cert, nil, &got); err != nil {
						t.Errorf("a certificate acknowledged with 201 is gone after the crash: %v", err)
					}
				}
				var list struct {
					Certificates []struct{} `json:"certificates"`
				}
				if err := ps.c.json(ctx, "list", "GET", "/api/v1/certificates", nil, &list); err != nil {
					t.Fatalf("list after restart: %v", err)
				}
				q, err := ps.c.quota(ctx, "")
				if err != nil {
					t.Fatalf("quota after restart: %v", err)
				}
				if got, want := q.Quota.Used, len(list.Certificates); got != want {
					t.Errorf("quota counts %d certificates, %d are stored for the person", got, want)
				}
				if ps.cert != "" && q.Quota.Used != 1 {
					t.Errorf("quota %d for a person with one acknowledged certificate", q.Quota.Used)
				}
				total += q.Quota.Used
			}
			s, err := store.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := s.CountCertificates(ctx)
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			if int64(total) != stored {
				t.Errorf("%d certificates in the database, the persons' quotas count %d", stored, total)
			}
			if stored < acked.Load() {
				t.Errorf("%d certificates stored, %d acknowledged", stored, acked.Load())
			}
			out, err := tempid(t, env, append([]string{"audit", "verify"}, storage...)...)
			if err != nil {
				t.Errorf("tempid audit verify after the crash: %v\n%s", err, out)
			}
			t.Logf("%d passengers, %d certificates acknowledged before SIGKILL, %d stored; %s", len(passengers), acked.Load(), stored, out)
		})
	}
}
