package store

import (
	"slices"
	"testing"
)

// A batch holds one write per holder, the others wait for the next, and
// the batch is in holder order, so that two batches lock holders in one
// order.
func TestABatchHoldsOneWritePerHolderInHolderOrder(t *testing.T) {
	named := func(holders ...string) []pgWrite {
		ws := make([]pgWrite, len(holders))
		for i, h := range holders {
			ws[i] = pgWrite{holder: h}
		}
		return ws
	}
	holders := func(ws []pgWrite) []string {
		var hs []string
		for _, w := range ws {
			hs = append(hs, w.holder)
		}
		return hs
	}
	batch, next := oneWritePerHolder(named("c", "", "a", "c", "b", "a", ""))
	if got, want := holders(batch), []string{"", "", "a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("batch %q, want %q", got, want)
	}
	if got, want := holders(next), []string{"c", "a"}; !slices.Equal(got, want) {
		t.Errorf("next %q, want %q", got, want)
	}
}
