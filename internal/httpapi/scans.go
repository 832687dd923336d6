package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tempid/internal/offline"
	"tempid/internal/problem"
	"tempid/internal/store"
)

// bundleEpoch is the grain of a trust bundle's issued_at. Within one epoch
// and with the same revocations and keys the server signs the same bytes
// (Ed25519 is deterministic), on every node, so that a terminal polling
// often is answered 304 Not Modified until something changed or the epoch
// ends. A bundle thus looks up to one epoch older than it is, which only
// makes it stale sooner.
const bundleEpoch = 10 * time.Minute

// maxReplays bounds the after-the-fact replays listed at once.
const maxReplays = 500

// writeBundle answers a trust bundle request with raw, or with 304 Not
// Modified when the terminal already holds these very bytes (If-None-Match).
func writeBundle(w http.ResponseWriter, r *http.Request, raw []byte) {
	sum := sha256.Sum256(raw)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
}

// etagMatches is If-None-Match's weak comparison (RFC 9110, 13.1.2): any
// listed tag, with or without W/, or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// uploadScans records a terminal's offline scans. Only terminals with the
// offline grant verify offline, so only they upload.
func (s *Server) uploadScans(w http.ResponseWriter, r *http.Request, p principal) error {
	if p.terminal == nil || !p.terminal.Offline {
		return problem.New(problem.Forbidden, "scans are uploaded by terminals granted offline verification")
	}
	var in struct {
		Scans *[]offline.Scan `json:"scans"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Scans == nil {
		return problem.New(problem.ValidationFailed, "scans: required")
	}
	svc := offline.Service{Verifications: s.Verifications, Store: s.Store, Clock: s.Clock}
	out, err := svc.Record(r.Context(), offline.Terminal{ID: p.terminal.ID, StationCode: p.terminal.StationCode, Gate: p.terminal.Kind == store.TerminalGate}, offline.Batch{Scans: *in.Scans})
	if err != nil {
		return err
	}
	if out.Results == nil {
		out.Results = []offline.Result{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// replayJSON is one after-the-fact replay in the admin list.
type replayJSON struct {
	VerificationID string         `json:"verification_id"`
	At             time.Time      `json:"at"`
	RecordedAt     *time.Time     `json:"recorded_at,omitempty"`
	StationCode    string         `json:"station_code"`
	Terminal       replayTerminal `json:"terminal"`
	Operation      string         `json:"operation"`
	Step           int64          `json:"step"`
	Certificate    replayCertJSON `json:"certificate"`
}

type replayTerminal struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type replayCertJSON struct {
	ID     string        `json:"id"`
	Status string        `json:"status,omitempty"`
	Holder *replayHolder `json:"holder,omitempty"`
}

type replayHolder struct {
	NameMasked     string `json:"name_masked"`
	IDNumberMasked string `json:"id_number_masked"`
}

// listReplays lists after-the-fact replays: offline scans of codes that had
// already been used, found when the scans were uploaded.
func (s *Server) listReplays(w http.ResponseWriter, r *http.Request, p principal) error {
	from, to, err := s.timeRange(r, 7*24*time.Hour)
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxReplays {
			return problem.New(problem.ValidationFailed, "limit: 1 to %d", maxReplays)
		}
		limit = n
	}
	list, err := s.Store.AfterTheFactReplays(r.Context(), from, to, limit)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	out := make([]replayJSON, 0, len(list))
	for _, x := range list {
		j := replayJSON{
			VerificationID: x.VerificationID, At: x.At, StationCode: x.StationCode,
			Terminal: replayTerminal{ID: x.TerminalID, Name: x.TerminalName}, Operation: x.Operation, Step: x.Step,
			Certificate: replayCertJSON{ID: x.CertificateID},
		}
		if !x.RecordedAt.IsZero() {
			j.RecordedAt = &x.RecordedAt
		}
		if c := x.Certificate; c.ID != "" {
			j.Certificate.Status = c.StatusAt(now)
			j.Certificate.Holder = &replayHolder{NameMasked: c.NameMasked, IDNumberMasked: c.IDMasked}
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"replays": out})
	return nil
}
