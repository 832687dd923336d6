package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"tempid/internal/httpapi/apiv1"
	"testing"
	"time"

	"tempid/internal/clock"
	"tempid/internal/pii"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// TestIdempotencyKeyRules: API.md "Retries without issuing twice" on one
// node: the header's form, the same key with the same body answered again
// with the original status and body, a different body refused, the scope
// per account, and a failed request leaving its key free.
func TestIdempotencyKeyRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		n := newNode(t, s, nodeConfig{})
		c := n.client()
		me := newPerson("幂等")
		c.signUp(me)

		for _, bad := range []string{"", strings.Repeat("k", 65), "has space", "ключ", "a/b", "a.b"} {
			r, err := c.applyWithKey(me, "nope", bad)
			if err != nil {
				t.Fatal(err)
			}
			c.want(r, 400, "validation_failed")
		}

		// A request that fails changes nothing and does not keep its key:
		// the same key then works for the application that succeeds.
		key := "apply-" + store.NewID()
		r, err := c.applyWithKey(me, "no-such-check", key)
		if err != nil {
			t.Fatal(err)
		}
		c.want(r, 404, "not_found")

		check := c.passedCheck(me)
		first, err := c.applyWithKey(me, check, key)
		if err != nil {
			t.Fatal(err)
		}
		c.want(first, 201, "")
		id := as[apiv1.Applied](first).Certificate.ID

		// The same key and body: the original answer, byte for byte,
		// however often, even after the clock moved.
		for range 3 {
			n.clock.Advance(time.Minute)
			again, err := c.applyWithKey(me, check, key)
			if err != nil {
				t.Fatal(err)
			}
			c.want(again, 201, "")
			if string(again.raw) != string(first.raw) {
				t.Fatalf("a retry with the same key got\n%s\nnot the original\n%s", again.raw, first.raw)
			}
		}
		// The same key with another body.
		other := c.passedCheck(me)
		c.want(must(c.applyWithKey(me, other, key)), 422, "idempotency_key_reused")
		// The same key on another route is another request too.
		r, err = c.send(t.Context(), "POST", "/api/v1/face-checks", map[string]any{"purpose": "apply"}, map[string]string{"Idempotency-Key": key})
		if err != nil {
			t.Fatal(err)
		}
		if r.status == 201 {
			t.Errorf("a key reused on another endpoint issued: %s", r.raw)
		}
		// Without a key a retry is a new application (and R5 refuses it).
		c.want(c.apply(me, other), 409, "active_certificate_exists")

		// Keys are per account: another account's use of the same key is
		// its own request.
		you := newPerson("幂等二")
		c2 := n.client()
		c2.signUp(you)
		r2, err := c2.applyWithKey(you, c2.passedCheck(you), key)
		if err != nil {
			t.Fatal(err)
		}
		c2.want(r2, 201, "")
		if as[apiv1.Applied](r2).Certificate.ID == id {
			t.Error("another account's request with the same key got the first account's certificate")
		}
		if got := certificates(t, s); got != 2 {
			t.Errorf("%d certificates stored, want 2", got)
		}

		// 24 hours later the key is forgotten: another body under it is
		// a new request, not idempotency_key_reused.
		n.clock.Advance(store.IdempotencyRetention)
		c.relogin()
		late := must(c.applyWithKey(me, c.passedCheck(me), key))
		if late.code() == "idempotency_key_reused" || string(late.raw) == string(first.raw) {
			t.Errorf("a key 24 hours old still holds: %d %s", late.status, late.raw)
		}
	})
}

func must(r answer, err error) answer {
	if err != nil {
		panic(err)
	}
	return r
}

// TestALostAnswerIsReturnedByARetryOnAnotherNode: the reply to an
// application is lost after its commit (the node dies or the connection
// drops between commit and reply). The passenger's retry with the same
// Idempotency-Key — sent to another node of the cluster — gets the
// original certificate and pass; nothing new is issued and the quota
// counts one.
func TestALostAnswerIsReturnedByARetryOnAnotherNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		kr, err := pii.ParseKeyring(pii.NewKeyFile())
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewManual(time.Now().Truncate(time.Second))
		first := newNode(t, s, nodeConfig{keys: kr, clock: clk})
		second := newNode(t, s, nodeConfig{keys: kr, clock: clk})
		c := first.client()
		me := newPerson("失答")
		c.signUp(me)
		check := c.passedCheck(me)
		key := "k-" + store.NewID()

		first.loseReply.Store(true)
		if r, err := c.applyWithKey(me, check, key); err == nil {
			t.Fatalf("the reply was not lost: %d %s", r.status, r.raw)
		}
		if got := certificates(t, s); got != 1 {
			t.Fatalf("%d certificates after the lost reply, want the 1 committed", got)
		}

		// Before this issue the retry was told face_check_used, and the
		// passenger never saw the certificate.
		c2 := c.on(second)
		r, err := c2.applyWithKey(me, check, key)
		if err != nil {
			t.Fatal(err)
		}
		c2.want(r, 201, "")
		if as[apiv1.Applied](r).Pass == nil || as[apiv1.Applied](r).Certificate.ID == "" {
			t.Fatalf("the retry's answer lacks the certificate or pass: %s", r.raw)
		}
		if got := as[apiv1.Applied](r).Quota.Used; got != 1 {
			t.Errorf("quota used %v in the replayed answer, want 1", got)
		}
		list := c2.json("GET", "/api/v1/certificates", nil)
		c2.want(list, 200, "")
		certs := as[apiv1.Certificates](list).Certificates
		if len(certs) != 1 || certs[0].ID != as[apiv1.Applied](r).Certificate.ID {
			t.Errorf("stored certificates %s, want exactly the one the retry returned", list.raw)
		}
		q := c2.json("GET", "/api/v1/quota", nil)
		if got := as[apiv1.QuotaResponse](q).Quota.Used; got != 1 {
			t.Errorf("quota used %v, want 1", got)
		}
		if got := certificates(t, s); got != 1 {
			t.Errorf("%d certificates after the retry, want 1", got)
		}
		// And the same answer again from the first node, now answering.
		first.loseReply.Store(false)
		again := must(c.applyWithKey(me, check, key))
		c.want(again, 201, "")
		if string(again.raw) != string(r.raw) {
			t.Errorf("the nodes answer the same key differently:\n%s\n%s", again.raw, r.raw)
		}
	})
}

// TestConcurrentRequestsWithOneKeyIssueOnce: parallel applications with
// the same key and body, over two nodes: exactly one certificate; each
// client hears 201 with that certificate or 409 request_in_progress.
// Parallel applications with different keys for one face check: one
// issues, the others are told face_check_used.
func TestConcurrentRequestsWithOneKeyIssueOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		kr, err := pii.ParseKeyring(pii.NewKeyFile())
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewManual(time.Now().Truncate(time.Second))
		nodes := []*node{newNode(t, s, nodeConfig{keys: kr, clock: clk}), newNode(t, s, nodeConfig{keys: kr, clock: clk})}
		c := nodes[0].client()
		me := newPerson("并发")
		c.signUp(me)
		check := c.passedCheck(me)
		key := "same-" + store.NewID()

		const parallel = 16
		var wg sync.WaitGroup
		answers := make([]answer, parallel)
		errs := make([]error, parallel)
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i], errs[i] = c.on(nodes[i%2]).applyWithKey(me, check, key)
			}()
		}
		wg.Wait()
		ids := map[any]int{}
		for i, r := range answers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch {
			case r.status == 201:
				ids[as[apiv1.Applied](r).Certificate.ID]++
			case r.status == 409 && r.code() == "request_in_progress":
				if r.header.Get("Retry-After") == "" {
					t.Error("409 request_in_progress without Retry-After")
				}
			default:
				t.Errorf("answer %d %s (%s), want 201 or 409 request_in_progress", r.status, r.code(), r.raw)
			}
		}
		if len(ids) != 1 {
			t.Errorf("the 201 answers name %d certificates (%v), want 1", len(ids), ids)
		}
		if got := certificates(t, s); got != 1 {
			t.Errorf("%d certificates stored, want 1", got)
		}
		// After the dust settles every retry gets the certificate.
		final := must(c.applyWithKey(me, check, key))
		c.want(final, 201, "")
		if ids[as[apiv1.Applied](final).Certificate.ID] == 0 {
			t.Error("the settled answer names another certificate")
		}

		// Different keys, one check: still one certificate.
		you := newPerson("并发二")
		c2 := nodes[1].client()
		c2.signUp(you)
		check2 := c2.passedCheck(you)
		codes := make([]string, parallel)
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := c2.on(nodes[i%2]).applyWithKey(you, check2, fmt.Sprintf("k%d-%s", i, key))
				if err != nil {
					codes[i] = err.Error()
					return
				}
				codes[i] = fmt.Sprint(r.status, " ", r.code())
			}()
		}
		wg.Wait()
		issued := 0
		for _, code := range codes {
			switch code {
			case "201 ":
				issued++
			case "409 face_check_used", "409 active_certificate_exists":
			default:
				t.Errorf("answer %s", code)
			}
		}
		if issued != 1 {
			t.Errorf("%d certificates issued for one face check with different keys, want 1", issued)
		}
	})
}
