// Package offline records the scans that terminals verified without the
// network and uploaded later (API.md, POST /api/v1/terminal/scans). Each
// scan is re-verified by the server as of the time it was made, with the
// same verifier as online verification, recorded as an offline
// verification, and its code claimed as an online verification claims it,
// so that a code used twice is found even when one of the uses, or both,
// happened offline: an after-the-fact replay.
package offline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"tempid/internal/clock"
	"tempid/internal/online"
	"tempid/internal/problem"
	"tempid/internal/store"
	"tempid/internal/verify"
)

// MaxBatch is the most scans one upload may carry.
const MaxBatch = 500

// Client id bounds: a terminal's unique id of a scan.
const (
	MinClientID = 16
	MaxClientID = 64
)

// Statuses of an uploaded scan (API.md).
const (
	StatusStored    = "stored"
	StatusDuplicate = "duplicate"
	StatusRefused   = "refused"
)

// AfterTheFactReplayed marks a stored scan whose code had already been
// used; AfterTheFactUsedElsewhere a stored scan of a slip admitted (a
// valid entry) at two stations within the policy's window (2 h), which is
// never a replay: a slip is static.
const (
	AfterTheFactReplayed      = "replayed"
	AfterTheFactUsedElsewhere = "used_elsewhere"
)

// Scan is one scan as a terminal uploads it.
type Scan struct {
	// ClientID is the terminal's unique id for the scan, 16 to 64
	// characters; it makes the upload idempotent.
	ClientID string `json:"client_id"`
	// Code is the text scanned, as scanned (a code, or garbage).
	Code string `json:"code"`
	// Operation is what the code was presented for.
	Operation string `json:"operation"`
	// Verdict and Reason are what the terminal answered.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	// ScannedAt is when the terminal verified the code.
	ScannedAt time.Time `json:"scanned_at"`
}

// Batch is the body of an upload: scans oldest first.
type Batch struct {
	Scans []Scan `json:"scans"`
}

// Result is what became of one scan.
type Result struct {
	ClientID string `json:"client_id"`
	// Status is StatusStored, StatusDuplicate or StatusRefused.
	Status string `json:"status"`
	// Reason is, for a refused scan, why (validation_failed); for a stored
	// or duplicate scan, the server's own reason when its re-verification
	// found the code invalid at the time of the scan.
	Reason string `json:"reason,omitempty"`
	// AfterTheFact is AfterTheFactReplayed when the code had already been
	// used, AfterTheFactUsedElsewhere when the slip had been admitted at
	// another station within the window.
	AfterTheFact string `json:"after_the_fact,omitempty"`
}

// Answer is the answer to an upload, one result per scan, in order.
type Answer struct {
	Results []Result `json:"results"`
}

// Terminal is the terminal uploading: its id and station, and whether it
// is a fixed gate (where a slip is staffed_lane).
type Terminal struct {
	ID          string
	StationCode string
	Gate        bool
}

// Service records uploaded scans.
type Service struct {
	Verifications *online.Service
	Store         *store.Store
	Clock         clock.Clock
}

// reasons a terminal may give for an invalid verdict: every reason of
// CREDENTIAL.md an offline verifier can give, and replayed, for a terminal
// that remembers the codes it accepted.
var reasons = map[string]bool{
	string(verify.ReasonMalformed): true, string(verify.ReasonStaleBundle): true,
	string(verify.ReasonUnknownKey): true, string(verify.ReasonBadSignature): true,
	string(verify.ReasonWrongPurpose): true, string(verify.ReasonBadDeviceSignature): true,
	string(verify.ReasonRevoked): true, string(verify.ReasonDeviceRevoked): true,
	string(verify.ReasonCertificateExpired): true, string(verify.ReasonPassExpired): true,
	string(verify.ReasonNotYetValid): true, string(verify.ReasonCodeExpired): true,
	string(verify.ReasonReplayed): true,
	// A slip at a fixed gate (CREDENTIAL.md, "Paper certificate").
	string(verify.ReasonStaffedLane): true,
}

// check validates one scan; the error says which member is wrong.
func check(sc Scan, now time.Time, skew time.Duration) error {
	if n := len(sc.ClientID); n < MinClientID || n > MaxClientID || !printable(sc.ClientID) {
		return fmt.Errorf("client_id: %d to %d printable ASCII characters", MinClientID, MaxClientID)
	}
	if !validOperation(sc.Operation) {
		return fmt.Errorf("operation: one of %s", strings.Join(online.Operations(), ", "))
	}
	switch {
	case sc.Verdict == store.VerdictValid && sc.Reason != "":
		return fmt.Errorf("reason: none for a valid verdict")
	case sc.Verdict == store.VerdictInvalid && !reasons[sc.Reason]:
		return fmt.Errorf("reason: an offline verifier's reason of CREDENTIAL.md")
	case sc.Verdict != store.VerdictValid && sc.Verdict != store.VerdictInvalid:
		return fmt.Errorf("verdict: valid or invalid")
	}
	if sc.ScannedAt.IsZero() || sc.ScannedAt.After(now.Add(skew)) {
		return fmt.Errorf("scanned_at: a time not in the future")
	}
	return nil
}

func validOperation(op string) bool {
	for _, o := range online.Operations() {
		if o == op {
			return true
		}
	}
	return false
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Record re-verifies and records a terminal's batch. A batch of more than
// MaxBatch scans is refused whole (validation_failed); a scan that breaks
// the rules is refused alone, so that one bad scan does not hold back the
// rest of a terminal's log. It returns one result per scan, in order.
func (s *Service) Record(ctx context.Context, tm Terminal, b Batch) (Answer, error) {
	if len(b.Scans) > MaxBatch {
		return Answer{}, problem.New(problem.ValidationFailed, "scans: at most %d a batch", MaxBatch)
	}
	now := s.Clock.Now()
	skew := s.Verifications.Verifier.Skew
	if skew <= 0 {
		skew = verify.DefaultSkew
	}
	actor := store.TerminalActor(tm.ID)
	results := make([]Result, len(b.Scans))
	var todo []store.OfflineScan
	var index []int // the result of each of todo
	for i, sc := range b.Scans {
		results[i] = Result{ClientID: sc.ClientID}
		if err := check(sc, now, skew); err != nil {
			results[i].Status, results[i].Reason = StatusRefused, string(problem.ValidationFailed)
			continue
		}
		at := sc.ScannedAt.UTC()
		slip := online.KindOf(sc.Code) == online.KindSlip
		var res online.Result
		var rec store.Verification
		var err error
		if slip {
			res, rec, err = s.Verifications.CheckSlipAt(ctx, sc.Code, at, tm.Gate)
		} else {
			res, rec, err = s.Verifications.CheckAt(ctx, sc.Code, at)
		}
		if err != nil {
			return Answer{}, err
		}
		rec.ID, rec.Operation, rec.Verifier, rec.StationCode, rec.At = store.NewVerificationID(at), sc.Operation, string(actor), tm.StationCode, at
		serverVerdict, serverReason := rec.Verdict, rec.Reason
		rec.Verdict, rec.Reason = sc.Verdict, sc.Reason
		used := sc.Verdict == store.VerdictValid && res.Valid
		todo = append(todo, store.OfflineScan{
			ClientID: sc.ClientID, Verification: rec, ServerVerdict: serverVerdict, ServerReason: serverReason,
			Claim: used && !slip, Slip: slip, Admitted: slip && used && sc.Operation == online.Entry,
			ElsewhereWindow: s.Verifications.SlipWindow(),
		})
		index = append(index, i)
	}
	if len(todo) == 0 {
		return Answer{Results: results}, nil
	}
	outcomes, err := s.Store.RecordOfflineScans(ctx, actor, tm.ID, todo, now)
	if err != nil {
		return Answer{}, err
	}
	for j, o := range outcomes {
		r := &results[index[j]]
		r.Status = StatusStored
		if o.Duplicate {
			r.Status = StatusDuplicate
		}
		if o.ServerVerdict != store.VerdictValid {
			r.Reason = o.ServerReason
		}
		switch {
		case o.Replay:
			r.AfterTheFact = AfterTheFactReplayed
		case o.UsedElsewhere:
			r.AfterTheFact = AfterTheFactUsedElsewhere
		}
	}
	return Answer{Results: results}, nil
}
