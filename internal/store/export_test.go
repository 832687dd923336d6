package store

import "context"

// ExecForTest runs raw SQL, for tests that play an attacker with database
// access.
func ExecForTest(s *Store, q string, args ...any) error {
	_, err := s.w.ExecContext(context.Background(), q, args...)
	return err
}
