package policy

import (
	"testing"
	"time"
)

func TestDefaultsAreTheSpecificationsNumbers(t *testing.T) {
	s := Default()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"three certificates a month", s.MonthlyLimit, 3},
		{"valid 24 hours", s.CertificateValidity, 24 * time.Hour},
		{"code changes every 60 seconds", s.StepDuration, 60 * time.Second},
		{"face re-check every 30 minutes", s.PassLifetime, 30 * time.Minute},
		{"renewal opens 3 hours before expiry", s.RenewalWindow, 3 * time.Hour},
		{"months in China Standard Time", s.Location.String(), "Asia/Shanghai"},
		{"delay after 5 face failures", s.FaceFailureDelayAfter, 5},
		{"delay of at least 30 seconds", s.FaceFailureDelay, 30 * time.Second},
		{"lock after 50 face failures", s.FaceFailureLockAfter, 50},
		{"lock for 24 hours", s.FaceFailureLockWindow, 24 * time.Hour},
		{"face check usable for 5 minutes", s.FaceCheckUseWindow, 5 * time.Minute},
		{"sessions last 12 hours", s.SessionLifetime, 12 * time.Hour},
		{"skew of 30 seconds", s.VerificationSkew, 30 * time.Second},
		{"bundle fresh for 24 hours", s.BundleFreshness, 24 * time.Hour},
		{"two kiosk slips a day", s.KioskSlipsPerDay, 2},
		{"window slips not capped", s.WindowSlipsPerDay, 0},
		{"used elsewhere within 2 hours", s.SlipUsedElsewhereWindow, 2 * time.Hour},
		{"the last 10 uses of a slip", s.SlipUsesListed, 10},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestMonthsTurnAtMidnightInShanghai(t *testing.T) {
	s := Default()
	cst := time.FixedZone("UTC+8", 8*3600)
	for _, c := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"last second of January", time.Date(2026, 1, 31, 23, 59, 59, 0, cst), "2026-01"},
		{"first second of February", time.Date(2026, 2, 1, 0, 0, 0, 0, cst), "2026-02"},
		{"16:00 UTC on the last day is already the next month", time.Date(2026, 1, 31, 16, 0, 0, 0, time.UTC), "2026-02"},
		{"15:59:59 UTC on the last day is still this month", time.Date(2026, 1, 31, 15, 59, 59, 0, time.UTC), "2026-01"},
		{"new year", time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "2027-01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := s.MonthOf(c.at).String(); got != c.want {
				t.Errorf("MonthOf(%v) = %s, want %s", c.at, got, c.want)
			}
		})
	}
	m := s.MonthOf(time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC))
	if got, want := m.End(), time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("December ends at %v, want %v", got, want)
	}
	if got, want := m.Start(), time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("December starts at %v, want %v", got, want)
	}
}

func TestParseMonth(t *testing.T) {
	s := Default()
	m, err := s.ParseMonth("2026-02")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "2026-02"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range []string{"", "2026-13", "2026-2", "26-02", "2026-02-01"} {
		if _, err := s.ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
}

func TestDaysTurnAtMidnightInShanghai(t *testing.T) {
	s := Default()
	// 2026-03-01 15:59:59 UTC is 23:59:59 in Shanghai; a second later the
	// next day has begun.
	start, end := s.DayOf(time.Date(2026, 3, 1, 15, 59, 59, 0, time.UTC))
	if want := time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC); !start.Equal(want) || !end.Equal(want.Add(24*time.Hour)) {
		t.Errorf("day [%v, %v), want from %v", start, end, want)
	}
	start, _ = s.DayOf(time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Errorf("day starts %v, want %v", start, want)
	}
}
