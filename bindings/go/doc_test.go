package anthem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// between returns the text of s after the line holding start up to the
// line holding end.
func between(t *testing.T, what, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("%s: no %q", what, start)
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("%s: no %q after %q", what, end, start)
	}
	return strings.TrimSpace(s[:j])
}

// The program in docs/go.md is the one Example runs.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "go.md"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fromDoc := between(t, "docs/go.md", string(doc), "func main() {\n", "\n}\n```")
	fromTest := between(t, "example_test.go", string(ex), "func Example() {\n", "\t// Output:")
	if fromDoc != fromTest {
		dl, tl := strings.Split(fromDoc, "\n"), strings.Split(fromTest, "\n")
		for i := 0; i < len(dl) && i < len(tl); i++ {
			if dl[i] != tl[i] {
				t.Fatalf("docs/go.md and Example differ at line %d:\n doc:  %q\n test: %q", i+1, dl[i], tl[i])
			}
		}
		t.Fatalf("docs/go.md has %d lines in main, Example %d", len(dl), len(tl))
	}
	imports := between(t, "example_test.go", string(ex), "import (", ")")
	if !strings.Contains(string(doc), "import (\n\t"+imports+"\n)") {
		t.Fatalf("docs/go.md does not import what Example imports:\n%s", imports)
	}
}
