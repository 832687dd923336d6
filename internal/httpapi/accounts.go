package httpapi

import (
	"net/http"

	"tempid/internal/accounts"
	"tempid/internal/httpapi/apiv1"
	"tempid/internal/store"
)

// account is an account as the API shows it; withIdentity adds a
// passenger's own full name and ID number, to pre-fill applications.
func (s *Server) account(a store.Account, withIdentity bool) apiv1.Account {
	out := apiv1.Account{ID: a.ID, Username: a.Username, Role: a.Role, CreatedAt: a.CreatedAt, StationCode: a.StationCode}
	if a.Role != store.RolePassenger {
		out.DisabledAt = a.DisabledAt
	}
	if a.Role == store.RolePassenger {
		out.NameMasked, out.IDNumberMasked = a.NameMasked, a.IDMasked
		if withIdentity {
			if name, id, err := s.Accounts.Identity(a); err == nil {
				out.Name, out.IDNumber = name, id
			}
		}
	}
	return out
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in apiv1.SignUpRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.Accounts.SignUp(r.Context(), accounts.SignUp{Username: in.Username, Password: in.Password, Name: in.Name, IDNumber: in.IDNumber, Phone: in.Phone})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.AccountResponse{Account: s.account(a, false)})
	return nil
}
