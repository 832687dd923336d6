// Package policy holds the numbers of tempid's rules R1–R6 and the other
// limits of the service as one settings struct, with the defaults the
// specification gives. Tests pin these defaults; operators may change them.
package policy

import (
	"fmt"
	"time"
	_ "time/tzdata" // months are counted in Asia/Shanghai even where the host has no zoneinfo
)

// Settings are the rules' numbers. The zero value is not useful: start from
// Default.
type Settings struct {
	// MonthlyLimit is how many certificates one person (ID number) may be
	// issued per calendar month in Location (R2).
	MonthlyLimit int
	// CertificateValidity is how long a certificate is valid from issuance (R2).
	CertificateValidity time.Duration
	// StepDuration is how often the QR code changes (R3).
	StepDuration time.Duration
	// PassLifetime is how long one face check authorises showing codes (R3).
	PassLifetime time.Duration
	// RenewalWindow is how long before expiry a new certificate may be
	// applied for while one is active (R5).
	RenewalWindow time.Duration
	// Location is where months begin and end (China Standard Time).
	Location *time.Location

	// FaceCheckPendingTTL is how long a started face check waits for its capture.
	FaceCheckPendingTTL time.Duration
	// FaceCheckUseWindow is how long a passed face check may be used, once.
	FaceCheckUseWindow time.Duration
	// FaceFailureDelayAfter consecutive failures for one subject impose a
	// delay of FaceFailureDelay, doubling with each further failure.
	FaceFailureDelayAfter int
	FaceFailureDelay      time.Duration
	// FaceFailureLockAfter failures in FaceFailureLockWindow lock the
	// subject's face checks for FaceFailureLockWindow.
	FaceFailureLockAfter  int
	FaceFailureLockWindow time.Duration

	// Failed logins within LoginWindow refuse further logins until the
	// oldest leaves the window: LoginFailuresPerAccountIP for one account
	// from one address, LoginFailuresPerAccount for one account from all
	// addresses together (higher, so that guesses from one address cannot
	// lock the account's owner out elsewhere; at most 100, NIST SP 800-63B
	// §5.2.2), LoginFailuresPerIP for one address over all accounts.
	LoginFailuresPerAccountIP int
	LoginFailuresPerAccount   int
	LoginFailuresPerIP        int
	LoginWindow               time.Duration
	// GuestFaceChecksPerIP and GuestFaceChecksPerSubject within
	// GuestWindow bound the face checks guests may start from one IP
	// address and for one person (SPEC "Guest"): every start counts,
	// refused or not, so that trying names and ID numbers costs the same
	// as trying faces. A station's Wi-Fi puts many passengers behind one
	// address, so the IP limit is the looser one.
	GuestFaceChecksPerIP      int
	GuestFaceChecksPerSubject int
	GuestWindow               time.Duration
	// SessionLifetime is the absolute lifetime of a login session.
	SessionLifetime time.Duration

	// VerificationSkew is the clock difference tolerated between phone,
	// server and gate.
	VerificationSkew time.Duration
	// BundleFreshness is how old a terminal's trust bundle may be before
	// offline verification answers "stale".
	BundleFreshness time.Duration
	// Retention is how long certificate records keep personal data.
	Retention time.Duration

	// KioskSlipsPerDay and WindowSlipsPerDay cap the slips one person may
	// be issued per day in Location through each channel; zero or less is
	// no cap (SPEC: ways in without the app).
	KioskSlipsPerDay  int
	WindowSlipsPerDay int
	// SlipUsedElsewhereWindow: a slip admitted (a valid entry) at two
	// stations within it is flagged used_elsewhere.
	SlipUsedElsewhereWindow time.Duration
	// SlipUsesListed is how many recent uses a slip's verification lists.
	SlipUsesListed int
}

// Default returns the settings of the specification.
func Default() Settings {
	return Settings{
		MonthlyLimit:        3,
		CertificateValidity: 24 * time.Hour,
		StepDuration:        60 * time.Second,
		PassLifetime:        30 * time.Minute,
		RenewalWindow:       3 * time.Hour,
		Location:            shanghai,

		FaceCheckPendingTTL:   10 * time.Minute,
		FaceCheckUseWindow:    5 * time.Minute,
		FaceFailureDelayAfter: 5,
		FaceFailureDelay:      30 * time.Second,
		FaceFailureLockAfter:  50,
		FaceFailureLockWindow: 24 * time.Hour,

		LoginFailuresPerAccountIP: 10,
		LoginFailuresPerAccount:   100,
		LoginFailuresPerIP:        100,
		LoginWindow:               15 * time.Minute,
		SessionLifetime:           12 * time.Hour,

		GuestFaceChecksPerIP:      60,
		GuestFaceChecksPerSubject: 10,
		GuestWindow:               15 * time.Minute,

		VerificationSkew: 30 * time.Second,
		BundleFreshness:  24 * time.Hour,
		Retention:        365 * 24 * time.Hour,

		KioskSlipsPerDay:        2,
		WindowSlipsPerDay:       0,
		SlipUsedElsewhereWindow: 2 * time.Hour,
		SlipUsesListed:          10,
	}
}

var shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		// time/tzdata is linked in, so this cannot fail at run time.
		panic(fmt.Sprintf("policy: load %s: %v", name, err))
	}
	return loc
}

// Month is a calendar month in the policy's location.
type Month struct {
	Year  int
	Month time.Month
	loc   *time.Location
}

// MonthOf returns the month that contains t, in the policy's location.
func (s Settings) MonthOf(t time.Time) Month {
	lt := t.In(s.Location)
	return Month{Year: lt.Year(), Month: lt.Month(), loc: s.Location}
}

// ParseMonth reads "YYYY-MM".
func (s Settings) ParseMonth(v string) (Month, error) {
	t, err := time.ParseInLocation("2006-01", v, s.Location)
	if err != nil {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM", v)
	}
	return s.MonthOf(t), nil
}

// Start is the first instant of the month.
func (m Month) Start() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, m.loc) }

// End is the first instant of the next month, when the quota resets.
func (m Month) End() time.Time { return time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, m.loc) }

// String formats the month as YYYY-MM.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// DayOf returns the start of the day that contains t in the policy's
// location and the start of the next, when a daily slip cap resets.
func (s Settings) DayOf(t time.Time) (start, end time.Time) {
	lt := t.In(s.Location)
	start = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, s.Location)
	return start, time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, s.Location)
}
