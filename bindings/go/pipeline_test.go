package anthem

import (
	"errors"
	"math"
	"reflect"
	"sort"
	"testing"
)

var pipelineQueries = []string{"winter hat", "blue jean", "coat", "academic gown", "boot", "scarf", "dress", "cap"}

// pipelineModels returns the shared tiny model (geometry alone) and a tiny
// model trained with the lexical term (its stage 1 also takes the titles
// of highest BM25, its distances subtract w * BM25), each with an index.
func pipelineModels(t *testing.T) map[string][2]any {
	t.Helper()
	plain := trainedModel(t)
	c, train, _ := loadData(t)
	t.Cleanup(func() { train.Close(); c.Close() })
	cfg := tinyConfig()
	cfg.LexicalBuckets = 1 << 14
	opts := tinyOptions()
	tr, err := NewTrainer(cfg, c, train, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	view, err := tr.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/lexical.anthem"
	if err := view.Save(path); err != nil {
		t.Fatal(err)
	}
	lexical, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lexical.Close() })
	if !(lexical.LexicalWeight() > 0) {
		t.Fatalf("lexical weight %v", lexical.LexicalWeight())
	}
	out := map[string][2]any{}
	for name, m := range map[string]*Model{"plain": plain, "lexical": lexical} {
		ix, err := BuildIndex(m, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		out[name] = [2]any{m, ix}
	}
	return out
}

func positions(hits []Hit) []int {
	p := make([]int, len(hits))
	for i, h := range hits {
		p[i] = h.Index
	}
	return p
}

func bits(hits []Hit) []uint32 {
	b := make([]uint32, len(hits))
	for i, h := range hits {
		b[i] = math.Float32bits(h.Distance)
	}
	return b
}

func mustSearch(t *testing.T, ix *Index, m *Model, q string, o SearchOptions) []Hit {
	t.Helper()
	hits, err := ix.SearchEx(m, q, &o)
	if err != nil {
		t.Fatalf("SearchEx(%q, %+v): %v", q, o, err)
	}
	k1 := o.K1
	if k1 == 0 {
		k1 = 200
	}
	// beyond the candidates come the next products of the region scan,
	// in the order of their stage-1 distance: only the candidates are
	// sorted by the distance returned
	if o.K <= k1 && !sort.SliceIsSorted(hits, func(i, j int) bool { return hits[i].Distance < hits[j].Distance }) {
		t.Fatalf("SearchEx(%q): not best first: %+v", q, hits)
	}
	for _, h := range hits {
		if h.ProductID != ix.ID(h.Index) || h.Title != ix.Title(h.Index) {
			t.Fatalf("hit %+v does not match the index", h)
		}
	}
	return hits
}

func mustScore(t *testing.T, ix *Index, m *Model, q string, pos []int) []float32 {
	t.Helper()
	d, err := ix.Score(m, q, pos)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPipeline(t *testing.T) {
	for name, mi := range pipelineModels(t) {
		m, ix := mi[0].(*Model), mi[1].(*Index)
		t.Run(name, func(t *testing.T) {
			t.Run("BatchEqualsSearchEx", func(t *testing.T) { testBatch(t, m, ix) })
			t.Run("Composed", func(t *testing.T) { testComposed(t, m, ix) })
			t.Run("Allow", func(t *testing.T) { testAllow(t, m, ix) })
			t.Run("FindRerank", func(t *testing.T) { testFindRerank(t, m, ix) })
		})
	}
}

func testBatch(t *testing.T, m *Model, ix *Index) {
	withOpts := func(f func(*SearchOptions)) SearchOptions {
		o := DefaultSearchOptions()
		f(&o)
		return o
	}
	for _, o := range []SearchOptions{
		DefaultSearchOptions(),
		withOpts(func(o *SearchOptions) { o.Threads = 2 }),
		withOpts(func(o *SearchOptions) {
			o.K, o.K1, o.And, o.Or, o.Threads = 7, 20, []string{"winter"}, []string{"cap"}, 2
		}),
		withOpts(func(o *SearchOptions) { o.K, o.K1 = 30, 5 }), // the stage-1 tail
		withOpts(func(o *SearchOptions) { o.K, o.Stage1Only = 5, true }),
		withOpts(func(o *SearchOptions) { o.K, o.Allow = 6, []int{3, 9, 3} }),
	} {
		batch, err := ix.SearchBatch(m, pipelineQueries, &o)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) != len(pipelineQueries) {
			t.Fatalf("%d results for %d queries", len(batch), len(pipelineQueries))
		}
		for q, query := range pipelineQueries {
			one := mustSearch(t, ix, m, query, o)
			want := o.K
			if o.Allow != nil {
				want = 2
			}
			if len(one) != want {
				t.Fatalf("%q %+v: %d hits, want %d", query, o, len(one), want)
			}
			// bit for bit: the same pipeline, not a tolerance
			if !reflect.DeepEqual(positions(batch[q]), positions(one)) || !reflect.DeepEqual(bits(batch[q]), bits(one)) {
				t.Fatalf("%q %+v:\nbatch    %+v\nSearchEx %+v", query, o, batch[q], one)
			}
		}
	}
	if b, err := ix.SearchBatch(m, nil, nil); err != nil || len(b) != 0 {
		t.Fatalf("no queries: %v, %v", b, err)
	}
	huge := DefaultSearchOptions()
	huge.K = math.MaxInt / 2 // capped to the index, never allocated
	if b, err := ix.SearchBatch(m, []string{"hat"}, &huge); err != nil || len(b[0]) != ix.Len() {
		t.Fatalf("huge K: %d hits, %v", len(b), err)
	}
	if _, err := ix.SearchBatch(m, []string{"hat", "a\x00b"}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a NUL in a query: %v", err)
	}
}

func testComposed(t *testing.T, m *Model, ix *Index) {
	o := DefaultSearchOptions()
	o.And, o.Or = []string{"winter"}, []string{"cap"}
	hits := mustSearch(t, ix, m, "hat", o)
	if len(hits) != 10 {
		t.Fatalf("%d hits", len(hits))
	}
	pos := positions(hits)
	hat, winter, cp := mustScore(t, ix, m, "hat", pos), mustScore(t, ix, m, "winter", pos), mustScore(t, ix, m, "cap", pos)
	for i, h := range hits {
		// an AND branch takes its largest distance, the OR the smallest
		want := float32(math.Min(math.Max(float64(hat[i]), float64(winter[i])), float64(cp[i])))
		if math.Float32bits(h.Distance) != math.Float32bits(want) {
			t.Fatalf("%s: distance %v, min(max(%v, %v), %v) = %v", h.Title, h.Distance, hat[i], winter[i], cp[i], want)
		}
	}
	plain := mustSearch(t, ix, m, "hat", DefaultSearchOptions())
	if reflect.DeepEqual(positions(plain), pos) {
		t.Fatal("the composed query ranks as the plain one")
	}
	// stage 1 alone has distances of its own, not stage 2's
	s1 := DefaultSearchOptions()
	s1.Stage1Only = true
	if reflect.DeepEqual(bits(mustSearch(t, ix, m, "hat", s1)), bits(plain)) {
		t.Fatal("Stage1Only changes nothing")
	}
	many := DefaultSearchOptions()
	many.And = make([]string, 17)
	for i := range many.And {
		many.And[i] = "a"
	}
	if _, err := ix.SearchEx(m, "hat", &many); !errors.Is(err, ErrRange) {
		t.Fatalf("17 AND texts: %v", err)
	}
	many.And, many.Or = nil, many.And
	if _, err := ix.SearchEx(m, "hat", &many); !errors.Is(err, ErrRange) {
		t.Fatalf("17 OR texts: %v", err)
	}
	many.Or = []string{"x\x00"}
	if _, err := ix.SearchEx(m, "hat", &many); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a NUL in an OR text: %v", err)
	}
	if hits, err := ix.Search(m, "hat", 10, 200); err != nil || !reflect.DeepEqual(bits(hits), bits(plain)) {
		t.Fatalf("Search and SearchEx with the defaults differ: %v", err)
	}
	for _, h := range hits {
		if h.Score() != -h.Distance {
			t.Fatalf("Score %v, Distance %v", h.Score(), h.Distance)
		}
	}
}

func testAllow(t *testing.T, m *Model, ix *Index) {
	allowed := []int{5, 77, 140, 300, 301, 302, 480, 555}
	in := map[int]bool{}
	for _, p := range allowed {
		in[p] = true
	}
	o := DefaultSearchOptions()
	o.K, o.Allow = 5, allowed
	hits := mustSearch(t, ix, m, "winter hat", o)
	if len(hits) != 5 {
		t.Fatalf("%d hits", len(hits))
	}
	for _, h := range hits {
		if !in[h.Index] {
			t.Fatalf("hit %d is not allowed", h.Index)
		}
	}
	// fewer allowed than K: all of them, the first five as before
	o.K = 20
	all := mustSearch(t, ix, m, "winter hat", o)
	got := positions(all)
	sort.Ints(got)
	if !reflect.DeepEqual(got, allowed) || !reflect.DeepEqual(bits(all[:5]), bits(hits)) {
		t.Fatalf("K 20 over 8 allowed: %v", positions(all))
	}
	// every product allowed is no filter
	o.K, o.Allow = 10, make([]int, ix.Len())
	for i := range o.Allow {
		o.Allow[i] = i
	}
	if !reflect.DeepEqual(bits(mustSearch(t, ix, m, "coat", o)), bits(mustSearch(t, ix, m, "coat", DefaultSearchOptions()))) {
		t.Fatal("allowing every product changes the hits")
	}
	// an empty (non-nil) filter allows nothing
	o.Allow = []int{}
	if h := mustSearch(t, ix, m, "coat", o); len(h) != 0 {
		t.Fatalf("empty filter: %d hits", len(h))
	}
	o.Allow = []int{0, ix.Len()}
	if _, err := ix.SearchEx(m, "coat", &o); !errors.Is(err, ErrRange) {
		t.Fatalf("position out of range: %v", err)
	}
	o.Allow = []int{-1}
	if _, err := ix.SearchEx(m, "coat", &o); !errors.Is(err, ErrRange) {
		t.Fatalf("negative position: %v", err)
	}
	o.Allow, o.K = nil, -1
	if _, err := ix.SearchEx(m, "coat", &o); !errors.Is(err, ErrRange) {
		t.Fatalf("negative K: %v", err)
	}
}

func testFindRerank(t *testing.T, m *Model, ix *Index) {
	for i := 0; i < ix.Len(); i++ {
		if p, ok := ix.Find(ix.ID(i)); !ok || p != i {
			t.Fatalf("Find(%q) = %d, %v; want %d", ix.ID(i), p, ok, i)
		}
	}
	for _, id := range []string{"no such id", "", "a\x00b"} {
		if p, ok := ix.Find(id); ok || p != -1 {
			t.Fatalf("Find(%q) = %d, %v", id, p, ok)
		}
	}
	cands := []int{400, 3, 77, 512, 9, 150, 0}
	hits, err := ix.Rerank(m, "winter hat", cands)
	if err != nil {
		t.Fatal(err)
	}
	d := mustScore(t, ix, m, "winter hat", cands)
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return d[order[a]] < d[order[b]] })
	if len(hits) != len(cands) {
		t.Fatalf("%d hits for %d candidates", len(hits), len(cands))
	}
	for r, i := range order {
		if hits[r].Index != cands[i] || math.Float32bits(hits[r].Distance) != math.Float32bits(d[i]) {
			t.Fatalf("rank %d: %+v, want position %d at %v", r, hits[r], cands[i], d[i])
		}
	}
	ids := []string{"nope"}
	for _, p := range cands {
		ids = append(ids, ix.ID(p))
	}
	byID, err := ix.RerankIDs(m, "winter hat", ids)
	if err != nil || !reflect.DeepEqual(byID, hits) {
		t.Fatalf("RerankIDs: %+v, %v\nRerank:    %+v", byID, err, hits)
	}
	// stage 2 of the pipeline is this ranking of its candidates
	top := mustSearch(t, ix, m, "coat", DefaultSearchOptions())
	rev := positions(top)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	again, err := ix.Rerank(m, "coat", rev)
	if err != nil || !reflect.DeepEqual(again, top) {
		t.Fatalf("Rerank of the hits: %v\n%+v\n%+v", err, again, top)
	}
	if h, err := ix.Rerank(m, "coat", nil); err != nil || len(h) != 0 {
		t.Fatalf("no candidates: %v, %v", h, err)
	}
	if h, err := ix.RerankIDs(m, "coat", []string{"nope"}); err != nil || len(h) != 0 {
		t.Fatalf("unknown ids: %v, %v", h, err)
	}
	if _, err := ix.Rerank(m, "coat", []int{1, ix.Len()}); !errors.Is(err, ErrRange) {
		t.Fatalf("position out of range: %v", err)
	}
	if _, err := ix.Rerank(m, "coat", []int{-1}); !errors.Is(err, ErrRange) {
		t.Fatalf("negative position: %v", err)
	}
}
