package online

import "testing"

// Operations and the counter table name the same operations.
func TestOperationsListsEveryOperation(t *testing.T) {
	list := Operations()
	if len(list) != len(isCounterOperation) {
		t.Fatalf("Operations has %d, the counter table %d", len(list), len(isCounterOperation))
	}
	for _, op := range list {
		if _, ok := isCounterOperation[op]; !ok {
			t.Errorf("%s is not in the counter table", op)
		}
	}
}
