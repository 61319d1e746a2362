package anthem

/*
#include <stdlib.h>
#include <anthem/anthem.h>
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"
)

// Index is the product points of a catalogue under one model, with the
// products' ids and titles (anthem_index).  Read-only: safe to share
// between goroutines.
type Index struct {
	obj *object
}

// Hit is one search result; smaller distances are better.
type Hit struct {
	Index     int     // position in the index (and in its catalogue)
	ProductID string  // anthem_index_id
	Title     string  // anthem_index_title
	Distance  float32 // the model's distance; may be negative with the lexical term
}

// Score is -Distance: larger is better, as the anthem CLI shows it.
func (h Hit) Score() float32 { return -h.Distance }

func newIndex(p *C.anthem_index) *Index {
	ix := &Index{obj: newObject("index", unsafe.Pointer(p), func(p unsafe.Pointer) {
		C.anthem_index_free((*C.anthem_index)(p))
	})}
	runtime.SetFinalizer(ix, (*Index).Close)
	return ix
}

// BuildIndex embeds every product of a catalogue with a model
// (anthem_index_build; threads 0 = all cores).  The index copies what it
// needs: the model and the catalogue may be closed afterwards.
func BuildIndex(m *Model, c *Catalog, threads int) (*Index, error) {
	mp, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.obj.release()
	cp, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.obj.release()
	th, err := size("threads", threads)
	if err != nil {
		return nil, err
	}
	var p *C.anthem_index
	if err := call(func() C.int { return C.anthem_index_build(&p, mp, cp, th) }); err != nil {
		return nil, err
	}
	return newIndex(p), nil
}

// PointFormat is the format of stage 1's points (anthem_point_format).
type PointFormat int

const (
	PointsFloat32 PointFormat = C.ANTHEM_POINTS_FLOAT32 // the points as they are
	PointsInt8    PointFormat = C.ANTHEM_POINTS_INT8    // also int8 tangent-space codes, which stage 1 scans (re-scored in float)
)

// IndexOptions tune BuildIndexEx (anthem_index_options).  Start from
// DefaultIndexOptions(): zero AnnDegree and AnnEf are refused when Ann
// is set.  A nil *IndexOptions means the defaults.
type IndexOptions struct {
	Threads int // embedding and graph threads (0, default: all cores)
	// Ann also builds the approximate index, a proximity graph over the
	// points (false: the exact scan only); HasAnn tells.
	Ann       bool
	AnnDegree int         // neighbours per product (32; 2 to 256)
	AnnEf     int         // the build's beam width (128; up to 4096)
	AnnSeed   uint64      // the insertion order (1): same seed, same graph, whatever Threads
	Points    PointFormat // stage 1's points (PointsFloat32)
	// AnnProgress, if set, is called as the graph is built (ann_progress):
	// after each round of insertions and once at the end with done ==
	// total, for progress reports (a 10M-product graph takes hours).  It
	// runs on the thread of the build, must not use the index being built,
	// and cannot stop the build: a panic in it is recovered, later reports
	// are skipped, and BuildIndexEx returns it as a *PanicError (and no
	// index) once the build has ended.
	AnnProgress func(done, total int)
}

// annProgressState is what ann_progress_user designates (a cgo.Handle
// for the duration of one BuildIndexEx).
type annProgressState struct {
	mu  sync.Mutex
	fn  func(done, total int)
	err error
}

//export goAnthemAnnProgress
func goAnthemAnnProgress(done, total C.size_t, user unsafe.Pointer) {
	st, ok := cgo.Handle(uintptr(user)).Value().(*annProgressState)
	if !ok {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			st.err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	st.fn(int(done), int(total))
}

// DefaultIndexOptions returns the library's defaults
// (anthem_index_options_init): Threads 0, no graph, AnnDegree 32, AnnEf
// 128, AnnSeed 1, PointsFloat32.
func DefaultIndexOptions() IndexOptions {
	var o C.anthem_index_options
	C.anthem_index_options_init_size(&o, C.size_t(unsafe.Sizeof(o)))
	return IndexOptions{
		Threads:   int(o.threads),
		Ann:       o.ann != 0,
		AnnDegree: int(o.ann_degree),
		AnnEf:     int(o.ann_ef),
		AnnSeed:   uint64(o.ann_seed),
		Points:    PointFormat(o.points),
	}
}

// BuildIndexEx is BuildIndex with options (anthem_index_build_ex): the
// graph of the approximate index, int8 points.
func BuildIndexEx(m *Model, c *Catalog, opts *IndexOptions) (*Index, error) {
	o := DefaultIndexOptions()
	if opts != nil {
		o = *opts
	}
	var co C.anthem_index_options
	C.anthem_index_options_init_size(&co, C.size_t(unsafe.Sizeof(co)))
	var err error
	if co.threads, err = size("IndexOptions.Threads", o.Threads); err != nil {
		return nil, err
	}
	if co.ann_degree, err = size("IndexOptions.AnnDegree", o.AnnDegree); err != nil {
		return nil, err
	}
	if co.ann_ef, err = size("IndexOptions.AnnEf", o.AnnEf); err != nil {
		return nil, err
	}
	if o.Points != PointsFloat32 && o.Points != PointsInt8 {
		return nil, goError(CodeInvalid, "IndexOptions.Points is %d, must be PointsFloat32 or PointsInt8", o.Points)
	}
	co.points = C.anthem_point_format(o.Points)
	co.ann_seed = C.uint64_t(o.AnnSeed)
	co.ann = 0
	if o.Ann {
		co.ann = 1
	}
	mp, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.obj.release()
	cp, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.obj.release()
	var st *annProgressState
	if o.AnnProgress != nil {
		st = &annProgressState{fn: o.AnnProgress}
		h := cgo.NewHandle(st)
		defer h.Delete()
		setAnnProgress(&co, h)
	}
	var p *C.anthem_index
	if err := call(func() C.int { return C.anthem_index_build_ex(&p, mp, cp, &co) }); err != nil {
		return nil, err
	}
	if st != nil {
		st.mu.Lock()
		err := st.err
		st.mu.Unlock()
		if err != nil {
			C.anthem_index_free(p)
			return nil, err
		}
	}
	return newIndex(p), nil
}

// LoadIndex maps an index file (anthem_index_load).  With a model, it
// checks that the index was built with that model's file (ErrMismatch
// otherwise); a nil model skips the check.
func LoadIndex(path string, m *Model) (*Index, error) {
	var mp *C.anthem_model
	if m != nil {
		var err error
		if mp, err = m.acquire(); err != nil {
			return nil, err
		}
		defer m.obj.release()
	}
	cpath, err := cstring("path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var p *C.anthem_index
	if err := call(func() C.int { return C.anthem_index_load(&p, cpath, mp) }); err != nil {
		return nil, err
	}
	return newIndex(p), nil
}

// Close frees the index.  Idempotent.
func (ix *Index) Close() error {
	if ix != nil {
		ix.obj.close()
	}
	return nil
}

func (ix *Index) acquire() (*C.anthem_index, error) {
	if ix == nil {
		return nil, goError(CodeInvalid, "nil *Index")
	}
	p, err := ix.obj.acquire()
	return (*C.anthem_index)(p), err
}

// Save writes the index atomically (anthem_index_save).
func (ix *Index) Save(path string) error {
	p, err := ix.acquire()
	if err != nil {
		return err
	}
	defer ix.obj.release()
	cpath, err := cstring("path", path)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cpath))
	return call(func() C.int { return C.anthem_index_save(p, cpath) })
}

// Len is the number of products.
func (ix *Index) Len() int {
	p, err := ix.acquire()
	if err != nil {
		return 0
	}
	defer ix.obj.release()
	return int(C.anthem_index_count(p))
}

// Dim is the dimension of the points.
func (ix *Index) Dim() int {
	p, err := ix.acquire()
	if err != nil {
		return 0
	}
	defer ix.obj.release()
	return int(C.anthem_index_dim(p))
}

// ID is the product id at position i; "" out of range.
func (ix *Index) ID(i int) string {
	if i < 0 {
		return ""
	}
	p, err := ix.acquire()
	if err != nil {
		return ""
	}
	defer ix.obj.release()
	return C.GoString(C.anthem_index_id(p, C.size_t(i)))
}

// Title is the product title at position i; "" out of range.
func (ix *Index) Title(i int) string {
	if i < 0 {
		return ""
	}
	p, err := ix.acquire()
	if err != nil {
		return ""
	}
	defer ix.obj.release()
	return C.GoString(C.anthem_index_title(p, C.size_t(i)))
}

// HasAnn tells whether the index holds the approximate index, a graph
// (anthem_index_has_ann; IndexOptions.Ann).
func (ix *Index) HasAnn() bool {
	p, err := ix.acquire()
	if err != nil {
		return false
	}
	defer ix.obj.release()
	return C.anthem_index_has_ann(p) != 0
}

// AnnParams returns the graph's build parameters (IndexOptions.AnnDegree,
// AnnEf and AnnSeed; anthem_index_ann_params), and ok false when the
// index has no graph.
func (ix *Index) AnnParams() (degree, ef int, seed uint64, ok bool) {
	p, err := ix.acquire()
	if err != nil {
		return 0, 0, 0, false
	}
	defer ix.obj.release()
	var d, e C.size_t
	var s C.uint64_t
	if C.anthem_index_ann_params(p, &d, &e, &s) != C.ANTHEM_OK {
		return 0, 0, 0, false
	}
	return int(d), int(e), uint64(s), true
}

// FormatVersion is the index file's layout version (docs/format.md): the
// loaded file's, or the one Save writes (anthem_index_format_version).
func (ix *Index) FormatVersion() int {
	p, err := ix.acquire()
	if err != nil {
		return 0
	}
	defer ix.obj.release()
	return int(C.anthem_index_format_version(p))
}

// Points is the format of the points stage 1's scan reads: PointsInt8
// for an index built with IndexOptions.Points = PointsInt8
// (anthem_index_points), else PointsFloat32.
func (ix *Index) Points() PointFormat {
	p, err := ix.acquire()
	if err != nil {
		return PointsFloat32
	}
	defer ix.obj.release()
	return PointFormat(C.anthem_index_points(p))
}

// ModelFingerprint is the fingerprint of the model the index was built
// with (anthem_index_model_fingerprint).
func (ix *Index) ModelFingerprint() uint64 {
	p, err := ix.acquire()
	if err != nil {
		return 0
	}
	defer ix.obj.release()
	return uint64(C.anthem_index_model_fingerprint(p))
}

// Vectors returns the index's points as a set (anthem_index_vectors).  The
// set is a view: it keeps the index's memory alive until the set is closed
// too, and its Close frees nothing of its own.
func (ix *Index) Vectors() (*Vectors, error) {
	p, err := ix.acquire() // held by the view, released when it is freed
	if err != nil {
		return nil, err
	}
	vp := C.anthem_index_vectors(p)
	v := &Vectors{obj: newObject("vector set", unsafe.Pointer(vp), nil, ix.obj)}
	runtime.SetFinalizer(v, (*Vectors).Close)
	return v, nil
}

func (ix *Index) hits(p *C.anthem_index, raw []C.anthem_hit) []Hit {
	out := make([]Hit, len(raw))
	for i, h := range raw {
		out[i] = Hit{
			Index:     int(h.index),
			ProductID: C.GoString(C.anthem_index_id(p, h.index)),
			Title:     C.GoString(C.anthem_index_title(p, h.index)),
			Distance:  float32(h.distance),
		}
	}
	return out
}

// Scan is stage 1 alone: the k products nearest to a query region, best
// first (anthem_index_scan).  gamma is the model's Config.Gamma.
func (ix *Index) Scan(h *Hyperboloid, gamma float32, k int) ([]Hit, error) {
	return ix.ScanThreads(h, gamma, k, 1)
}

// ScanThreads is Scan with the products split over threads threads (0:
// all cores); the hits do not depend on it (anthem_index_scan_threads).
func (ix *Index) ScanThreads(h *Hyperboloid, gamma float32, k, threads int) ([]Hit, error) {
	ct, err := size("threads", threads)
	if err != nil {
		return nil, err
	}
	p, err := ix.acquire()
	if err != nil {
		return nil, err
	}
	defer ix.obj.release()
	hp, err := h.acquire()
	if err != nil {
		return nil, err
	}
	defer h.obj.release()
	ck, err := size("k", k)
	if err != nil {
		return nil, err
	}
	if n := int(C.anthem_index_count(p)); k > n {
		k = n // the library returns at most count hits: size the buffer to fit
		ck = C.size_t(k)
	}
	raw := make([]C.anthem_hit, k)
	var rawp *C.anthem_hit
	if k > 0 {
		rawp = &raw[0]
	}
	var n C.size_t
	if err := call(func() C.int { return C.anthem_index_scan_threads(p, hp, C.float(gamma), ck, ct, rawp, &n) }); err != nil {
		return nil, err
	}
	return ix.hits(p, raw[:int(n)]), nil
}

// Stage1 is the region source of stage 1 (anthem_search_options.stage1).
type Stage1 int

const (
	// Stage1Auto scans, the int8 points when the index has them
	// (re-scored in float); it never chooses the graph.
	Stage1Auto Stage1 = C.ANTHEM_STAGE1_AUTO
	// Stage1Exact scans the float points.
	Stage1Exact Stage1 = C.ANTHEM_STAGE1_EXACT
	// Stage1Graph searches the graph when the index has one (still the
	// scan for And / Or and Allow, and without a graph).
	Stage1Graph Stage1 = C.ANTHEM_STAGE1_GRAPH
)

// SearchOptions tune SearchEx and SearchBatch (anthem_search_options).
// Start from DefaultSearchOptions(): a zero K asks for no hit and a zero
// Threads means all cores.  A nil *SearchOptions means the defaults.
type SearchOptions struct {
	K  int // hits wanted (10)
	K1 int // candidates each stage-1 source keeps, which stage 2 reranks (200; 0 means 200)
	// Threads (1): SearchEx splits one query's scan and rerank over this
	// many, SearchBatch spreads its queries over them (0: all cores; at
	// most 256).  The hits never depend on it.
	Threads int
	And     []string // texts intersected with the query (at most 16)
	Or      []string // texts united with it (at most 16)
	// Allow, when not nil, is a filter: only these index positions may
	// be returned (any order, repeats ignored).  A non-nil empty slice
	// allows nothing.  Find gives the position of a product id.
	Allow      []int
	Stage1Only bool // stop after stage 1: candidates ranked by their stage-1 distance
	// Timeout, when > 0, is the call's budget (rounded up to a
	// millisecond): past it the call returns an error matching
	// ErrCanceled (anthem_search_options.timeout_ms).
	Timeout time.Duration
	Stage1  Stage1 // Stage1Auto (default), Stage1Exact or Stage1Graph
	// Ef is the graph search's beam width (0: 2 max(K, K1), at least
	// 64); larger finds more of the exact top K1.
	Ef int
	// Stage2Elements, when > 0, lets stage 2 attend from at most this
	// many elements of each text (0: all): an approximation that saves
	// time on long queries (docs/performance.md, "Stage 2's elements").
	Stage2Elements int
	// Prefilter is the int8 scan's box prefilter (Stage1Auto on an index
	// with int8 points; docs/architecture.md): only the best this many by
	// a cheap flat box distance are re-scored in float32.  0: 2 max(K,
	// K1) when the index holds 16 times that; PrefilterOff: every
	// product's int8 distance; smaller values are raised to 2 max(K, K1).
	Prefilter int
}

// PrefilterOff turns the box prefilter off (ANTHEM_PREFILTER_OFF).
const PrefilterOff = -1

// DefaultSearchOptions returns the library's defaults
// (anthem_search_options_init): K 10, K1 200, Threads 1, Stage1Auto, Ef
// 0, Stage2Elements 0, Prefilter 0.
func DefaultSearchOptions() SearchOptions {
	var o C.anthem_search_options
	C.anthem_search_options_init_size(&o, C.size_t(unsafe.Sizeof(o)))
	return SearchOptions{K: int(o.k), K1: int(o.k1), Threads: int(o.threads),
		Stage1: Stage1(o.stage1), Ef: int(o.ef), Stage2Elements: int(o.stage2_elements)}
}

// cSearchOptions fills a C anthem_search_options from opts.  The texts
// and the filter are copied into C memory, so the struct holds no Go
// pointer; free releases that memory after the call.  k is opts.K capped
// to the index size (count): the hit buffers are sized from it.
func cSearchOptions(opts *SearchOptions, count int) (co C.anthem_search_options, k int, free func(), err error) {
	o := DefaultSearchOptions()
	if opts != nil {
		o = *opts
	}
	C.anthem_search_options_init_size(&co, C.size_t(unsafe.Sizeof(co)))
	var blocks []unsafe.Pointer
	free = func() {
		for _, b := range blocks {
			C.free(b)
		}
	}
	defer func() {
		if err != nil {
			free()
			free = func() {}
		}
	}()
	if o.K < 0 {
		return co, 0, free, goError(CodeRange, "SearchOptions.K is %d, must be >= 0", o.K)
	}
	k = o.K
	if k > count {
		k = count
	}
	co.k = C.size_t(k)
	if co.k1, err = size("SearchOptions.K1", o.K1); err != nil {
		return co, 0, free, err
	}
	if co.threads, err = size("SearchOptions.Threads", o.Threads); err != nil {
		return co, 0, free, err
	}
	if len(o.And) > 0 {
		p, err := cstrings("SearchOptions.And", o.And)
		if err != nil {
			return co, 0, free, err
		}
		blocks = append(blocks, unsafe.Pointer(p))
		co.and_queries, co.n_and = p, C.size_t(len(o.And))
	}
	if len(o.Or) > 0 {
		p, err := cstrings("SearchOptions.Or", o.Or)
		if err != nil {
			return co, 0, free, err
		}
		blocks = append(blocks, unsafe.Pointer(p))
		co.or_queries, co.n_or = p, C.size_t(len(o.Or))
	}
	if o.Allow != nil {
		// never NULL: an empty filter allows nothing, NULL is no filter
		n := len(o.Allow)
		block := C.malloc(C.size_t(n+1) * C.size_t(unsafe.Sizeof(C.size_t(0))))
		if block == nil {
			return co, 0, free, goError(CodeNoMem, "out of memory for a filter of %d positions", n)
		}
		blocks = append(blocks, block)
		allow := unsafe.Slice((*C.size_t)(block), n)
		for i, p := range o.Allow {
			if p < 0 {
				return co, 0, free, goError(CodeRange, "SearchOptions.Allow[%d] is %d, must be >= 0", i, p)
			}
			allow[i] = C.size_t(p)
		}
		co.allow, co.n_allow = (*C.size_t)(block), C.size_t(n)
	}
	if o.Stage1Only {
		co.stage1_only = 1
	}
	if o.Timeout < 0 {
		return co, 0, free, goError(CodeRange, "SearchOptions.Timeout is %v, must be >= 0", o.Timeout)
	}
	if o.Timeout > 0 {
		co.timeout_ms = C.uint64_t((o.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	if o.Stage1 < Stage1Auto || o.Stage1 > Stage1Graph {
		return co, 0, free, goError(CodeInvalid, "SearchOptions.Stage1 is %d, must be Stage1Auto, Stage1Exact or Stage1Graph", o.Stage1)
	}
	co.stage1 = C.int(o.Stage1)
	if co.ef, err = size("SearchOptions.Ef", o.Ef); err != nil {
		return co, 0, free, err
	}
	if co.stage2_elements, err = size("SearchOptions.Stage2Elements", o.Stage2Elements); err != nil {
		return co, 0, free, err
	}
	if o.Prefilter == PrefilterOff {
		co.prefilter = C.ANTHEM_PREFILTER_OFF
	} else if co.prefilter, err = size("SearchOptions.Prefilter", o.Prefilter); err != nil {
		return co, 0, free, err
	}
	return co, k, free, nil
}

// pair holds the index and the model for one call; end lets both go.
func (ix *Index) pair(m *Model) (*C.anthem_index, *C.anthem_model, func(), error) {
	p, err := ix.acquire()
	if err != nil {
		return nil, nil, nil, err
	}
	mp, err := m.acquire()
	if err != nil {
		ix.obj.release()
		return nil, nil, nil, err
	}
	return p, mp, func() { m.obj.release(); ix.obj.release() }, nil
}

// begin is pair and the query as a C string; end frees it too.
func (ix *Index) begin(m *Model, query string) (*C.anthem_index, *C.anthem_model, *C.char, func(), error) {
	p, mp, end, err := ix.pair(m)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cq, err := cstring("query", query)
	if err != nil {
		end()
		return nil, nil, nil, nil, err
	}
	return p, mp, cq, func() { C.free(unsafe.Pointer(cq)); end() }, nil
}

// cPositions copies index positions for C, refusing negative ones (what
// names the argument in the error).
func cPositions(what string, xs []int) ([]C.size_t, error) {
	out := make([]C.size_t, len(xs))
	for i, x := range xs {
		if x < 0 {
			return nil, goError(CodeRange, "%s[%d] is %d, must be >= 0", what, i, x)
		}
		out[i] = C.size_t(x)
	}
	return out, nil
}

func hitPtr(raw []C.anthem_hit) *C.anthem_hit {
	if len(raw) == 0 {
		return nil
	}
	return &raw[0]
}

// Search runs the query pipeline with k and k1 and every other option at
// its default (anthem_search): stage 1 keeps the k1 products nearest to
// the query's region (0 means 200) and, with the lexical term, the k1
// titles of highest BM25; the full model reranks them, and the best k are
// returned, best first.
func (ix *Index) Search(m *Model, query string, k, k1 int) ([]Hit, error) {
	o := DefaultSearchOptions()
	o.K, o.K1 = k, k1
	return ix.SearchEx(m, query, &o)
}

// SearchEx runs one query through the pipeline with options
// (anthem_search_ex): AND / OR texts, a filter, threads, stage 1 alone,
// stage 1's source, stage 2's elements.
// At most K hits, fewer only when the index (or the filter) holds fewer
// products; best first.  A distance may be negative with the lexical
// term; a score shown to users is -Distance.
func (ix *Index) SearchEx(m *Model, query string, opts *SearchOptions) ([]Hit, error) {
	p, mp, cq, end, err := ix.begin(m, query)
	if err != nil {
		return nil, err
	}
	defer end()
	co, k, free, err := cSearchOptions(opts, int(C.anthem_index_count(p)))
	if err != nil {
		return nil, err
	}
	defer free()
	raw := make([]C.anthem_hit, k)
	var n C.size_t
	if err := call(func() C.int { return C.anthem_search_ex(mp, p, cq, &co, hitPtr(raw), &n) }); err != nil {
		return nil, err
	}
	return ix.hits(p, raw[:int(n)]), nil
}

// SearchBatch runs many queries with the same options
// (anthem_search_batch); Threads spreads the queries.  Result q holds
// exactly the hits SearchEx gives queries[q].
func (ix *Index) SearchBatch(m *Model, queries []string, opts *SearchOptions) ([][]Hit, error) {
	p, mp, end, err := ix.pair(m)
	if err != nil {
		return nil, err
	}
	defer end()
	cq, err := cstrings("queries", queries)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cq))
	co, k, free, err := cSearchOptions(opts, int(C.anthem_index_count(p)))
	if err != nil {
		return nil, err
	}
	defer free()
	nq := len(queries)
	raw := make([]C.anthem_hit, nq*k)
	counts := make([]C.size_t, nq)
	var countp *C.size_t
	if nq > 0 {
		countp = &counts[0]
	}
	if err := call(func() C.int {
		return C.anthem_search_batch(mp, p, cq, C.size_t(nq), &co, hitPtr(raw), countp)
	}); err != nil {
		return nil, err
	}
	out := make([][]Hit, nq)
	for q := range out {
		out[q] = ix.hits(p, raw[q*k:q*k+int(counts[q])])
	}
	return out, nil
}

// Find returns the position of the product with this id
// (anthem_index_find), and false when the index holds none.
func (ix *Index) Find(id string) (int, bool) {
	p, err := ix.acquire()
	if err != nil {
		return -1, false
	}
	defer ix.obj.release()
	cid, err := cstring("id", id)
	if err != nil {
		return -1, false // a NUL byte: no id of the index holds one
	}
	defer C.free(unsafe.Pointer(cid))
	var pos C.size_t
	if C.anthem_index_find(p, cid, &pos) != C.ANTHEM_OK {
		return -1, false
	}
	return int(pos), true
}

// Rerank is stage 2 on candidates an engine brings (its BM25 top N,
// filtered upstream): the full model ranks the products at these index
// positions, best first (anthem_rerank).
func (ix *Index) Rerank(m *Model, query string, positions []int) ([]Hit, error) {
	p, mp, cq, end, err := ix.begin(m, query)
	if err != nil {
		return nil, err
	}
	defer end()
	pos, err := cPositions("positions", positions)
	if err != nil {
		return nil, err
	}
	var posp *C.size_t
	if len(pos) > 0 {
		posp = &pos[0]
	}
	raw := make([]C.anthem_hit, len(pos))
	if err := call(func() C.int {
		return C.anthem_rerank(mp, p, cq, posp, C.size_t(len(pos)), hitPtr(raw))
	}); err != nil {
		return nil, err
	}
	return ix.hits(p, raw), nil
}

// RerankIDs is Rerank by product id: ids the index does not hold are left
// out (anthem_rerank_ids).
func (ix *Index) RerankIDs(m *Model, query string, ids []string) ([]Hit, error) {
	p, mp, cq, end, err := ix.begin(m, query)
	if err != nil {
		return nil, err
	}
	defer end()
	cids, err := cstrings("ids", ids)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cids))
	raw := make([]C.anthem_hit, len(ids))
	var n C.size_t
	if err := call(func() C.int {
		return C.anthem_rerank_ids(mp, p, cq, cids, C.size_t(len(ids)), hitPtr(raw), &n)
	}); err != nil {
		return nil, err
	}
	return ix.hits(p, raw[:int(n)]), nil
}

// Score is stage 2 on candidates an engine brings: the full model's
// distance of each candidate (index positions) to the query (anthem_score).
func (ix *Index) Score(m *Model, query string, candidates []int) ([]float32, error) {
	p, mp, cq, end, err := ix.begin(m, query)
	if err != nil {
		return nil, err
	}
	defer end()
	cand, err := cPositions("candidates", candidates)
	if err != nil {
		return nil, err
	}
	dist := make([]float32, len(candidates))
	if len(candidates) == 0 {
		return dist, nil
	}
	if err := call(func() C.int {
		return C.anthem_score(mp, p, cq, &cand[0], C.size_t(len(cand)), floatPtr(dist))
	}); err != nil {
		return nil, err
	}
	return dist, nil
}

// Metrics are ranking quality measures over the queries of a judgement set
// (anthem_metrics).
type Metrics struct {
	NDCG3, NDCG5, NDCG10 float64
	MAP, MRR             float64
	Queries              int     // queries that count
	Skipped              int     // queries with no relevant product
	RecallK1             float64 // share of relevant products among stage 1's candidates (K1 nearest, and K1 best by BM25 with the lexical term)
	K1                   int
}

func metricsFromC(m *C.anthem_metrics) Metrics {
	return Metrics{
		NDCG3: float64(m.ndcg3), NDCG5: float64(m.ndcg5), NDCG10: float64(m.ndcg10),
		MAP: float64(m._map), MRR: float64(m.mrr),
		Queries: int(m.queries), Skipped: int(m.skipped),
		RecallK1: float64(m.recall_k1), K1: int(m.k1),
	}
}

// EvalOptions tune Evaluate (anthem_eval_options).  Start from
// DefaultEvalOptions: zero means "all" for Threads and MaxQueries and
// "stage 1 alone" for K1.
type EvalOptions struct {
	K1         int // stage-1 candidates reranked by stage 2 (200); 0: stage 1 alone
	Threads    int // 0: all cores
	MaxQueries int // 0: all
}

// DefaultEvalOptions returns the library's defaults (anthem_eval_options_init).
func DefaultEvalOptions() EvalOptions {
	var o C.anthem_eval_options
	C.anthem_eval_options_init_size(&o, C.size_t(unsafe.Sizeof(o)))
	return EvalOptions{K1: int(o.k1), Threads: int(o.threads), MaxQueries: int(o.max_queries)}
}

// Evaluate ranks the whole catalogue for every query of the judgements with
// the model and measures the ranking (anthem_evaluate).  A nil opts means
// DefaultEvalOptions().
func Evaluate(m *Model, c *Catalog, j *Judgments, opts *EvalOptions) (Metrics, error) {
	o := DefaultEvalOptions()
	if opts != nil {
		o = *opts
	}
	var co C.anthem_eval_options
	C.anthem_eval_options_init_size(&co, C.size_t(unsafe.Sizeof(co)))
	var err error
	if co.k1, err = size("EvalOptions.K1", o.K1); err != nil {
		return Metrics{}, err
	}
	if co.threads, err = size("EvalOptions.Threads", o.Threads); err != nil {
		return Metrics{}, err
	}
	if co.max_queries, err = size("EvalOptions.MaxQueries", o.MaxQueries); err != nil {
		return Metrics{}, err
	}
	mp, err := m.acquire()
	if err != nil {
		return Metrics{}, err
	}
	defer m.obj.release()
	cp, err := c.acquire()
	if err != nil {
		return Metrics{}, err
	}
	defer c.obj.release()
	jp, err := j.acquire()
	if err != nil {
		return Metrics{}, err
	}
	defer j.obj.release()
	var out C.anthem_metrics
	C.anthem_metrics_init_size(&out, C.size_t(unsafe.Sizeof(out)))
	if err := call(func() C.int { return C.anthem_evaluate(mp, cp, jp, &co, &out) }); err != nil {
		return Metrics{}, err
	}
	return metricsFromC(&out), nil
}

// EvaluateRanking measures a ranking made elsewhere, read from
// `query<TAB>product_id<TAB>rank[<TAB>score]` lines
// (anthem_evaluate_ranking).
func EvaluateRanking(path string, c *Catalog, j *Judgments) (Metrics, error) {
	cp, err := c.acquire()
	if err != nil {
		return Metrics{}, err
	}
	defer c.obj.release()
	jp, err := j.acquire()
	if err != nil {
		return Metrics{}, err
	}
	defer j.obj.release()
	cpath, err := cstring("path", path)
	if err != nil {
		return Metrics{}, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var out C.anthem_metrics
	C.anthem_metrics_init_size(&out, C.size_t(unsafe.Sizeof(out)))
	if err := call(func() C.int { return C.anthem_evaluate_ranking(cpath, cp, jp, &out) }); err != nil {
		return Metrics{}, err
	}
	return metricsFromC(&out), nil
}
