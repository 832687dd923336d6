package httpapi

import (
	"net/http"

	"tempid/internal/problem"
)

// handlerFunc is an endpoint: it answers, or returns the error to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// endpoint is one route of the API: its pattern, who may call it and its
// handler.
type endpoint struct {
	pattern string
	auth    auth
	handle  handlerFunc
}

// endpoints is every route of the API, in one table, in the order of
// API.md. The handlers are filed by resource: session.go, accounts.go,
// regions.go, facechecks.go, certificates.go, guest.go, owndata.go, verifications.go,
// admin.go and health.go.
func (s *Server) endpoints() []endpoint {
	return []endpoint{
		// Passenger.
		{"POST /api/v1/accounts", public, s.signUp},
		{"POST /api/v1/session", public, s.login},
		{"GET /api/v1/session", passenger, s.getSession},
		{"DELETE /api/v1/session", passenger, s.logout},
		{"GET /api/v1/regions/locate", public, s.locate},
		{"GET /api/v1/regions/cities", public, s.cities},
		{"POST /api/v1/face-checks", passenger, s.startFaceCheck},
		{"POST /api/v1/face-checks/{id}/capture", passenger, s.captureFaceCheck},
		{"POST /api/v1/face-checks/{id}/complete", passenger, s.completeFaceCheck},
		{"POST /api/v1/certificates", passenger, s.applyCertificate},
		{"GET /api/v1/certificates", passenger, s.listCertificates},
		{"GET /api/v1/certificates/{id}", passenger, s.getCertificate},
		{"POST /api/v1/certificates/{id}/passes", passenger, s.withKeys(s.newPass)},
		{"GET /api/v1/quota", passenger, s.getQuota},

		// Manual window, kiosk and slips.
		{"POST /api/v1/slips/lookup", officer, s.slipLookup},
		{"POST /api/v1/slips", officer, s.withKeys(s.issueSlip)},
		{"GET /api/v1/slips/{certificate_id}", staffOrTerminal, s.reprintSlip},
		{"POST /api/v1/kiosk/face-checks", kiosk, s.startKioskFaceCheck},
		{"POST /api/v1/kiosk/face-checks/{id}/capture", kiosk, s.captureKioskFaceCheck},
		{"POST /api/v1/kiosk/slips", kiosk, s.withKeys(s.issueKioskSlip)},

		// Guests (no account).
		{"POST /api/v1/guest/face-checks", guest, s.startGuestFaceCheck},
		{"POST /api/v1/guest/face-checks/{id}/capture", guest, s.captureFaceCheck},
		{"POST /api/v1/guest/face-checks/{id}/complete", guest, s.completeFaceCheck},
		{"POST /api/v1/guest/certificates", guest, s.applyGuestCertificate},
		{"POST /api/v1/guest/passes", guest, s.withKeys(s.newGuestPass)},
		{"POST /api/v1/guest/certificate-status", guest, s.withKeys(s.guestCertificateStatus)},

		// A passenger's own data.
		{"GET /api/v1/travellers", passenger, s.listTravellers},
		{"POST /api/v1/travellers", passenger, s.addTraveller},
		{"GET /api/v1/travellers/{id}", passenger, s.getTraveller},
		{"DELETE /api/v1/travellers/{id}", passenger, s.removeTraveller},
		{"GET /api/v1/me/data", passenger, s.getOwnData},
		{"POST /api/v1/me/consents/face/withdraw", passenger, s.withdrawFaceConsent},
		{"DELETE /api/v1/accounts/me", passenger, s.deleteOwnAccount},

		// Staff and terminals.
		{"GET /api/v1/verifier", staffOrTerminal, s.getVerifier},
		{"POST /api/v1/verifications", staffOrTerminal, s.withKeys(s.verifyCode)},
		{"GET /api/v1/trust-bundle", staffOrTerminal, s.withKeys(s.trustBundle)},
		{"GET /.well-known/tempid/keys", public, s.withKeys(s.wellKnownKeys)},
		{"POST /api/v1/terminal/scans", staffOrTerminal, s.withKeys(s.uploadScans)},

		// Admin.
		{"GET /api/v1/admin/certificates", admin, s.searchCertificates},
		{"POST /api/v1/admin/certificates/{id}/revoke", admin, s.revokeCertificate},
		{"GET /api/v1/admin/audit", admin, s.listAudit},
		{"GET /api/v1/admin/audit/verify", admin, s.verifyAudit},
		{"GET /api/v1/admin/stats", admin, s.stats},
		{"GET /api/v1/admin/replays", admin, s.listReplays},
		{"POST /api/v1/admin/keys/rotate", admin, s.rotateKeys},
		{"POST /api/v1/admin/terminals", admin, s.createTerminal},
		{"GET /api/v1/admin/terminals", admin, s.listTerminals},
		{"PATCH /api/v1/admin/terminals/{id}", admin, s.updateTerminal},
		{"POST /api/v1/admin/terminals/{id}/revoke", admin, s.revokeTerminal},
		{"POST /api/v1/admin/staff", admin, s.createStaff},
		{"GET /api/v1/admin/staff", admin, s.listStaff},
		{"PATCH /api/v1/admin/staff/{id}", admin, s.updateStaff},

		// Operations.
		{"GET /healthz", public, s.healthz},
		{"GET /readyz", public, s.readyz},
		{"GET /api/v1/about", public, s.about},
	}
}

// routes registers the endpoints, the metrics when they are kept, the
// other parts of the service (Extra) and a problem for any other /api/
// path.
func (s *Server) routes(mux *http.ServeMux) {
	for _, e := range s.endpoints() {
		s.route(mux, e.pattern, e.auth, e.handle)
	}
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics.Handler())
		for _, c := range storageCauses {
			s.Metrics.StorageErrors.WithLabelValues(c)
		}
	}
	for _, register := range s.Extra {
		register(mux)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, problem.New(problem.NotFound, "no such endpoint"))
	})
}

// withKeys refuses with 503 while the credential is not configured (a
// server built without keys, as some tests and tools do), rather than
// failing with a nil pointer.
func (s *Server) withKeys(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) error {
		if s.Signing == nil || s.Verifications == nil || s.Issuance == nil || s.Issuance.Passes == nil {
			return problem.New(problem.Unavailable, "the credential keys are not configured on this server")
		}
		return h(w, r, p)
	}
}

// route registers a handler with its authentication.
func (s *Server) route(mux *http.ServeMux, pattern string, a auth, h handlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r, a)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}
