// Package webui serves tempid's three web apps — the passenger app (/),
// the staff console (/staff) and the admin console (/admin) — from the
// files that `make web` builds into dist/ and the binary embeds.
//
// A plain `go build` without the web build still compiles: dist/ then holds
// only its README, and every page answers a short HTML page saying how to
// build the apps.
package webui

import (
	"bytes"
	"embed"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed all:dist
var embedded embed.FS

// Handler returns the web apps. With dir == "" it serves the files embedded
// in the binary; otherwise it serves dir from disk (development: rebuild
// with `npm run watch` and reload, no restart). Mount it on "/" after the
// API routes; it answers GET and HEAD only.
func Handler(dir string) http.Handler {
	if dir != "" {
		return New(os.DirFS(dir))
	}
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		// fs.Sub fails only for an invalid path name, which "dist" is not.
		panic(err)
	}
	return New(sub)
}

// New returns the web apps served from fsys, which holds what the web
// build writes (index.html, staff.html, admin.html, assets/...).
func New(fsys fs.FS) http.Handler {
	return &handler{fsys: fsys}
}

type handler struct {
	fsys fs.FS
}

// pages maps each app's paths to its HTML file.
var pages = map[string]string{
	"/":           "index.html",
	"/index.html": "index.html",
	// The page a hosted face provider sends the passenger back to.
	"/face-return": "index.html",
	"/staff":       "staff.html",
	"/staff/":      "staff.html",
	"/admin":       "admin.html",
	"/admin/":      "admin.html",
	"/terminal":    "terminal.html",
	"/terminal/":   "terminal.html",
	"/kiosk":       "kiosk.html",
	"/kiosk/":      "kiosk.html",
}

// hashed matches the content-hashed names esbuild gives bundles
// (passenger-KOJ6YJQS.js, chunk-ABCD1234.js): such a name never changes
// content, so it may be cached for a year.
var hashed = regexp.MustCompile(`-[A-Z0-9]{8}\.[a-z0-9]+$`)

// rootFiles are the files besides the pages that are served from the top,
// with their Cache-Control. The service worker must be revalidated, or a
// browser would keep an old one for a day.
var rootFiles = map[string]string{
	"/favicon.svg": "public, max-age=86400",
	"/sw.js":       "no-cache",
	// The terminal's service worker, registered with the scope /terminal.
	"/terminal-sw.js": "no-cache",
	// The terminal's web app manifest, which makes it installable.
	"/terminal.webmanifest": "no-cache",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if page, ok := pages[p]; ok {
		if !h.built() {
			notBuilt(w)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		h.serveFile(w, r, page)
		return
	}
	if strings.HasPrefix(p, "/assets/") {
		name := path.Clean(p[1:])
		if !strings.HasPrefix(name, "assets/") || !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		if hashed.MatchString(name) {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		h.serveFile(w, r, name)
		return
	}
	if cache, ok := rootFiles[p]; ok {
		w.Header().Set("Cache-Control", cache)
		if strings.HasSuffix(p, ".webmanifest") {
			w.Header().Set("Content-Type", "application/manifest+json")
		}
		h.serveFile(w, r, p[1:])
		return
	}
	http.NotFound(w, r)
}

// built reports whether fsys holds a built app rather than the placeholder.
// It is asked on every page load so that a development directory can be
// built while the server runs.
func (h *handler) built() bool {
	_, err := fs.Stat(h.fsys, "index.html")
	return err == nil
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, err := h.fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.Header().Del("Cache-Control")
			http.NotFound(w, r)
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		w.Header().Del("Cache-Control")
		http.NotFound(w, r)
		return
	}
	// Read the whole file first, so a read error never sends half a body;
	// the largest bundle is a few hundred kilobytes.
	b, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// Embedded files have no modification time; a zero time makes
	// ServeContent skip Last-Modified rather than send 1970.
	var mod time.Time
	if !st.ModTime().IsZero() && st.ModTime().Unix() > 0 {
		mod = st.ModTime()
	}
	http.ServeContent(w, r, name, mod, bytes.NewReader(b))
}

const notBuiltPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tempid: web apps not built</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.6;color:#1a2233}code{background:#eef2f7;padding:.1em .4em;border-radius:4px}</style>
</head>
<body>
<h1>The web apps are not built</h1>
<p>This tempid binary was compiled without its web apps (the passenger app, the staff console and the admin console).</p>
<p>Run <code>make web</code> to build them (or <code>make run</code> to build and start the server), then build the binary again.
The API under <code>/api/v1/</code> works without them.</p>
<p lang="zh-CN">网页应用尚未构建。请运行 <code>make web</code>（或 <code>make run</code>）构建后重新编译。</p>
</body>
</html>
`

// notBuilt answers a page request when dist/ holds no built app.
func notBuilt(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, notBuiltPage)
}
