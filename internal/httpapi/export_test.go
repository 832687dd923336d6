package httpapi

import "strings"

// Routes lists every endpoint of the route table as method, pattern and
// who may call it, so that tests walking all routes cannot miss a new one.
func Routes() [][3]string {
	var out [][3]string
	for _, e := range (&Server{}).endpoints() {
		method, pattern, _ := strings.Cut(e.pattern, " ")
		out = append(out, [3]string{method, pattern, e.auth.String()})
	}
	return out
}
