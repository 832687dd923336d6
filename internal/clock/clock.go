// Package clock gives tempid's domain code its notion of "now", so that the
// 24-hour validity, 60-second steps, 30-minute passes, month boundaries and
// key rotation can be tested at any instant without waiting.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time. Domain code takes a Clock instead of
// calling time.Now.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns the system time.
func (Real) Now() time.Time { return time.Now() }

// Manual is a clock that only moves when told to; tests use it.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

var (
	_ Clock = Real{}
	_ Clock = (*Manual)(nil)
)

// NewManual returns a clock stopped at t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
}
