package store

import "testing"

func TestAPostgresDSNGetsATimeoutAndSeveralHostsGetThePrimary(t *testing.T) {
	for _, tc := range []struct{ name, dsn, want string }{
		{"one host gets a connect timeout",
			"postgres://u@h1:5432/tempid", "postgres://u@h1:5432/tempid?connect_timeout=5"},
		{"several hosts also get target_session_attrs=read-write",
			"postgres://u@h1:5432,h2:5433/tempid?sslmode=disable",
			"postgres://u@h1:5432,h2:5433/tempid?sslmode=disable&connect_timeout=5&target_session_attrs=read-write"},
		{"what the DSN says is kept",
			"postgresql://h1,h2/tempid?target_session_attrs=any&connect_timeout=1",
			"postgresql://h1,h2/tempid?target_session_attrs=any&connect_timeout=1"},
		{"a password with a comma is not a second host",
			"postgres://u:a,b@h1/tempid?connect_timeout=2", "postgres://u:a,b@h1/tempid?connect_timeout=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withDefaults(tc.dsn); got != tc.want {
				t.Errorf("withDefaults(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
		})
	}
}
