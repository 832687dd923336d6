package store_test

import (
	"context"
	"testing"

	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// openBefore opens a fresh database of backend migrated only up to
// version (store.OpenAtForTest), for a migration test to write rows as
// the schema then was. upgrade closes that store and opens the database
// with every migration, as the next release would; the upgraded store is
// closed when the test ends.
func openBefore(t *testing.T, backend, version string) (old *store.Store, upgrade func() *store.Store) {
	t.Helper()
	ctx := context.Background()
	o := storetest.Options(t, backend)
	old, err := store.OpenAtForTest(ctx, o, version)
	if err != nil {
		t.Fatal(err)
	}
	return old, func() *store.Store {
		t.Helper()
		old.Close()
		s, err := store.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}
