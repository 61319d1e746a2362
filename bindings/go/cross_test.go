package anthem

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrossInterface answers the queries of a file given in the
// environment from a model and an index, for tests/cross-interface.sh to
// compare with C, the CLI, Python and SQLite.  Each line of
// ANTHEM_CROSS_QUERIES is NAME<TAB>QUERY<TAB>AND<TAB>OR (AND and OR: one
// text or empty); the top 10 of each go to ANTHEM_CROSS_OUT/go-NAME.tsv as
// "product_id<TAB>distance" lines.  Skipped when ANTHEM_CROSS_MODEL is not
// set.
func TestCrossInterface(t *testing.T) {
	model, index := os.Getenv("ANTHEM_CROSS_MODEL"), os.Getenv("ANTHEM_CROSS_INDEX")
	queries, out := os.Getenv("ANTHEM_CROSS_QUERIES"), os.Getenv("ANTHEM_CROSS_OUT")
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
	spec, err := os.ReadFile(queries)
	if err != nil {
		t.Fatal(err)
	}
	for n, line := range strings.Split(strings.TrimRight(string(spec), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("%s:%d: %d fields, want NAME QUERY AND OR", queries, n+1, len(f))
		}
		o := DefaultSearchOptions()
		o.K, o.K1 = 10, 200
		if f[2] != "" {
			o.And = []string{f[2]}
		}
		if f[3] != "" {
			o.Or = []string{f[3]}
		}
		hits, err := ix.SearchEx(m, f[1], &o)
		if err != nil {
			t.Fatalf("%s: %v", f[0], err)
		}
		var b strings.Builder
		for _, h := range hits {
			fmt.Fprintf(&b, "%s\t%.9g\n", h.ProductID, h.Distance)
		}
		if err := os.WriteFile(filepath.Join(out, "go-"+f[0]+".tsv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
