package floor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"tempid/internal/credential"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/idnumber"
	"tempid/internal/problem"
)

// operationBits number the operations for code_claims.operations, as
// tempid does; the counter operations (bits 1 to 8) are shown the full ID
// number.
var operationBits = map[string]int64{
	"ticket_purchase": 1, "refund": 2, "change": 4, "reimbursement_voucher": 8,
	"id_check": 16, "entry": 32, "ticket_check": 64,
}

func counterOperation(bit int64) bool { return bit <= 8 }

// verificationWrite is a verification as the writer records it. Replay is
// the writer's answer: the claim found the code used.
type verificationWrite struct {
	ID, CertificateID string
	Step              int64
	Operation         string
	Bit               int64
	Verifier, Station string
	Verdict, Reason   string
	At                time.Time
	// Claim is set for a code that passed every other check.
	Claim                bool
	NameMasked, IDMasked string

	Replay bool
}

// verificationDetail is the audit detail of a verification.
type verificationDetail struct {
	Verification string `json:"verification"`
	Verdict      string `json:"verdict"`
	Operation    string `json:"operation"`
	Replay       bool   `json:"replay"`
	Reason       string `json:"reason,omitempty"`
	Station      string `json:"station,omitempty"`
	Holder       string `json:"holder,omitempty"`
	IDNumber     string `json:"id_number,omitempty"`
}

// asReplay turns the verification into the replay it turned out to be.
func (v *verificationWrite) asReplay() {
	v.Replay, v.Verdict, v.Reason = true, "invalid", "replayed"
}

// claimed is a claimed code's verification before its claim is decided:
// valid, as it was before a rolled-back attempt may have found it a
// replay.
func (v *verificationWrite) claimed() {
	v.Replay, v.Verdict, v.Reason = false, "valid", ""
}

func (v *verificationWrite) audit() auditEntry {
	object := "verification:" + v.ID
	if v.CertificateID != "" {
		object = "certificate:" + v.CertificateID
	}
	return newAuditEntry(v.At, "terminal:"+v.Verifier, "verification", object, verificationDetail{
		Verification: v.ID, Verdict: v.Verdict, Operation: v.Operation, Replay: v.Replay, Reason: v.Reason,
		Station: v.Station, Holder: v.NameMasked, IDNumber: v.IDMasked,
	})
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	t, err := s.terminal(r)
	if err != nil {
		return err
	}
	var in apiv1.VerifyRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	bit, ok := operationBits[in.Operation]
	if !ok {
		return problem.New(problem.ValidationFailed, "operation: unknown")
	}
	if in.Code == "" || len(in.Code) > credential.MaxCodeLen {
		return problem.New(problem.ValidationFailed, "code: 1 to %d characters", credential.MaxCodeLen)
	}
	now := s.now()
	v := verificationWrite{ID: newID(now), Operation: in.Operation, Bit: bit, Verifier: t.id, Station: t.station, At: now, Verdict: "invalid"}
	out := apiv1.VerifyResponse{Verdict: apiv1.Invalid, Kind: "code", VerifiedAt: now}
	var idCT []byte
	code, err := credential.ParseCode(in.Code)
	switch {
	case err != nil:
		v.Reason = "malformed"
	case code.Pass.IssuerKID != s.issuerKID:
		v.Reason = "unknown_key"
	case !code.Pass.VerifyIssuer(s.issuerPub):
		v.Reason = "bad_signature"
	default:
		p := code.Pass
		v.CertificateID, v.Step = hex.EncodeToString(p.CertID[:]), int64(code.Step)
		out.PassNotAfter = p.NotAfter
		v.Reason, idCT, err = s.check(r, code, now, &out)
		if err != nil {
			return err
		}
		// The certificate's masked name and number when it was read.
		v.NameMasked, v.IDMasked = p.NameMasked, p.IDMasked
	}
	if v.Reason == "" {
		v.Verdict, v.Claim = "valid", true
	}
	if err := s.db.record(r.Context(), &write{v: &v}); err != nil {
		return err
	}
	if v.Verdict == "valid" {
		out.Verdict = apiv1.Valid
	}
	out.Reason, out.Replay = v.Reason, v.Replay
	if v.NameMasked != "" {
		out.Holder = &apiv1.Holder{Name: v.NameMasked, NameMasked: v.NameMasked, IDNumberMasked: v.IDMasked}
	}
	if out.Verdict == apiv1.Valid && counterOperation(bit) {
		id, err := s.keys.OpenString(idCT, "certificate.id_number:"+v.CertificateID)
		if err != nil {
			return err
		}
		out.Holder.IDNumber = id
	}
	return writeJSON(w, http.StatusOK, out)
}

// check runs the checks after the issuer's signature: the device's
// signature, the step and the pass's times, and the certificate's status
// with the device's revocation in one read. It returns the reason the
// code is invalid ("" when valid) and the certificate's sealed ID number.
func (s *Server) check(r *http.Request, code *credential.Code, now time.Time, out *apiv1.VerifyResponse) (string, []byte, error) {
	if !code.VerifyDevice() {
		return "bad_device_signature", nil, nil
	}
	p := code.Pass
	id := hex.EncodeToString(p.CertID[:])
	device := credential.DeviceKeyHash(p.DeviceKey)
	var status string
	var expires int64
	var revoked bool
	var idCT []byte
	err := s.db.queryRow(r.Context(), `SELECT status, expires_at, name_masked, id_masked, id_number_ct,
		EXISTS (SELECT 1 FROM revoked_devices WHERE device_key_hash = $2 AND expires_at > $3)
		FROM certificates WHERE id = $1`, id, device[:], now.UnixMilli()).Scan(&status, &expires, &p.NameMasked, &p.IDMasked, &idCT, &revoked)
	if errors.Is(err, errNoRows) {
		return "revoked", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	exp := time.UnixMilli(expires)
	out.Certificate = &apiv1.VerifiedCertificate{ID: id, Status: status, ExpiresAt: exp}
	skew := s.pol.VerificationSkew
	step := credential.StepAt(now)
	switch {
	case status != "active":
		return "revoked", nil, nil
	case revoked:
		return "device_revoked", nil, nil
	case now.After(exp.Add(skew)) || now.After(p.CertExpiry.Add(skew)):
		return "certificate_expired", nil, nil
	case now.After(p.NotAfter.Add(skew)):
		return "pass_expired", nil, nil
	case now.Before(p.NotBefore.Add(-skew)):
		return "not_yet_valid", nil, nil
	case code.Step > step || (code.Step < step && now.After(time.Unix(int64(code.Step+1)*credential.StepSeconds, 0).Add(skew))):
		return "stale_code", nil, nil
	}
	return "", idCT, nil
}

// issuanceWrite is an issuance as the writer records it. Used and Refused
// are the writer's answer: the month's count with this certificate, or
// the problem code of a refusal.
type issuanceWrite struct {
	FaceCheckID          string
	MonthStart, MonthEnd int64
	Limit                int
	Cert                 certificateRow
	Pass                 passRow
	Actor                string

	Used    int
	Refused string
}

type certificateRow struct {
	ID, AccountID        string
	HolderIndex          []byte
	NameCT, IDNumberCT   []byte
	NameMasked, IDMasked string
	CityCode             string
	IssuedAt, ExpiresAt  time.Time
}

type passRow struct {
	ID                  string
	DeviceKeyHash       []byte
	NotBefore, NotAfter time.Time
}

type issuanceDetail struct {
	Certificate string `json:"certificate"`
	Pass        string `json:"pass"`
	FaceCheck   string `json:"face_check"`
	MonthUsed   int    `json:"month_used"`
}

func (i *issuanceWrite) audit() auditEntry {
	return newAuditEntry(i.Cert.IssuedAt, i.Actor, "certificate.issue", "certificate:"+i.Cert.ID, issuanceDetail{
		Certificate: i.Cert.ID, Pass: i.Pass.ID, FaceCheck: i.FaceCheckID, MonthUsed: i.Used,
	})
}

func (s *Server) apply(w http.ResponseWriter, r *http.Request) error {
	se, err := s.session(r)
	if err != nil {
		return err
	}
	var in apiv1.ApplyRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	now := s.now()
	num, err := idnumber.Parse(in.IDNumber, now)
	if err != nil {
		return problem.New(problem.InvalidIDNumber, "id_number: %v", err)
	}
	if in.Name == "" || len(in.CityCode) != 6 || in.FaceCheckID == "" {
		return problem.New(problem.ValidationFailed, "name, city_code and face_check_id: required")
	}
	holder := s.keys.BlindIndex("id_number", num.String())
	var accountID string
	var subject, deviceKey []byte
	var completed, used *int64
	err = s.db.queryRow(r.Context(), `SELECT account_id, subject_index, device_key, completed_at, used_at FROM face_checks WHERE id = $1`, in.FaceCheckID).
		Scan(&accountID, &subject, &deviceKey, &completed, &used)
	if errors.Is(err, errNoRows) || (err == nil && accountID != se.accountID) {
		return problem.New(problem.NotFound, "no such face check")
	}
	if err != nil {
		return err
	}
	switch {
	case completed == nil:
		return problem.New(problem.FaceCheckNotPassed, "the face check has not passed")
	case used != nil:
		return problem.New(problem.FaceCheckUsed, "the face check was used")
	case now.Sub(time.UnixMilli(*completed)) > s.pol.FaceCheckUseWindow:
		return problem.New(problem.FaceCheckExpired, "the face check is too old")
	case string(subject) != string(holder) || len(deviceKey) != 33:
		return problem.New(problem.FaceCheckMismatch, "the face check was made for someone else")
	}
	issued := now.Truncate(time.Second)
	certID := newID(now)
	c := certificateRow{
		ID: certID, AccountID: se.accountID, HolderIndex: holder,
		NameCT:     s.keys.SealString(in.Name, "certificate.name:"+certID),
		IDNumberCT: s.keys.SealString(num.String(), "certificate.id_number:"+certID),
		NameMasked: idnumber.MaskName(in.Name), IDMasked: num.Masked(), CityCode: in.CityCode,
		IssuedAt: issued, ExpiresAt: issued.Add(s.pol.CertificateValidity),
	}
	pass, p, err := s.signPass(c, time.UnixMilli(*completed).Truncate(time.Second), [33]byte(deviceKey), num.String())
	if err != nil {
		return err
	}
	month := s.pol.MonthOf(now)
	iw := issuanceWrite{
		FaceCheckID: in.FaceCheckID, MonthStart: month.Start().UnixMilli(), MonthEnd: month.End().UnixMilli(),
		Limit: s.pol.MonthlyLimit, Cert: c, Pass: p, Actor: "account:" + se.accountID,
	}
	if err := s.db.record(r.Context(), &write{i: &iw}); err != nil {
		return err
	}
	switch iw.Refused {
	case problem.QuotaExhausted:
		return problem.New(problem.QuotaExhausted, "the monthly limit of %d certificates is reached", iw.Limit)
	case problem.FaceCheckUsed:
		return problem.New(problem.FaceCheckUsed, "the face check was used")
	}
	return writeJSON(w, http.StatusCreated, apiv1.Applied{
		Certificate: apiv1.Certificate{
			Channel: "app", City: apiv1.CertificateCity{Code: c.CityCode}, ExpiresAt: c.ExpiresAt,
			Holder: apiv1.Holder{NameMasked: c.NameMasked, IDNumberMasked: c.IDMasked},
			ID:     c.ID, IssuedAt: c.IssuedAt, RenewableAt: c.ExpiresAt.Add(-s.pol.RenewalWindow), Status: "active",
		},
		Pass: &apiv1.Pass{NotBefore: p.NotBefore, NotAfter: p.NotAfter, Pass: base64.RawURLEncoding.EncodeToString(pass), StepSeconds: credential.StepSeconds},
		Quota: apiv1.Quota{
			Month: month.String(), Used: iw.Used, Limit: iw.Limit, Remaining: max(0, iw.Limit-iw.Used), ResetsAt: month.End(),
		},
	})
}

// signPass makes the certificate's first pass for the face check's
// device: the full ID number sealed for railway terminals, one Ed25519
// signature.
func (s *Server) signPass(c certificateRow, nbf time.Time, deviceKey [33]byte, idNumber string) ([]byte, passRow, error) {
	exp := nbf.Add(min(s.pol.PassLifetime, credential.MaxPassLifetime))
	if c.ExpiresAt.Before(exp) {
		exp = c.ExpiresAt
	}
	var certID [16]byte
	hex.Decode(certID[:], []byte(c.ID))
	sealed, err := credential.SealID(s.sealKey, sealKID, certID, idNumber, rand.Reader)
	if err != nil {
		return nil, passRow{}, err
	}
	pass, err := credential.SignPass(credential.Body{
		IssuerKID: s.issuerKID, CertID: certID, CertExpiry: c.ExpiresAt, NotBefore: nbf, NotAfter: exp,
		Purpose: credential.PurposeRailway, NameMasked: c.NameMasked, IDMasked: c.IDMasked, DeviceKey: deviceKey, Sealed: &sealed,
	}, s.issuer)
	if err != nil {
		return nil, passRow{}, err
	}
	h := sha256.Sum256(deviceKey[:])
	return pass, passRow{ID: newID(c.IssuedAt), DeviceKeyHash: h[:], NotBefore: nbf, NotAfter: exp}, nil
}

// write is one request's durable work, handed to the backend's writer.
// Exactly one of v and i is set.
type write struct {
	v    *verificationWrite
	i    *issuanceWrite
	done chan error
}

// writeQueue hands writes to a database's one writer goroutine, which
// closes done when quit is closed and it has stopped.
type writeQueue struct {
	jobs chan *write
	quit chan struct{}
	done chan struct{}
}

func newWriteQueue() writeQueue {
	return writeQueue{jobs: make(chan *write, 1024), quit: make(chan struct{}), done: make(chan struct{})}
}

// record hands w to the writer and waits for its outcome.
func (q writeQueue) record(ctx context.Context, w *write) error {
	w.done = make(chan error, 1)
	select {
	case q.jobs <- w:
	case <-q.quit:
		return errors.New("floor: closed")
	}
	return <-w.done
}

// stop tells the writer to stop and waits until it has.
func (q writeQueue) stop() {
	close(q.quit)
	<-q.done
}

// audit is the write's audit entry, or false for a refused issuance,
// which writes nothing.
func (w *write) audit() (auditEntry, bool) {
	if w.v != nil {
		return w.v.audit(), true
	}
	if w.i.Refused != "" {
		return auditEntry{}, false
	}
	return w.i.audit(), true
}
