package anthem

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCrossInterface answers one query from a model and index given in the
// environment and writes "product_id<TAB>distance" lines to a file, for
// tests/cross-interface.sh to compare with C, the CLI, Python and SQLite.
// Skipped when ANTHEM_CROSS_MODEL is not set.
func TestCrossInterface(t *testing.T) {
	model, index := os.Getenv("ANTHEM_CROSS_MODEL"), os.Getenv("ANTHEM_CROSS_INDEX")
	query, out := os.Getenv("ANTHEM_CROSS_QUERY"), os.Getenv("ANTHEM_CROSS_OUT")
	if model == "" {
		t.Skip("ANTHEM_CROSS_MODEL not set (run by tests/cross-interface.sh)")
	}
	m, err := LoadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ix, err := LoadIndex(index, m)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	hits, err := ix.Search(m, query, 10, 200)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "%s\t%.9g\n", h.ProductID, h.Distance)
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
