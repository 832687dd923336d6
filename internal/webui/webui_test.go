package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestBuiltAppsAreServed(t *testing.T) {
	h := New(fstest.MapFS{
		"README":                        {Data: []byte("placeholder")},
		"index.html":                    {Data: []byte("<title>passenger</title>")},
		"staff.html":                    {Data: []byte("<title>staff</title>")},
		"admin.html":                    {Data: []byte("<title>admin</title>")},
		"favicon.svg":                   {Data: []byte("<svg/>")},
		"sw.js":                         {Data: []byte("self.addEventListener")},
		"assets/passenger-KOJ6YJQS.js":  {Data: []byte("console.log(1)")},
		"assets/passenger-6IVORFHL.css": {Data: []byte("body{}")},
		"assets/plain.js":               {Data: []byte("x")},
	})
	tests := []struct {
		name, method, path string
		status             int
		body, ctype, cache string
	}{
		{"the root serves the passenger app", "GET", "/", 200, "passenger", "text/html", "no-cache"},
		{"index.html serves the passenger app", "GET", "/index.html", 200, "passenger", "text/html", "no-cache"},
		{"the hosted face check's return serves the passenger app", "GET", "/face-return?face_check=x", 200, "passenger", "text/html", "no-cache"},
		{"/staff serves the staff console", "GET", "/staff", 200, "staff", "text/html", "no-cache"},
		{"/staff/ serves the staff console", "GET", "/staff/", 200, "staff", "text/html", "no-cache"},
		{"/admin serves the admin console", "GET", "/admin", 200, "admin", "text/html", "no-cache"},
		{"/admin/ serves the admin console", "GET", "/admin/", 200, "admin", "text/html", "no-cache"},
		{"a hashed script is cached for a year", "GET", "/assets/passenger-KOJ6YJQS.js", 200, "console.log", "text/javascript", "public, max-age=31536000, immutable"},
		{"a hashed stylesheet is cached for a year", "GET", "/assets/passenger-6IVORFHL.css", 200, "body", "text/css", "public, max-age=31536000, immutable"},
		{"an unhashed asset is revalidated", "GET", "/assets/plain.js", 200, "x", "text/javascript", "no-cache"},
		{"the favicon is served", "GET", "/favicon.svg", 200, "<svg", "image/svg+xml", "public, max-age=86400"},
		{"the service worker is revalidated", "GET", "/sw.js", 200, "self.addEventListener", "text/javascript", "no-cache"},
		{"HEAD answers like GET", "HEAD", "/staff", 200, "", "text/html", "no-cache"},
		{"a missing asset is 404", "GET", "/assets/nope-AAAAAAAA.js", 404, "", "", ""},
		{"the placeholder is not served", "GET", "/README", 404, "", "", ""},
		{"a path outside the apps is 404", "GET", "/other", 404, "", "", ""},
		{"an escaping asset path is 404", "GET", "/assets/../admin.html", 404, "", "", ""},
		{"a POST is refused", "POST", "/", 405, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.path)
			if got, want := rec.Code, tt.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got := rec.Body.String(); !strings.Contains(got, tt.body) {
				t.Errorf("body = %q, want it to contain %q", got, tt.body)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.ctype) {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if got, want := rec.Header().Get("Cache-Control"), tt.cache; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
		})
	}
}

func TestUnbuiltAppsAnswerHowToBuild(t *testing.T) {
	h := New(fstest.MapFS{"README": {Data: []byte("filled by make web")}})
	for _, path := range []string{"/", "/staff", "/staff/", "/admin", "/admin/"} {
		t.Run(path, func(t *testing.T) {
			rec := get(t, h, "GET", path)
			if got, want := rec.Code, http.StatusServiceUnavailable; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", got)
			}
			body := rec.Body.String()
			for _, want := range []string{"not built", "make web", "make run"} {
				if !strings.Contains(body, want) {
					t.Errorf("body does not say %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, "<script") {
				t.Error("the page has a script; the CSP forbids inline scripts")
			}
		})
	}
}

func TestEmbeddedHandlerServesSomething(t *testing.T) {
	// Whether or not the web build ran, the embedded handler answers the
	// passenger page with either the app or the how-to-build page.
	rec := get(t, Handler(""), "GET", "/")
	if rec.Code != http.StatusOK && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 200 or 503", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", got)
	}
}
