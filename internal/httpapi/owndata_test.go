package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/face/facetest"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// auditActions lists the actions of the audit log, in order.
func auditActions(t *testing.T, s *store.Store) []string {
	t.Helper()
	entries, err := s.AuditEntries(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}

func hasAction(t *testing.T, s *store.Store, action string) bool {
	t.Helper()
	for _, a := range auditActions(t, s) {
		if a == action {
			return true
		}
	}
	return false
}

// accountID is the id of the client's account.
func (c *client) accountID() string {
	c.a.t.Helper()
	r := c.json("GET", "/api/v1/session", nil)
	c.want(r, 200, "")
	return as[apiv1.Session](r).Account.ID
}

func (c *client) addTraveller(p person) answer {
	return c.json("POST", "/api/v1/travellers", map[string]any{"name": p.name, "id_number": p.id.String()})
}

func TestSavedTravellersAreTheAccountsOwnSealedAndAtMostFifteen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		c.signUp(newPerson("李雷"))
		friend := newPerson("韩梅梅")

		r := c.addTraveller(friend)
		c.want(r, 201, "")
		tr := as[apiv1.TravellerResponse](r).Traveller
		if tr.Name != friend.name || tr.IDNumberMasked != friend.id.Masked() || tr.IDNumber != "" || tr.NameMasked != "韩**" {
			t.Errorf("saved traveller %+v, want the name in full and the ID number masked only", tr)
		}
		// Saving the same person again saves nothing new.
		again := c.addTraveller(friend)
		c.want(again, 200, "")
		if got := as[apiv1.TravellerResponse](again).Traveller.ID; got != tr.ID {
			t.Errorf("the same person saved again has id %v, want the saved %v", got, tr.ID)
		}
		list := c.json("GET", "/api/v1/travellers", nil)
		c.want(list, 200, "")
		if got := as[apiv1.Travellers](list); len(got.Travellers) != 1 || got.Limit != 15 || got.Travellers[0].IDNumber != "" {
			t.Errorf("list %s, want one traveller, masked, and the limit 15", list.raw)
		}
		if bytes.Contains(list.raw, []byte(friend.id.String())) {
			t.Error("the list shows a full ID number")
		}
		// In full, to fill an application.
		one := c.json("GET", "/api/v1/travellers/"+tr.ID, nil)
		c.want(one, 200, "")
		if got := as[apiv1.TravellerResponse](one).Traveller; got.IDNumber != friend.id.String() || got.Name != friend.name {
			t.Errorf("one traveller %+v, want the full name and ID number", got)
		}

		// Sealed at rest, bound to the row; found by the blind index.
		var nameCT, idCT, idIndex []byte
		var masked string
		if err := store.ScanForTest(s, `SELECT name_ct, id_number_ct, id_index, id_masked FROM travellers WHERE id = $1`, []any{tr.ID},
			&nameCT, &idCT, &idIndex, &masked); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(idCT, []byte(friend.id.String())) || bytes.Contains(nameCT, []byte(friend.name)) || len(idCT) < 18 || len(nameCT) == 0 {
			t.Errorf("the stored row holds the name or ID number in the clear, or nothing: %x %x", nameCT, idCT)
		}
		if _, err := a.kr.OpenString(idCT, "traveller.id_number:"+tr.ID); err != nil {
			t.Errorf("the sealed ID number does not open for its row: %v", err)
		}
		if _, err := a.kr.OpenString(idCT, "traveller.id_number:"+store.NewID()); err == nil {
			t.Error("the sealed ID number opens for another row")
		}
		if want := a.kr.BlindIndex("id_number", friend.id.String()); !bytes.Equal(idIndex, want) || masked != friend.id.Masked() {
			t.Error("the row's blind index or masked ID number is not the ID number's")
		}

		// Another account sees none of it.
		other := a.client()
		other.signUp(newPerson("王芳"))
		other.want(other.json("GET", "/api/v1/travellers/"+tr.ID, nil), 404, "not_found")
		other.want(other.json("DELETE", "/api/v1/travellers/"+tr.ID, nil), 404, "not_found")
		if got := as[apiv1.Travellers](other.json("GET", "/api/v1/travellers", nil)); len(got.Travellers) != 0 {
			t.Errorf("another account lists %d travellers, want none", len(got.Travellers))
		}

		// Checked before anything is stored.
		bad := friend
		bad.id = friend.id[:17] + "0"
		if bad.id == friend.id {
			bad.id = friend.id[:17] + "1"
		}
		c.want(c.addTraveller(bad), 400, "invalid_id_number")
		c.want(c.json("POST", "/api/v1/travellers", map[string]any{"name": "", "id_number": friend.id.String()}), 400, "")

		// At most fifteen.
		for i := 1; i < 15; i++ {
			c.want(c.addTraveller(newPerson(fmt.Sprintf("同行%c", '甲'+rune(i)))), 201, "")
		}
		full := c.addTraveller(newPerson("张三"))
		c.want(full, 409, "traveller_limit_reached")
		if full.problem["limit"] != float64(15) {
			t.Errorf("the refusal's limit member is %v, want 15", full.problem["limit"])
		}
		c.want(c.json("DELETE", "/api/v1/travellers/"+tr.ID, nil), 204, "")
		c.want(c.json("GET", "/api/v1/travellers/"+tr.ID, nil), 404, "not_found")
		c.want(c.addTraveller(newPerson("张三")), 201, "")
		for _, action := range []string{"traveller.add", "traveller.remove"} {
			if !hasAction(t, s, action) {
				t.Errorf("no %s in the audit log", action)
			}
		}
	})
}

func TestOwnDataShowsWhatIsHeldMaskedAndDownloads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("李雷")
		user := fmt.Sprintf("mydata%d", time.Now().UnixNano()%1000000)
		c.want(c.json("POST", "/api/v1/accounts", map[string]any{"username": user, "password": "correct horse battery",
			"name": me.name, "id_number": me.id.String(), "phone": "13812345678"}), 201, "")
		c.user = user
		c.want(c.login(user, "correct horse battery"), 200, "")
		check, capture := c.faceCheck(me, facetest.SampleJPEG())
		c.want(capture, 200, "")
		c.want(c.apply(me, check), 201, "")
		friend := newPerson("韩梅梅")
		c.want(c.addTraveller(friend), 201, "")

		r := c.json("GET", "/api/v1/me/data?download=1", nil)
		c.want(r, 200, "")
		if got, want := r.header.Get("Content-Disposition"), `attachment; filename="tempid-my-data.json"`; got != want {
			t.Errorf("Content-Disposition %q, want %q", got, want)
		}
		if plain := c.json("GET", "/api/v1/me/data", nil); plain.header.Get("Content-Disposition") != "" {
			t.Error("without download=1 the data is answered as a file")
		}
		for _, secret := range []string{me.id.String(), me.name, friend.id.String(), friend.name, "13812345678", "correct horse battery"} {
			if bytes.Contains(r.raw, []byte(secret)) {
				t.Errorf("the data download holds %q in the clear", secret)
			}
		}
		var d apiv1.OwnData
		if err := json.Unmarshal(r.raw, &d); err != nil {
			t.Fatal(err)
		}
		if d.Account.Username != user || d.Account.IDNumberMasked != me.id.Masked() || d.Account.NameMasked != "李*" || d.Account.PhoneMasked != "138****5678" {
			t.Errorf("account %+v, want the username and the identity and phone masked", d.Account)
		}
		if len(d.Certificates) != 1 || d.Certificates[0].Holder.IDNumberMasked != me.id.Masked() {
			t.Errorf("certificates %+v, want the one issued, masked", d.Certificates)
		}
		if len(d.FaceChecks) != 1 || d.FaceChecks[0].Result != "passed" || d.FaceChecks[0].Purpose != "apply" ||
			d.FaceChecks[0].Provider == "" || d.FaceChecks[0].SubjectName != "李*" || d.FaceChecks[0].UsedAt.IsZero() {
			t.Errorf("face checks %+v, want the passed and used apply check", d.FaceChecks)
		}
		if len(d.Consents) != 1 || d.Consents[0].Purpose != "face_recognition" || d.Consents[0].Status != "given" {
			t.Errorf("consents %+v, want the face-recognition consent given with the check", d.Consents)
		}
		if len(d.Devices) != 1 || len(d.Devices[0].KeyHash) != 64 || d.Devices[0].Passes != 1 || !d.Devices[0].RevokedAt.IsZero() {
			t.Errorf("devices %+v, want this phone's key, authorised once, not revoked", d.Devices)
		}
		if len(d.Sessions) != 1 || !d.Sessions[0].Current || d.Sessions[0].ExpiresAt.IsZero() {
			t.Errorf("sessions %+v, want the current one", d.Sessions)
		}
		if bytes.Contains(r.raw, []byte(cookie(c))) {
			t.Error("the data download holds the session token")
		}
		if len(d.Travellers) != 1 || d.Travellers[0].Name != "" || d.Travellers[0].NameMasked != "韩**" || d.Travellers[0].IDNumberMasked != friend.id.Masked() {
			t.Errorf("travellers %+v, want the saved one, masked", d.Travellers)
		}
		if !hasAction(t, s, "account.data.read") {
			t.Error("reading the data is not in the audit log")
		}
	})
}

func TestWithdrawingTheFaceConsentEndsItsChecksAndAsksAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("李雷")
		c.signUp(me)
		start := func(consent bool) answer {
			return c.json("POST", "/api/v1/face-checks", map[string]any{"purpose": "apply",
				"subject": map[string]any{"name": me.name, "id_number": me.id.String()}, "device_key": c.jwk(), "consent": consent})
		}
		r := start(true)
		c.want(r, 201, "")
		pending := as[apiv1.FaceCheckResponse](r).FaceCheck

		c.want(c.json("POST", "/api/v1/me/consents/face/withdraw", nil), 204, "")
		// The check started under the consent cannot be completed after it.
		c.want(c.do("POST", pending.CaptureURL, "image/jpeg", facetest.SampleJPEG()), 410, "face_check_expired")
		var sealed []byte
		if err := store.ScanForTest(s, `SELECT subject_sealed FROM face_checks WHERE id = $1`, []any{pending.ID}, &sealed); err != nil {
			t.Fatal(err)
		}
		if sealed != nil {
			t.Error("the ended check still holds its sealed subject")
		}
		d := as[apiv1.OwnData](c.json("GET", "/api/v1/me/data", nil))
		if len(d.Consents) != 1 || d.Consents[0].Status != "withdrawn" || d.Consents[0].WithdrawnAt.IsZero() {
			t.Errorf("consents %+v, want the one withdrawn", d.Consents)
		}
		// The next check asks again.
		c.want(start(false), 403, "consent_required")
		c.want(start(true), 201, "")
		d = as[apiv1.OwnData](c.json("GET", "/api/v1/me/data", nil))
		if len(d.Consents) != 2 || d.Consents[1].Status != "given" {
			t.Errorf("consents %+v, want the withdrawn one and a new one given", d.Consents)
		}
		// Withdrawing twice is harmless.
		c.want(c.json("POST", "/api/v1/me/consents/face/withdraw", nil), 204, "")
		c.want(c.json("POST", "/api/v1/me/consents/face/withdraw", nil), 204, "")
		actions := strings.Join(auditActions(t, s), " ")
		if strings.Count(actions, "consent.withdraw") != 3 || strings.Count(actions, "consent.give") != 2 {
			t.Errorf("audit actions %s, want 2 consents given and 3 withdrawals", actions)
		}
	})
}

func TestDeletingTheAccountEndsItsSessionsRevokesItsDevicesAndErasesItsIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		me := newPerson("李雷")
		c.signUp(me)
		id := c.accountID()
		check, capture := c.faceCheck(me, facetest.SampleJPEG())
		c.want(capture, 200, "")
		r := c.apply(me, check)
		c.want(r, 201, "")
		applied := as[apiv1.Applied](r)
		c.want(c.addTraveller(newPerson("韩梅梅")), 201, "")
		// A second phone, logged in to the same account.
		other := a.client()
		other.want(other.login(c.user, "correct horse battery"), 200, "")
		if v, reason := a.gateVerdict(c.code(*applied.Pass)); v != "valid" {
			t.Fatalf("before the deletion the code is %s %s, want valid", v, reason)
		}

		c.want(c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": "wrong horse battery"}), 403, "forbidden")
		c.want(c.json("GET", "/api/v1/session", nil), 200, "") // a wrong password ends nothing
		c.want(c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": "correct horse battery"}), 204, "")

		// Every session has ended, and the account cannot log in.
		c.want(c.json("GET", "/api/v1/session", nil), 401, "unauthenticated")
		other.want(other.json("GET", "/api/v1/session", nil), 401, "unauthenticated")
		c.want(c.login(c.user, "correct horse battery"), 401, "unauthenticated")
		var live int
		if err := store.ScanForTest(s, `SELECT count(*) FROM sessions WHERE account_id = $1 AND ended_at IS NULL`, []any{id}, &live); err != nil {
			t.Fatal(err)
		}
		if live != 0 {
			t.Errorf("%d sessions of the deleted account are live", live)
		}
		// The phone's code answers device_revoked.
		if v, reason := a.gateVerdict(c.code(*applied.Pass)); v != "invalid" || reason != "device_revoked" {
			t.Errorf("after the deletion the code is %s %s, want invalid device_revoked", v, reason)
		}
		// The identity is erased; the row stays, deleted.
		var username string
		var nameCT, idCT, idIndex, phoneCT []byte
		var nameMasked, idMasked, hash string
		var deleted sql.NullInt64
		if err := store.ScanForTest(s, `SELECT username, name_ct, id_number_ct, id_index, phone_ct, name_masked, id_masked, password_hash, deleted_at
			FROM accounts WHERE id = $1`, []any{id}, &username, &nameCT, &idCT, &idIndex, &phoneCT, &nameMasked, &idMasked, &hash, &deleted); err != nil {
			t.Fatal(err)
		}
		if nameCT != nil || idCT != nil || idIndex != nil || phoneCT != nil || nameMasked != "" || idMasked != "" || hash != "" {
			t.Error("the deleted account still holds its sealed identity, blind index, masked identity or password hash")
		}
		if username != store.DeletedUsername(id) || !deleted.Valid {
			t.Errorf("the deleted account's username is %q, deleted_at %v", username, deleted)
		}
		var travellers int
		if err := store.ScanForTest(s, `SELECT count(*) FROM travellers WHERE account_id = $1`, []any{id}, &travellers); err != nil {
			t.Fatal(err)
		}
		if travellers != 0 {
			t.Errorf("%d saved travellers of the deleted account remain", travellers)
		}
		// The certificate stays for retention, masked as every certificate.
		var certMasked, certStatus string
		if err := store.ScanForTest(s, `SELECT id_masked, status FROM certificates WHERE id = $1 AND account_id = $2`,
			[]any{applied.Certificate.ID, id}, &certMasked, &certStatus); err != nil {
			t.Fatalf("the certificate is gone: %v", err)
		}
		if certMasked != me.id.Masked() {
			t.Errorf("the kept certificate shows %q, want the masked ID number", certMasked)
		}
		if !hasAction(t, s, "account.delete") {
			t.Error("the deletion is not in the audit log")
		}
		// The username is free again.
		again := a.client()
		again.want(again.json("POST", "/api/v1/accounts", map[string]any{"username": c.user, "password": "another horse battery",
			"name": me.name, "id_number": me.id.String()}), 201, "")
	})
}

func TestDeletingTheAccountRechecksThePasswordUnderTheLoginThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		c.signUp(newPerson("李雷"))
		for i := 0; i < 10; i++ {
			c.want(c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": fmt.Sprintf("guess number %d", i)}), 403, "forbidden")
		}
		r := c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": "correct horse battery"})
		c.want(r, 429, "rate_limited")
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		a.clock.Advance(16 * time.Minute)
		c.want(c.json("DELETE", "/api/v1/accounts/me", map[string]any{"password": "correct horse battery"}), 204, "")
	})
}

func TestParallelAdditionsOfTravellersStopAtTheLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		c := a.client()
		c.signUp(newPerson("李雷"))
		var people []person
		for i := 0; i < 20; i++ {
			people = append(people, newPerson(fmt.Sprintf("同行%c", '甲'+rune(i))))
		}
		statuses := make(chan int, len(people))
		var wg sync.WaitGroup
		for _, p := range people {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.addTraveller(p)
				if r.status != 201 && r.code() != "traveller_limit_reached" {
					t.Errorf("adding a traveller: %d %s", r.status, r.raw)
				}
				statuses <- r.status
			}()
		}
		wg.Wait()
		close(statuses)
		added := 0
		for st := range statuses {
			if st == 201 {
				added++
			}
		}
		var stored int
		if err := store.ScanForTest(s, `SELECT count(*) FROM travellers`, nil, &stored); err != nil {
			t.Fatal(err)
		}
		if added != 15 || stored != 15 {
			t.Errorf("%d added and %d stored of 20 sent at once, want 15", added, stored)
		}
	})
}

func TestOwnDataListsTheCertificatesOthersAppliedForThePassenger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newApp(t, s)
		me, companion := a.client(), a.client()
		p := newPerson("李雷")
		me.signUp(p)
		companion.signUp(newPerson("韩梅梅"))
		check, capture := companion.faceCheck(p, facetest.SampleJPEG())
		companion.want(capture, 200, "")
		r := companion.apply(p, check)
		companion.want(r, 201, "")
		issued := as[apiv1.Applied](r).Certificate

		mine := as[apiv1.OwnData](me.json("GET", "/api/v1/me/data", nil))
		if len(mine.Certificates) != 0 || len(mine.CertificatesHeld) != 1 || mine.CertificatesHeld[0].ID != issued.ID {
			t.Errorf("the passenger's data lists %d applied and %d held, want the companion's application among those held",
				len(mine.Certificates), len(mine.CertificatesHeld))
		}
		theirs := as[apiv1.OwnData](companion.json("GET", "/api/v1/me/data", nil))
		if len(theirs.Certificates) != 1 || len(theirs.CertificatesHeld) != 0 {
			t.Errorf("the companion's data lists %d applied and %d held, want the one applied for", len(theirs.Certificates), len(theirs.CertificatesHeld))
		}
	})
}
