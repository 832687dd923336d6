package verification

import "testing"

// Operations and the counter table name the same operations.
func TestOperationsListsEveryOperation(t *testing.T) {
	list := Operations()
	if len(list) != len(operations) {
		t.Fatalf("Operations has %d, the counter table %d", len(list), len(operations))
	}
	for _, op := range list {
		if _, ok := operations[op]; !ok {
			t.Errorf("%s is not in the counter table", op)
		}
	}
}
