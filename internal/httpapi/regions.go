package httpapi

import (
	"math"
	"net/http"
	"strconv"

	"tempid/internal/httpapi/apiv1"
	"tempid/internal/problem"
)

func (s *Server) locate(w http.ResponseWriter, r *http.Request, _ principal) error {
	lat, err1 := strconv.ParseFloat(r.URL.Query().Get("lat"), 64)
	lon, err2 := strconv.ParseFloat(r.URL.Query().Get("lon"), 64)
	// NaN fails every comparison, so the range check alone lets it through.
	if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return problem.New(problem.ValidationFailed, "lat and lon: a WGS-84 position in degrees")
	}
	var out apiv1.Located
	if c, ok := s.Cities.Locate(lat, lon); ok {
		out.City = &apiv1.City{Code: c.Code, Name: c.Name, Province: c.Province}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) cities(w http.ResponseWriter, r *http.Request, _ principal) error {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	all := s.Cities.Cities()
	out := apiv1.Cities{Cities: make([]apiv1.City, len(all))}
	for i, c := range all {
		out.Cities[i] = apiv1.City(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
