package httpapi

import (
	"context"
	"net/http"
	"time"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/issuance"
	"tempid/internal/problem"
	"tempid/internal/store"
)

// certificate renders a certificate with masked data only.
func (s *Server) certificate(c store.Certificate) apiv1.Certificate {
	city := apiv1.CertificateCity{Code: c.CityCode}
	if s.Cities != nil {
		if ct, ok := s.Cities.City(c.CityCode); ok {
			city.Name = ct.Name
		}
	}
	channel := c.Channel
	if channel == "" {
		channel = store.ChannelApp
	}
	return apiv1.Certificate{
		Channel:     channel,
		ID:          c.ID,
		Status:      c.StatusAt(s.Clock.Now()),
		Holder:      apiv1.Holder{NameMasked: c.NameMasked, IDNumberMasked: c.IDMasked},
		City:        city,
		IssuedAt:    c.IssuedAt,
		ExpiresAt:   c.ExpiresAt,
		RenewableAt: s.Issuance.RenewableAt(c),
	}
}

// ownCertificate renders a certificate for the account that applied for
// it: with why it ended, the revocation's reason or its successor, so
// that its history can say so.
func (s *Server) ownCertificate(c store.Certificate) apiv1.Certificate {
	out := s.certificate(c)
	out.RevokeReason, out.SupersededBy = c.RevokeReason, c.SupersededBy
	return out
}

func pass(p *issuance.PassOutput, step time.Duration) apiv1.Pass {
	return apiv1.Pass{Pass: b64url(p.Bytes), NotBefore: p.NotBefore, NotAfter: p.NotAfter, StepSeconds: int(step / time.Second)}
}

func quota(q issuance.Quota) apiv1.Quota { return apiv1.Quota(q) }

func (s *Server) applyCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.ApplyRequest
	body, err := decodeRaw(w, r, &in)
	if err != nil {
		return err
	}
	return s.apply(w, r, "account:"+p.account.ID, body, issuance.Application{
		Actor: p.actor(), AccountID: p.account.ID, SessionID: p.session.ID, FaceCheckID: in.FaceCheckID,
		Name: in.Name, IDNumber: in.IDNumber, CityCode: in.CityCode,
	})
}

// apply issues a certificate for an account's or a guest's application,
// under an Idempotency-Key of the caller's scope when the request has one.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, scope string, body []byte, a issuance.Application) error {
	return s.idempotent(w, r, scope, body, func(ctx context.Context) (any, error) {
		res, err := s.Issuance.Apply(ctx, a)
		if err != nil {
			return nil, err
		}
		if s.Metrics != nil {
			s.Metrics.Issued.Inc()
			if res.Pass != nil {
				s.Metrics.PassesIssued.Inc()
			}
		}
		return res, nil
	}, s.issuedAnswer)
}

// issuedAnswer is the answer to an application that issued a certificate:
// what a retry with the same Idempotency-Key gets again.
func (s *Server) issuedAnswer(result any) (int, any) {
	res := result.(issuance.Result)
	out := apiv1.Applied{Certificate: s.certificate(res.Certificate), Quota: quota(res.Quota)}
	if res.Pass != nil {
		p := pass(res.Pass, s.Policy.StepDuration)
		out.Pass = &p
	}
	return http.StatusCreated, out
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, p principal) error {
	m := s.Policy.MonthOf(s.Clock.Now())
	if v := r.URL.Query().Get("month"); v != "" {
		var err error
		if m, err = s.Policy.ParseMonth(v); err != nil {
			return problem.New(problem.ValidationFailed, "month: YYYY-MM")
		}
	}
	certs, err := s.Issuance.History(r.Context(), p.account.ID, m)
	if err != nil {
		return err
	}
	out := apiv1.Certificates{Month: m.String(), Certificates: make([]apiv1.Certificate, 0, len(certs))}
	for _, c := range certs {
		out.Certificates = append(out.Certificates, s.ownCertificate(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, p principal) error {
	c, err := s.Issuance.CertificateOf(r.Context(), p.account.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.CertificateResponse{Certificate: s.ownCertificate(c)})
	return nil
}

func (s *Server) newPass(w http.ResponseWriter, r *http.Request, p principal) error {
	var in apiv1.PassRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	out, err := s.Issuance.NewPass(r.Context(), issuance.PassRequest{
		Actor: p.actor(), AccountID: p.account.ID, SessionID: p.session.ID,
		CertificateID: r.PathValue("id"), FaceCheckID: in.FaceCheckID,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.PassResponse{Pass: pass(&out, s.Policy.StepDuration)})
	return nil
}

func (s *Server) getQuota(w http.ResponseWriter, r *http.Request, p principal) error {
	q, err := s.Accounts.QuotaOf(r.Context(), p.account, r.URL.Query().Get("id_number"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.QuotaResponse{Quota: quota(q)})
	return nil
}
