package anthem

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The WordNet fixture of the C test suites; ANTHEM_FIXTURE_DIR overrides.
func fixture(t testing.TB, name string) string {
	dir := os.Getenv("ANTHEM_FIXTURE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "tests", "data", "wordnet-fixture")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return p
}

func tinyConfig() Config {
	cfg := DefaultConfig()
	cfg.Dim = 8
	cfg.Buckets = 4096
	return cfg
}

func tinyOptions() TrainOptions {
	o := DefaultTrainOptions()
	o.Epochs = 1
	o.EpochExamples = 64
	o.Threads = 1
	return o
}

func loadData(t testing.TB) (*Catalog, *Judgments, *Judgments) {
	t.Helper()
	c, err := LoadCatalog(fixture(t, "catalog.tsv"), ReadStrict)
	if err != nil {
		t.Fatal(err)
	}
	train, err := LoadJudgments(fixture(t, "train.tsv"), c, ReadStrict)
	if err != nil {
		t.Fatal(err)
	}
	test, err := LoadJudgments(fixture(t, "test.tsv"), c, ReadStrict)
	if err != nil {
		t.Fatal(err)
	}
	return c, train, test
}

// One tiny trained model, saved to a file and loaded, shared by the tests.
var trained struct {
	once     sync.Once
	err      error
	dir      string
	path     string
	calls    []Progress
	cat      *Catalog
	test     *Judgments
	model    *Model // loaded from path
	trainerM []byte // the file's bytes
}

func trainedModel(t *testing.T) *Model {
	t.Helper()
	trained.once.Do(func() {
		trained.err = func() error {
			c, train, test := loadData(t)
			trained.cat, trained.test = c, test
			opts := tinyOptions()
			opts.Progress = func(p Progress) error {
				trained.calls = append(trained.calls, p)
				return nil
			}
			tr, err := NewTrainer(tinyConfig(), c, train, &opts)
			if err != nil {
				return err
			}
			defer tr.Close()
			if err := tr.Run(); err != nil {
				return err
			}
			m, err := tr.Model()
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "anthem-go-test-")
			if err != nil {
				return err
			}
			trained.dir = dir
			trained.path = filepath.Join(dir, "tiny.anthem")
			if err := m.Save(trained.path); err != nil {
				return err
			}
			m.Close()
			if trained.trainerM, err = os.ReadFile(trained.path); err != nil {
				return err
			}
			trained.model, err = LoadModel(trained.path)
			return err
		}()
	})
	if trained.err != nil {
		t.Fatalf("tiny training: %v", trained.err)
	}
	return trained.model
}

func TestMain(m *testing.M) {
	code := m.Run()
	if trained.dir != "" {
		os.RemoveAll(trained.dir)
	}
	os.Exit(code)
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *anthem.Error", err, err)
	}
	return e
}

func TestVersion(t *testing.T) {
	if VersionNumber() < 100 {
		t.Fatalf("VersionNumber() = %d", VersionNumber())
	}
	if HeaderVersionNumber < 100 {
		t.Fatalf("HeaderVersionNumber = %d", HeaderVersionNumber)
	}
	if Version() != HeaderVersion {
		t.Logf("headers %s, library %s", HeaderVersion, Version())
	}
	if MaxDim() < 8 {
		t.Fatalf("MaxDim() = %d", MaxDim())
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-model.anthem")
	_, err := LoadModel(path)
	e := asError(t, err)
	if e.Code != -10 || CodeNotFound != -10 {
		t.Fatalf("code %d, want -10: %v", e.Code, err)
	}
	if !strings.Contains(e.Message, path) {
		t.Fatalf("message %q does not name %s", e.Message, path)
	}
	if e.Name != StatusName(-10) || e.Name == "" {
		t.Fatalf("name %q", e.Name)
	}
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrIO) {
		t.Fatalf("errors.Is does not match by code: %v", err)
	}
	cpath := filepath.Join(t.TempDir(), "no-such-catalog.tsv")
	_, err = LoadCatalog(cpath, ReadStrict)
	if e := asError(t, err); e.Code != CodeNotFound || !strings.Contains(e.Message, cpath) {
		t.Fatalf("catalog: %v", err)
	}
	_, err = LoadIndex(filepath.Join(t.TempDir(), "none.index"), nil)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("index: %v", err)
	}
	_, err = ReadModelConfig(path)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("read config: %v", err)
	}
}

func TestCorruptFile(t *testing.T) {
	m, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.anthem")
	if err := m.Save(good); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	bad := filepath.Join(dir, "bad.anthem")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadModel(bad)
	e := asError(t, err)
	if e.Code != -6 || !errors.Is(err, ErrChecksum) {
		t.Fatalf("flipped byte: %v, want code -6", err)
	}
	if !strings.Contains(e.Message, bad) {
		t.Fatalf("message %q does not name %s", e.Message, bad)
	}
	if _, err := LoadModelBuffer(b); !errors.Is(err, ErrChecksum) {
		t.Fatalf("buffer with a flipped byte: %v", err)
	}
	if _, err := LoadModelBuffer(b[:10]); !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) {
		t.Fatalf("truncated buffer: %v", err)
	}
	if _, err := LoadModelBuffer(nil); err == nil {
		t.Fatal("empty buffer loaded")
	}
}

func TestWrongSizeSlices(t *testing.T) {
	m, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	titles := []string{"wool coat", "rain boot"}
	for _, n := range []int{0, 1, 15, 17, 100} {
		err := m.EmbedProductsInto(make([]float32, n), titles)
		if e := asError(t, err); e.Code != CodeMismatch {
			t.Fatalf("dst of %d floats: %v", n, err)
		}
	}
	if err := m.EmbedProductsInto(make([]float32, 16), titles); err != nil {
		t.Fatal(err)
	}
	h, err := m.EmbedQuery("coat")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, p := range [][]float32{nil, {}, make([]float32, 7), make([]float32, 9)} {
		if _, err := h.Distance(p, 0.5); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Distance of %d floats: %v", len(p), err)
		}
		if _, err := h.Contains(p); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Contains of %d floats: %v", len(p), err)
		}
	}
	if _, err := NewHyperboloid(Hyperbolic, 1, []float32{0, 0}, []float32{0.1}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("centre and limit of different lengths: %v", err)
	}
	if _, err := NewHyperboloid(Hyperbolic, 1, nil, nil); !errors.Is(err, ErrRange) {
		t.Fatalf("empty hyperboloid: %v", err)
	}
	if _, err := NewVectors(make([]float32, 7), 2); !errors.Is(err, ErrMismatch) {
		t.Fatalf("7 floats in rows of 2: %v", err)
	}
	if _, err := NewVectors(make([]float32, 4), 0); !errors.Is(err, ErrRange) {
		t.Fatalf("dim 0: %v", err)
	}
	v, err := NewVectors(make([]float32, 3*8), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := h.DistancesInto(make([]float32, 2), v, 0.5); !errors.Is(err, ErrMismatch) {
		t.Fatalf("DistancesInto short dst: %v", err)
	}
	// Errors the C library finds itself, without a crash.
	if _, err := NewHyperboloid(Hyperbolic, 1, []float32{2, 0}, []float32{0, 0}); !errors.Is(err, ErrRange) {
		t.Fatalf("centre outside the ball: %v", err)
	}
	nan := float32(math.NaN())
	if _, err := NewVectors([]float32{0, nan}, 2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NaN point: %v", err)
	}
	bad := DefaultConfig()
	bad.Dim = -1
	if _, err := NewModel(bad); !errors.Is(err, ErrRange) {
		t.Fatalf("dim -1: %v", err)
	}
	bad.Dim = MaxDim() + 1
	if _, err := NewModel(bad); !errors.Is(err, ErrRange) || !strings.Contains(err.Error(), "dim") {
		t.Fatalf("dim too large: %v", err)
	}
	if _, err := m.Score("a\x00b", "title"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("query with a NUL: %v", err)
	}
}

func TestTrainWithProgress(t *testing.T) {
	m := trainedModel(t)
	if len(trained.calls) == 0 {
		t.Fatal("the progress callback was never called")
	}
	last := trained.calls[len(trained.calls)-1]
	if !last.EpochDone || last.Epoch != 1 || last.Epochs != 1 || last.Steps != 2 {
		t.Fatalf("last progress %+v", last)
	}
	if math.IsNaN(last.Loss) || last.Loss <= 0 {
		t.Fatalf("loss %v", last.Loss)
	}
	if !math.IsNaN(last.LexicalWeight) || !math.IsNaN(float64(m.LexicalWeight())) {
		t.Fatalf("LexicalWeight %v, %v without the lexical term", last.LexicalWeight, m.LexicalWeight())
	}
	if m.Dim() != 8 {
		t.Fatalf("Dim() = %d", m.Dim())
	}
	cfg, err := m.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg != tinyConfig() {
		t.Fatalf("Config() = %+v, want %+v", cfg, tinyConfig())
	}
	rc, err := ReadModelConfig(trained.path)
	if err != nil || rc != cfg {
		t.Fatalf("ReadModelConfig = %+v, %v", rc, err)
	}
	if !m.IsMapped() || m.Fingerprint() == 0 {
		t.Fatalf("mapped %v, fingerprint %x", m.IsMapped(), m.Fingerprint())
	}
}

// The lexical term (docs/network.md step 8): the config field goes
// through, the trainer reports the weight it chose, and the model keeps it.
func TestLexicalTerm(t *testing.T) {
	c, train, _ := loadData(t)
	cfg := tinyConfig()
	cfg.LexicalBuckets = 1 << 14
	opts := tinyOptions()
	var last Progress
	opts.Progress = func(p Progress) error {
		last = p
		return nil
	}
	tr, err := NewTrainer(cfg, c, train, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	if !(last.LexicalWeight > 0) {
		t.Fatalf("LexicalWeight %v", last.LexicalWeight)
	}
	m, err := tr.Model()
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Config()
	if err != nil || got.LexicalBuckets != 1<<14 {
		t.Fatalf("Config() = %+v, %v", got, err)
	}
	if m.LexicalWeight() != float32(last.LexicalWeight) {
		t.Fatalf("LexicalWeight() = %v, progress %v", m.LexicalWeight(), last.LexicalWeight)
	}
}

func TestProgressPanic(t *testing.T) {
	c, train, _ := loadData(t)
	opts := tinyOptions()
	calls := 0
	opts.Progress = func(p Progress) error {
		calls++
		panic("boom from the callback")
	}
	tr, err := NewTrainer(tinyConfig(), c, train, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Run()
	if err == nil {
		t.Fatal("Run succeeded although the callback panicked")
	}
	if calls != 1 {
		t.Fatalf("callback called %d times after panicking", calls)
	}
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom from the callback" || len(pe.Stack) == 0 {
		t.Fatalf("Run: %v, want a *PanicError", err)
	}
	if e := asError(t, err); e.Code != CodeCanceled || !errors.Is(err, ErrCanceled) {
		t.Fatalf("Run: %v, want ErrCanceled", err)
	}
	// The process and the trainer are alive: the best model so far works.
	m, err := tr.Model()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score("coat", "a long coat"); err != nil {
		t.Fatal(err)
	}
	m.Close()

	// An error from the callback stops training and comes back wrapped.
	stop := errors.New("enough")
	opts.Progress = func(Progress) error { return stop }
	tr2, err := NewTrainer(tinyConfig(), c, train, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if err := tr2.Run(); !errors.Is(err, stop) || !errors.Is(err, ErrCanceled) {
		t.Fatalf("Run: %v, want ErrCanceled wrapping %v", err, stop)
	}
}

func TestTrainerKeepsDataAlive(t *testing.T) {
	c, train, test := loadData(t)
	test.Close()
	opts := tinyOptions()
	tr, err := NewTrainer(tinyConfig(), c, train, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c.Close() // the trainer still holds both
	train.Close()
	if c.Len() != 0 {
		t.Fatal("a closed catalogue still answers")
	}
	runtime.GC()
	m, err := tr.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	// Run closed the earlier view of the model.
	if _, err := m.Score("coat", "coat"); !errors.Is(err, ErrClosed) {
		t.Fatalf("stale trainer model: %v", err)
	}
	if tr.Epoch() != 1 {
		t.Fatalf("Epoch() = %d", tr.Epoch())
	}
	ck := filepath.Join(t.TempDir(), "ck")
	if err := tr.Checkpoint(ck); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTrainer(tinyConfig(), c, train, &opts); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewTrainer with a closed catalogue: %v", err)
	}
}

func TestEvaluate(t *testing.T) {
	m := trainedModel(t)
	for _, o := range []*EvalOptions{nil, {K1: 0, Threads: 1}, {K1: 50, Threads: 2, MaxQueries: 10}} {
		met, err := Evaluate(m, trained.cat, trained.test, o)
		if err != nil {
			t.Fatal(err)
		}
		if met.Queries == 0 {
			t.Fatalf("%+v: no query counted", met)
		}
		for name, v := range map[string]float64{"NDCG3": met.NDCG3, "NDCG5": met.NDCG5,
			"NDCG10": met.NDCG10, "MAP": met.MAP, "MRR": met.MRR, "RecallK1": met.RecallK1} {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s = %v, not in [0, 1] (%+v)", name, v, met)
			}
		}
		if o != nil && o.MaxQueries > 0 && met.Queries+met.Skipped > o.MaxQueries {
			t.Fatalf("MaxQueries %d, measured %+v", o.MaxQueries, met)
		}
	}
	met, err := EvaluateRanking(fixture(t, "bm25-test.tsv"), trained.cat, trained.test)
	if err != nil {
		t.Fatal(err)
	}
	if !(met.NDCG10 > 0 && met.NDCG10 <= 1) {
		t.Fatalf("BM25 ranking %+v", met)
	}
	if _, err := Evaluate(m, trained.cat, trained.test, &EvalOptions{Threads: -1}); !errors.Is(err, ErrRange) {
		t.Fatalf("negative threads: %v", err)
	}
}

func TestSaveLoadBitIdentical(t *testing.T) {
	m := trainedModel(t)
	fromBuf, err := LoadModelBuffer(trained.trainerM)
	if err != nil {
		t.Fatal(err)
	}
	defer fromBuf.Close()
	again := filepath.Join(t.TempDir(), "again.anthem")
	if err := m.Save(again); err != nil {
		t.Fatal(err)
	}
	resaved, err := LoadModel(again)
	if err != nil {
		t.Fatal(err)
	}
	defer resaved.Close()
	pairs := [][2]string{{"coat", trained.cat.Title(0)}, {"blue jean", "jean: (usually plural) close-fitting trousers"},
		{"business suit", trained.cat.Title(100)}, {"", ""}, {"ü ñ 日本", "x"}}
	for _, p := range pairs {
		a, err := m.Score(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []*Model{fromBuf, resaved} {
			b, err := other.Score(p[0], p[1])
			if err != nil {
				t.Fatal(err)
			}
			if math.Float32bits(a) != math.Float32bits(b) {
				t.Fatalf("Score(%q, %q): %v after loading, %v before", p[0], p[1], b, a)
			}
		}
	}
	if fromBuf.IsMapped() {
		t.Fatal("a model loaded from a buffer says it is mapped")
	}
}

func TestIndexSearch(t *testing.T) {
	m := trainedModel(t)
	ix, err := BuildIndex(m, trained.cat, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Len() != trained.cat.Len() || ix.Dim() != 8 {
		t.Fatalf("Len %d Dim %d", ix.Len(), ix.Dim())
	}
	if ix.ID(3) != trained.cat.ID(3) || ix.Title(3) != trained.cat.Title(3) || ix.ID(-1) != "" || ix.ID(ix.Len()) != "" {
		t.Fatal("ids and titles differ from the catalogue")
	}
	path := filepath.Join(t.TempDir(), "tiny.index")
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadIndex(path, m)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	other, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := LoadIndex(path, other); !errors.Is(err, ErrMismatch) {
		t.Fatalf("index with another model: %v", err)
	}
	for _, q := range []string{"coat", "blue jean", "business suit", "zzz"} {
		hits, err := loaded.Search(m, q, 10, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 10 {
			t.Fatalf("%q: %d hits", q, len(hits))
		}
		if !sort.SliceIsSorted(hits, func(i, j int) bool { return hits[i].Distance < hits[j].Distance }) {
			t.Fatalf("%q: hits not sorted: %+v", q, hits)
		}
		for _, h := range hits {
			if h.ProductID != trained.cat.ID(h.Index) || h.Title != trained.cat.Title(h.Index) {
				t.Fatalf("hit %+v does not match the catalogue", h)
			}
		}
		// stage 2 on the same candidates gives the same distances
		cand := make([]int, len(hits))
		for i, h := range hits {
			cand[i] = h.Index
		}
		d, err := loaded.Score(m, q, cand)
		if err != nil {
			t.Fatal(err)
		}
		for i := range d {
			if math.Abs(float64(d[i]-hits[i].Distance)) > 1e-5 {
				t.Fatalf("%q: Score %v, Search %v", q, d[i], hits[i].Distance)
			}
			s, err := m.Score(q, hits[i].Title)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(s-hits[i].Distance)) > 1e-4 {
				t.Fatalf("%q: Model.Score %v, Search %v", q, s, hits[i].Distance)
			}
		}
		// stage 1 alone
		h, err := m.EmbedQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := m.Config()
		scan, err := loaded.Scan(h, cfg.Gamma, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(scan) != loaded.Len() {
			t.Fatalf("scan of k > count: %d hits", len(scan))
		}
		if !sort.SliceIsSorted(scan, func(i, j int) bool { return scan[i].Distance < scan[j].Distance }) {
			t.Fatalf("%q: scan not sorted", q)
		}
		pts, err := loaded.Vectors()
		if err != nil {
			t.Fatal(err)
		}
		all, err := h.Distances(pts, cfg.Gamma)
		if err != nil {
			t.Fatal(err)
		}
		// the scan computes in float, the general distance in double
		if d := all[scan[0].Index] - scan[0].Distance; d > 1e-5*all[scan[0].Index] || -d > 1e-5*all[scan[0].Index] {
			t.Fatalf("Distances %v, Scan %v", all[scan[0].Index], scan[0].Distance)
		}
		pts.Close()
		h.Close()
	}
	if hits, err := loaded.Search(m, "coat", 0, 0); err != nil || len(hits) != 0 {
		t.Fatalf("k = 0: %v, %v", hits, err)
	}
	if _, err := loaded.Score(m, "coat", []int{loaded.Len()}); !errors.Is(err, ErrRange) {
		t.Fatalf("candidate out of range: %v", err)
	}
	if _, err := loaded.Score(m, "coat", []int{-1}); !errors.Is(err, ErrRange) {
		t.Fatalf("negative candidate: %v", err)
	}
	// The index's points are the model's product embeddings.
	emb, err := m.EmbedProducts([]string{trained.cat.Title(5)})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := loaded.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	p5, err := pts.Point(5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p5 {
		if p5[i] != emb[0][i] {
			t.Fatalf("index point %v, EmbedProducts %v", p5, emb[0])
		}
	}
	// The view keeps the index alive after the index is closed.
	loaded.Close()
	runtime.GC()
	if pts.Len() != trained.cat.Len() || len(pts.Data()) != pts.Len()*8 {
		t.Fatal("the points view died with its index")
	}
	pts.Close()
}

func TestHyperboloidAlgebra(t *testing.T) {
	for _, g := range []Geometry{Hyperbolic, Euclidean} {
		t.Run(g.String(), func(t *testing.T) {
			elec, err := NewHyperboloid(g, 1, []float32{0, 0}, []float32{0.6, 0.6})
			if err != nil {
				t.Fatal(err)
			}
			comp, err := NewHyperboloid(g, 1, []float32{0.3, 0.1}, []float32{0.15, 0.15})
			if err != nil {
				t.Fatal(err)
			}
			phone, err := NewHyperboloid(g, 1, []float32{-0.3, 0.2}, []float32{0.12, 0.12})
			if err != nil {
				t.Fatal(err)
			}
			either, err := comp.Union(phone)
			if err != nil {
				t.Fatal(err)
			}
			both, err := elec.Intersect(either)
			if err != nil {
				t.Fatal(err)
			}
			if either.Branches() != 2 || both.Branches() != 2 {
				t.Fatalf("branches: union %d, intersection %d", either.Branches(), both.Branches())
			}
			c, l, err := comp.Term(0, 0)
			if err != nil || c[0] != 0.3 || l[1] != 0.15 {
				t.Fatalf("Term: %v %v %v", c, l, err)
			}
			if _, _, err := comp.Term(1, 0); !errors.Is(err, ErrRange) {
				t.Fatalf("Term out of range: %v", err)
			}
			n := 0
			for x := float32(-0.68); x <= 0.68; x += 0.04 {
				for y := float32(-0.68); y <= 0.68; y += 0.04 {
					pt := []float32{x, y}
					in := func(h *Hyperboloid) bool {
						ok, err := h.Contains(pt)
						if err != nil {
							t.Fatal(err)
						}
						return ok
					}
					e, co, ph := in(elec), in(comp), in(phone)
					if in(either) != (co || ph) {
						t.Fatalf("%v: union %v, comp %v phone %v", pt, in(either), co, ph)
					}
					if in(both) != (e && (co || ph)) {
						t.Fatalf("%v: intersection %v, elec %v comp %v phone %v", pt, in(both), e, co, ph)
					}
					d, err := both.Distance(pt, 0.5)
					if err != nil || d < 0 || math.IsNaN(float64(d)) {
						t.Fatalf("%v: distance %v %v", pt, d, err)
					}
					if co {
						n++
					}
				}
			}
			if n == 0 {
				t.Fatal("no grid point inside comp")
			}
			// inside distance grows toward the border; outside beats inside
			dc, _ := comp.Distance([]float32{0.3, 0.1}, 0.5)
			dfar, _ := comp.Distance([]float32{-0.5, -0.5}, 0.5)
			if !(dc < dfar) {
				t.Fatalf("centre %v, far point %v", dc, dfar)
			}
			other := Euclidean
			if g == Euclidean {
				other = Hyperbolic
			}
			x, err := NewHyperboloid(other, 1, []float32{0, 0}, []float32{0.1, 0.1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x.Intersect(elec); !errors.Is(err, ErrMismatch) {
				t.Fatalf("mixed geometries: %v", err)
			}
			for _, h := range []*Hyperboloid{elec, comp, phone, either, both, x} {
				h.Close()
			}
		})
	}
	// Flat boxes that do not meet: the intersection is empty.
	a, _ := NewHyperboloid(Euclidean, 0, []float32{0}, []float32{1})
	b, _ := NewHyperboloid(Euclidean, 0, []float32{5}, []float32{1})
	e, err := a.Intersect(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Branches() != 0 {
		t.Fatalf("disjoint boxes: %d branches", e.Branches())
	}
	if d, err := e.Distance([]float32{0}, 0.5); err != nil || !math.IsInf(float64(d), 1) {
		t.Fatalf("empty region: %v %v", d, err)
	}
}

func TestVectorsDistances(t *testing.T) {
	data := []float32{0.32, 0.12, 0.25, 0.02, -0.31, 0.22, 0.70, 0.60}
	v, err := NewVectors(data, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	data[0] = 99 // copied, not borrowed
	if v.Len() != 4 || v.Dim() != 2 || v.Data()[0] != 0.32 {
		t.Fatalf("Len %d Dim %d Data %v", v.Len(), v.Dim(), v.Data())
	}
	h, err := NewHyperboloid(Hyperbolic, 1, []float32{0.3, 0.1}, []float32{0.15, 0.15})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	all, err := h.Distances(v, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < v.Len(); i++ {
		p, _ := v.Point(i)
		d, err := h.Distance(p, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if d != all[i] {
			t.Fatalf("point %d: Distance %v, Distances %v", i, d, all[i])
		}
	}
	if _, err := v.Point(4); !errors.Is(err, ErrRange) {
		t.Fatalf("Point(4): %v", err)
	}
}

func TestExplain(t *testing.T) {
	m := trainedModel(t)
	title := trained.cat.Title(0)
	e, err := m.Explain("loose robe", title)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Rows) == 0 || len(e.Cols) == 0 || len(e.Weights) != len(e.Rows)*len(e.Cols) {
		t.Fatalf("%d rows, %d cols, %d weights", len(e.Rows), len(e.Cols), len(e.Weights))
	}
	for r := range e.Rows {
		sum := 0.0
		for _, w := range e.Row(r) {
			if w < 0 {
				t.Fatalf("negative weight %v", w)
			}
			sum += float64(w)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Fatalf("row %d (%q) sums to %v", r, e.Rows[r], sum)
		}
	}
	if e.At(0, 0) != e.Weights[0] {
		t.Fatal("At(0, 0)")
	}
	for _, l := range append(append([]string{}, e.Rows...), e.Cols...) {
		if l == "" {
			t.Fatal("empty trigram label")
		}
	}
	s, err := m.Score("loose robe", title)
	if err != nil {
		t.Fatal(err)
	}
	if math.Float32bits(s) != math.Float32bits(e.Distance) {
		t.Fatalf("Explain distance %v, Score %v", e.Distance, s)
	}
}

func TestDataFiles(t *testing.T) {
	c, train, _ := loadData(t)
	defer c.Close()
	defer train.Close()
	if c.Len() != 561 {
		t.Fatalf("catalogue of %d products", c.Len())
	}
	i, err := c.Find(c.ID(42))
	if err != nil || i != 42 {
		t.Fatalf("Find: %d %v", i, err)
	}
	if _, err := c.Find("no such id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find missing: %v", err)
	}
	if c.ID(-1) != "" || c.Title(c.Len()) != "" {
		t.Fatal("out-of-range id or title")
	}
	if train.Len() == 0 || train.Query(0) == "" {
		t.Fatal("no queries")
	}
	js, err := train.Get(0)
	if err != nil || len(js) == 0 {
		t.Fatalf("Get(0): %v %v", js, err)
	}
	for _, j := range js {
		if j.Grade < 0 || j.Grade > 3 || j.Product < 0 || j.Product >= c.Len() {
			t.Fatalf("judgement %+v", j)
		}
	}
	if _, err := train.Get(train.Len()); err == nil {
		t.Fatal("Get out of range succeeded")
	}
	// A malformed line: strict fails with FILE:LINE, lenient skips it.
	bad := filepath.Join(t.TempDir(), "bad.tsv")
	os.WriteFile(bad, []byte("1\tone\nno tab here\n2\ttwo\n"), 0o644)
	_, err = LoadCatalog(bad, ReadStrict)
	if e := asError(t, err); e.Code != CodeFormat || !strings.Contains(e.Message, bad+":2") {
		t.Fatalf("strict read: %v", err)
	}
	lc, err := LoadCatalog(bad, ReadLenient)
	if err != nil || lc.Len() != 2 || lc.Skipped() != 1 {
		t.Fatalf("lenient read: %v", err)
	}
	lc.Close()
}

func TestClosedHandles(t *testing.T) {
	m, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close() // idempotent
	_, err = m.Score("a", "b")
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("closed model: %v", err)
	}
	if m.Dim() != 0 {
		t.Fatal("closed model has a dimension")
	}
	var nilModel *Model
	if _, err := nilModel.Score("a", "b"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil model: %v", err)
	}
	if _, err := BuildIndex(m, nil, 1); err == nil {
		t.Fatal("BuildIndex with a closed model")
	}
}

// The C message is thread-local and goroutines move between threads: many
// goroutines failing at once must each get their own message.
func TestErrorMessagePerGoroutine(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				path := filepath.Join(dir, fmt.Sprintf("missing-%d-%d.anthem", g, i))
				_, err := LoadModel(path)
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Message, path) {
					errs <- fmt.Errorf("goroutine %d: %v does not name %s", g, err, path)
					return
				}
				runtime.Gosched()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Concurrent scoring on one model, closed while in use: no crash, and
// every call either succeeds or reports ErrClosed.
func TestConcurrentUseAndClose(t *testing.T) {
	m, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := m.Score("wool coat", "a coat of wool"); err != nil && !errors.Is(err, ErrClosed) {
					t.Error(err)
					return
				}
			}
		}()
	}
	m.Close()
	wg.Wait()
}

func TestGammaMatchesConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dim = 8
	cfg.Buckets = 1024
	cfg.Gamma = 0.25
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if g := m.Gamma(); g != 0.25 {
		t.Fatalf("Gamma() = %v, want 0.25", g)
	}
}
