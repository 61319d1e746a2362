package anthem

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// buildWith builds an index of the fixture with the defaults changed by f.
func buildWith(t *testing.T, m *Model, f func(*IndexOptions)) *Index {
	t.Helper()
	o := DefaultIndexOptions()
	o.Threads = 1
	f(&o)
	ix, err := BuildIndexEx(m, trained.cat, &o)
	if err != nil {
		t.Fatalf("BuildIndexEx(%+v): %v", o, err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// saved is the bytes of the index's file.
func saved(t *testing.T, ix *Index) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.index")
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildIndexOptions(t *testing.T) {
	m := trainedModel(t)
	d := DefaultIndexOptions()
	if d.Threads != 0 || d.Ann || d.AnnDegree != 32 || d.AnnEf != 128 || d.AnnSeed != 1 || d.Points != PointsFloat32 {
		t.Fatalf("DefaultIndexOptions: %+v", d)
	}
	flat := buildWith(t, m, func(o *IndexOptions) {})
	if flat.HasAnn() {
		t.Fatal("an index without Ann has a graph")
	}
	plain := saved(t, flat)
	old, err := BuildIndex(m, trained.cat, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if !bytes.Equal(saved(t, old), plain) {
		t.Fatal("BuildIndex and BuildIndexEx with the defaults differ")
	}
	graph := buildWith(t, m, func(o *IndexOptions) { o.Ann = true })
	if !graph.HasAnn() {
		t.Fatal("an index with Ann has no graph")
	}
	withGraph := saved(t, graph)
	path := filepath.Join(t.TempDir(), "graph.index")
	if err := graph.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadIndex(path, m)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	if !loaded.HasAnn() {
		t.Fatal("the graph is lost in the file")
	}
	if deg, ef, seed, ok := loaded.AnnParams(); !ok || deg != 32 || ef != 128 || seed != 1 {
		t.Fatalf("AnnParams of the loaded graph: %d %d %d %v", deg, ef, seed, ok)
	}
	if _, _, _, ok := flat.AnnParams(); ok || loaded.FormatVersion() != 3 || flat.FormatVersion() != 2 {
		t.Fatalf("AnnParams / FormatVersion: ok %v, versions %d and %d", ok, loaded.FormatVersion(), flat.FormatVersion())
	}
	// the same options give the same graph, whatever the threads
	if !bytes.Equal(saved(t, buildWith(t, m, func(o *IndexOptions) { o.Ann, o.Threads = true, 2 })), withGraph) {
		t.Fatal("2 threads build another graph")
	}
	// each option reaches the library: it changes the file
	for name, f := range map[string]func(*IndexOptions){
		"AnnDegree": func(o *IndexOptions) { o.AnnDegree = 8 },
		"AnnEf":     func(o *IndexOptions) { o.AnnEf = 16 },
		"AnnSeed":   func(o *IndexOptions) { o.AnnSeed = 2 },
	} {
		ix := buildWith(t, m, func(o *IndexOptions) { o.Ann = true; f(o) })
		if !ix.HasAnn() || bytes.Equal(saved(t, ix), withGraph) {
			t.Fatalf("%s changes nothing", name)
		}
	}
	// the int8 codes are kept beside the float points
	compact := buildWith(t, m, func(o *IndexOptions) { o.Points = PointsInt8 })
	if compact.HasAnn() || len(saved(t, compact)) <= len(plain) {
		t.Fatal("PointsInt8 adds nothing to the index")
	}
	if compact.Points() != PointsInt8 || flat.Points() != PointsFloat32 {
		t.Fatalf("Points: %d for an int8 index, %d for a float one", compact.Points(), flat.Points())
	}
	for _, bad := range []PointFormat{-1, 2} {
		o := DefaultIndexOptions()
		o.Points = bad
		_, err := BuildIndexEx(m, trained.cat, &o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "IndexOptions.Points") {
			t.Fatalf("Points %d: %v", bad, err)
		}
	}
	o := DefaultIndexOptions()
	o.AnnDegree = -1
	if _, err := BuildIndexEx(m, trained.cat, &o); !errors.Is(err, ErrRange) {
		t.Fatalf("AnnDegree -1: %v", err)
	}
	// the library's own checks are reached too
	o.Ann, o.AnnDegree = true, 1
	if _, err := BuildIndexEx(m, trained.cat, &o); err == nil {
		t.Fatal("AnnDegree 1 is accepted")
	}
}

func sameHits(a, b []Hit) bool {
	return reflect.DeepEqual(positions(a), positions(b)) && reflect.DeepEqual(bits(a), bits(b))
}

func TestSearchStage1(t *testing.T) {
	m := trainedModel(t)
	flat := buildWith(t, m, func(o *IndexOptions) {})
	compact := buildWith(t, m, func(o *IndexOptions) { o.Points = PointsInt8 })
	graph := buildWith(t, m, func(o *IndexOptions) { o.Ann = true })
	n := flat.Len()
	with := func(f func(*SearchOptions)) SearchOptions {
		o := DefaultSearchOptions()
		f(&o)
		return o
	}
	// stage 1 alone, all of its 200 candidates
	only := func(s1 Stage1, ef int) SearchOptions {
		return with(func(o *SearchOptions) { o.K, o.Stage1Only, o.Stage1, o.Ef = 200, true, s1, ef })
	}
	narrowMisses := false
	for _, q := range pipelineQueries {
		want := mustSearch(t, flat, m, q, DefaultSearchOptions())
		if got := mustSearch(t, compact, m, q, with(func(o *SearchOptions) { o.Stage1 = Stage1Exact })); !sameHits(got, want) {
			t.Fatalf("%q: Stage1Exact on int8 points %+v, on float %+v", q, got, want)
		}
		// a beam as wide as the index reaches every product
		if got := mustSearch(t, graph, m, q, with(func(o *SearchOptions) { o.Stage1, o.Ef = Stage1Graph, n })); !sameHits(got, want) {
			t.Fatalf("%q: the graph with Ef %d %+v, the scan %+v", q, n, got, want)
		}
		exact := mustSearch(t, flat, m, q, only(Stage1Auto, 0))
		if !sameHits(mustSearch(t, graph, m, q, only(Stage1Graph, n)), exact) {
			t.Fatalf("%q: stage 1 of the graph with Ef %d is not the scan's", q, n)
		}
		// auto and exact scan, even with a graph
		for _, s1 := range []Stage1{Stage1Auto, Stage1Exact} {
			if !sameHits(mustSearch(t, graph, m, q, only(s1, 64)), exact) {
				t.Fatalf("%q: Stage1 %d does not scan", q, s1)
			}
		}
		narrowMisses = narrowMisses || !sameHits(mustSearch(t, graph, m, q, only(Stage1Graph, 64)), exact)
	}
	if !narrowMisses {
		t.Fatal("a beam of 64 found the exact top 200 of every query")
	}
	// without a graph, Stage1Graph scans
	if !sameHits(mustSearch(t, flat, m, "coat", with(func(o *SearchOptions) { o.Stage1 = Stage1Graph })),
		mustSearch(t, flat, m, "coat", DefaultSearchOptions())) {
		t.Fatal("Stage1Graph without a graph does not scan")
	}
	for _, bad := range []Stage1{-1, 3} {
		o := with(func(o *SearchOptions) { o.Stage1 = bad })
		if _, err := flat.SearchEx(m, "coat", &o); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "SearchOptions.Stage1") {
			t.Fatalf("Stage1 %d: %v", bad, err)
		}
		if _, err := flat.SearchBatch(m, []string{"coat"}, &o); !errors.Is(err, ErrInvalid) {
			t.Fatalf("SearchBatch, Stage1 %d: %v", bad, err)
		}
	}
	o := with(func(o *SearchOptions) { o.Ef = -1 })
	if _, err := flat.SearchEx(m, "coat", &o); !errors.Is(err, ErrRange) {
		t.Fatalf("Ef -1: %v", err)
	}
}

func TestSearchStage2Elements(t *testing.T) {
	m := trainedModel(t)
	ix := buildWith(t, m, func(o *IndexOptions) { o.Ann = true })
	elements := func(e int) SearchOptions {
		o := DefaultSearchOptions()
		o.Stage2Elements = e
		return o
	}
	cutDiffers := false
	for _, q := range pipelineQueries {
		full := mustSearch(t, ix, m, q, DefaultSearchOptions())
		// more elements than any query has: all of them
		if got := mustSearch(t, ix, m, q, elements(100000)); !sameHits(got, full) {
			t.Fatalf("%q: Stage2Elements 100000 %+v, all %+v", q, got, full)
		}
		cutDiffers = cutDiffers || !sameHits(mustSearch(t, ix, m, q, elements(3)), full)
	}
	if !cutDiffers {
		t.Fatal("3 elements score as all of them")
	}
	// SearchBatch takes the new options as SearchEx does
	graph := DefaultSearchOptions()
	graph.K, graph.Stage1Only, graph.Stage1, graph.Ef = 200, true, Stage1Graph, 64
	for _, o := range []SearchOptions{elements(3), graph} {
		batch, err := ix.SearchBatch(m, pipelineQueries, &o)
		if err != nil {
			t.Fatal(err)
		}
		for q, query := range pipelineQueries {
			if one := mustSearch(t, ix, m, query, o); !sameHits(batch[q], one) {
				t.Fatalf("%q %+v:\nbatch    %+v\nSearchEx %+v", query, o, batch[q], one)
			}
		}
	}
	o := elements(-1)
	if _, err := ix.SearchEx(m, "coat", &o); !errors.Is(err, ErrRange) {
		t.Fatalf("Stage2Elements -1: %v", err)
	}
}

func TestSearchPrefilter(t *testing.T) {
	m := trainedModel(t)
	ix := buildWith(t, m, func(o *IndexOptions) { o.Points = PointsInt8 })
	with := func(p, k, k1 int, only bool, s Stage1) SearchOptions {
		o := DefaultSearchOptions()
		o.Prefilter, o.K, o.K1, o.Stage1Only, o.Stage1 = p, k, k1, only, s
		return o
	}
	for _, q := range pipelineQueries {
		// off by default on the fixture (too few products)
		if got, def := mustSearch(t, ix, m, q, with(PrefilterOff, 10, 200, false, Stage1Auto)),
			mustSearch(t, ix, m, q, DefaultSearchOptions()); !sameHits(got, def) {
			t.Fatalf("%q: PrefilterOff %+v, default %+v", q, got, def)
		}
		// the whole catalogue's depth: the exact scan's hits
		if got, exact := mustSearch(t, ix, m, q, with(ix.Len(), 50, 200, true, Stage1Auto)),
			mustSearch(t, ix, m, q, with(0, 50, 200, true, Stage1Exact)); !sameHits(got, exact) {
			t.Fatalf("%q: Prefilter %d %+v, exact %+v", q, ix.Len(), got, exact)
		}
		small := with(1, 5, 10, false, Stage1Auto)
		one := mustSearch(t, ix, m, q, small)
		if len(one) != 5 {
			t.Fatalf("%q: Prefilter 1: %d hits", q, len(one))
		}
		batch, err := ix.SearchBatch(m, []string{q}, &small)
		if err != nil {
			t.Fatal(err)
		}
		if !sameHits(batch[0], one) {
			t.Fatalf("%q: batch %+v, SearchEx %+v", q, batch[0], one)
		}
	}
	o := with(-2, 10, 200, false, Stage1Auto)
	if _, err := ix.SearchEx(m, "coat", &o); !errors.Is(err, ErrRange) {
		t.Fatalf("Prefilter -2: %v", err)
	}
}

// AnnProgress reports the graph's build, ending at done == total == the
// catalogue's size; a panic in it comes back as a *PanicError, no index.
func TestBuildIndexAnnProgress(t *testing.T) {
	m := trainedModel(t)
	var calls, last, total int
	ix, err := BuildIndexEx(m, trained.cat, &IndexOptions{
		Threads: 2, Ann: true, AnnDegree: 16, AnnEf: 32, AnnSeed: 1,
		AnnProgress: func(done, tot int) {
			if done < last || done > tot {
				t.Errorf("progress %d of %d after %d", done, tot, last)
			}
			calls, last, total = calls+1, done, tot
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if n := ix.Len(); calls < 2 || last != total || total != n {
		t.Fatalf("%d calls, last %d of %d, index of %d", calls, last, total, n)
	}
	_, err = BuildIndexEx(m, trained.cat, &IndexOptions{
		Ann: true, AnnDegree: 16, AnnEf: 32, AnnSeed: 1,
		AnnProgress: func(done, tot int) { panic("stop here") },
	})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "stop here" {
		t.Fatalf("a panicking AnnProgress: %v", err)
	}
}
