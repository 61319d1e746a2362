package anthem

/*
#include <stdlib.h>
#include <anthem/anthem.h>
*/
import "C"

import (
	"math"
	"runtime"
	"strconv"
	"unsafe"
)

// Geometry is the space a model, a hyperboloid or a set of points lives in
// (anthem_geometry).
type Geometry int

const (
	Hyperbolic Geometry = C.ANTHEM_GEOMETRY_HYPERBOLIC // Poincaré ball: ANTHEM
	Euclidean  Geometry = C.ANTHEM_GEOMETRY_EUCLIDEAN  // flat space, boxes: E-ANTHEM
	Vector     Geometry = C.ANTHEM_GEOMETRY_VECTOR     // flat space, one point per query
)

func (g Geometry) String() string {
	switch g {
	case Hyperbolic:
		return "hyperbolic"
	case Euclidean:
		return "euclidean"
	case Vector:
		return "vector"
	}
	return "geometry(" + strconv.Itoa(int(g)) + ")"
}

// Tokenizer is how a model reads text (anthem_tokenizer, docs/network.md
// step 1).
type Tokenizer int

const (
	TokenizerBytesV1   Tokenizer = C.ANTHEM_TOKENIZER_BYTES_V1   // byte trigrams, ASCII lower-casing
	TokenizerUnicodeV1 Tokenizer = C.ANTHEM_TOKENIZER_UNICODE_V1 // NFKC, case folding, code-point trigrams
)

// Config is how to build a model (anthem_model_config).  Start from
// DefaultConfig: a zero Config is not a valid configuration.
type Config struct {
	Geometry         Geometry
	Dim              int     // 1 to MaxDim()
	Curvature        float32 // c > 0 of the ball
	Buckets          int     // trigram hash buckets
	Gamma            float32 // inside weight of the distance
	Seed             uint64  // initial weights
	HashSeed         uint64  // trigram hash seed
	MaxQueryTrigrams int     // 1 to 64
	MaxTitleTrigrams int     // 1 to 1024
	TieEmbeddings    bool    // title trigrams share the query trigram table
	LexicalBuckets   int     // word buckets of the lexical term; 0: none

	Tokenizer Tokenizer // TokenizerUnicodeV1 by default
}

// DefaultConfig returns the library's defaults (anthem_model_config_init).
func DefaultConfig() Config {
	var c C.anthem_model_config
	C.anthem_model_config_init_size(&c, C.size_t(unsafe.Sizeof(c)))
	return configFromC(&c)
}

func configFromC(c *C.anthem_model_config) Config {
	return Config{
		Geometry:         Geometry(c.geometry),
		Dim:              int(c.dim),
		Curvature:        float32(c.curvature),
		Buckets:          int(c.buckets),
		Gamma:            float32(c.gamma),
		Seed:             uint64(c.seed),
		HashSeed:         uint64(c.hash_seed),
		MaxQueryTrigrams: int(c.max_query_trigrams),
		MaxTitleTrigrams: int(c.max_title_trigrams),
		TieEmbeddings:    c.tie_embeddings != 0,
		LexicalBuckets:   int(c.lexical_buckets),
		Tokenizer:        Tokenizer(c.tokenizer),
	}
}

// toC fills a C config: anthem_model_config_init first, so that fields a
// later C version appends keep their defaults.
func (cfg Config) toC(c *C.anthem_model_config) error {
	C.anthem_model_config_init_size(c, C.size_t(unsafe.Sizeof(*c)))
	for _, f := range []struct {
		name string
		v    int
	}{{"Config.Dim", cfg.Dim}, {"Config.Buckets", cfg.Buckets},
		{"Config.MaxQueryTrigrams", cfg.MaxQueryTrigrams},
		{"Config.MaxTitleTrigrams", cfg.MaxTitleTrigrams},
		{"Config.LexicalBuckets", cfg.LexicalBuckets}} {
		if f.v < 0 {
			return goError(CodeRange, "%s is %d, must be >= 0", f.name, f.v)
		}
	}
	c.geometry = C.anthem_geometry(cfg.Geometry)
	c.dim = C.size_t(cfg.Dim)
	c.curvature = C.float(cfg.Curvature)
	c.buckets = C.size_t(cfg.Buckets)
	c.gamma = C.float(cfg.Gamma)
	c.seed = C.uint64_t(cfg.Seed)
	c.hash_seed = C.uint64_t(cfg.HashSeed)
	c.max_query_trigrams = C.size_t(cfg.MaxQueryTrigrams)
	c.max_title_trigrams = C.size_t(cfg.MaxTitleTrigrams)
	c.lexical_buckets = C.size_t(cfg.LexicalBuckets)
	c.tokenizer = C.anthem_tokenizer(cfg.Tokenizer)
	c.tie_embeddings = 0
	if cfg.TieEmbeddings {
		c.tie_embeddings = 1
	}
	return nil
}

// Model is an ANTHEM network: configuration and weights.  Scoring,
// embedding and explaining only read it, so one Model may serve many
// goroutines at once.
type Model struct {
	obj *object
}

func newModel(p *C.anthem_model) *Model {
	m := &Model{obj: newObject("model", unsafe.Pointer(p), func(p unsafe.Pointer) {
		C.anthem_model_free((*C.anthem_model)(p))
	})}
	runtime.SetFinalizer(m, (*Model).Close)
	return m
}

// NewModel creates a model with freshly initialised weights
// (anthem_model_create).
func NewModel(cfg Config) (*Model, error) {
	var c C.anthem_model_config
	if err := cfg.toC(&c); err != nil {
		return nil, err
	}
	var p *C.anthem_model
	if err := call(func() C.int { return C.anthem_model_create(&p, &c) }); err != nil {
		return nil, err
	}
	return newModel(p), nil
}

// LoadModel maps a model file read-only (anthem_model_load).  Every byte
// is checked first: ErrNotFound, ErrIO, ErrFormat, ErrVersion,
// ErrTruncated, ErrChecksum, with a message naming the file.
func LoadModel(path string) (*Model, error) {
	cpath, err := cstring("path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var p *C.anthem_model
	if err := call(func() C.int { return C.anthem_model_load(&p, cpath) }); err != nil {
		return nil, err
	}
	return newModel(p), nil
}

// LoadModelBuffer loads a model from the bytes of a model file
// (anthem_model_load_buffer; the library copies them).
func LoadModelBuffer(buf []byte) (*Model, error) {
	var ptr unsafe.Pointer
	if len(buf) > 0 {
		ptr = unsafe.Pointer(&buf[0])
	}
	var p *C.anthem_model
	if err := call(func() C.int {
		return C.anthem_model_load_buffer(&p, ptr, C.size_t(len(buf)))
	}); err != nil {
		return nil, err
	}
	return newModel(p), nil
}

// ReadModelConfig reads only the configuration of a model file
// (anthem_model_read_config; the weights' checksum is not verified).
func ReadModelConfig(path string) (Config, error) {
	cpath, err := cstring("path", path)
	if err != nil {
		return Config{}, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var c C.anthem_model_config
	C.anthem_model_config_init_size(&c, C.size_t(unsafe.Sizeof(c)))
	if err := call(func() C.int { return C.anthem_model_read_config(cpath, &c) }); err != nil {
		return Config{}, err
	}
	return configFromC(&c), nil
}

// Close frees the model.  Indexes and hyperboloids made with it stay
// valid.  Close is idempotent.
func (m *Model) Close() error {
	if m != nil {
		m.obj.close()
	}
	return nil
}

func (m *Model) acquire() (*C.anthem_model, error) {
	if m == nil {
		return nil, goError(CodeInvalid, "nil *Model")
	}
	p, err := m.obj.acquire()
	return (*C.anthem_model)(p), err
}

// Save writes the model atomically (anthem_model_save).
func (m *Model) Save(path string) error {
	p, err := m.acquire()
	if err != nil {
		return err
	}
	defer m.obj.release()
	cpath, err := cstring("path", path)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cpath))
	return call(func() C.int { return C.anthem_model_save(p, cpath) })
}

// Config returns the model's configuration (anthem_model_get_config).
func (m *Model) Config() (Config, error) {
	p, err := m.acquire()
	if err != nil {
		return Config{}, err
	}
	defer m.obj.release()
	var c C.anthem_model_config
	C.anthem_model_config_init_size(&c, C.size_t(unsafe.Sizeof(c)))
	if err := call(func() C.int { return C.anthem_model_get_config(p, &c) }); err != nil {
		return Config{}, err
	}
	return configFromC(&c), nil
}

// Dim is the dimension of the model's space (anthem_model_dim); 0 for a
// closed model.
func (m *Model) Dim() int {
	p, err := m.acquire()
	if err != nil {
		return 0
	}
	defer m.obj.release()
	return int(C.anthem_model_dim(p))
}

// Gamma is the inside weight of the distance, what Scan wants
// (anthem_model_gamma).
func (m *Model) Gamma() float32 {
	p, err := m.acquire()
	if err != nil {
		return 0
	}
	defer m.obj.release()
	return float32(C.anthem_model_gamma(p))
}

// LexicalWeight is w of the lexical term (docs/network.md step 8), NaN for
// a model without it (anthem_model_lexical_weight).
func (m *Model) LexicalWeight() float32 {
	p, err := m.acquire()
	if err != nil {
		return float32(math.NaN())
	}
	defer m.obj.release()
	return float32(C.anthem_model_lexical_weight(p))
}

// Geometry is the model's space (anthem_model_geometry).
func (m *Model) Geometry() Geometry {
	p, err := m.acquire()
	if err != nil {
		return Hyperbolic
	}
	defer m.obj.release()
	return Geometry(C.anthem_model_geometry(p))
}

// Fingerprint is the checksum of the file the model was loaded from, 0 for
// a created one (anthem_model_fingerprint).
func (m *Model) Fingerprint() uint64 {
	p, err := m.acquire()
	if err != nil {
		return 0
	}
	defer m.obj.release()
	return uint64(C.anthem_model_fingerprint(p))
}

// IsMapped reports whether the weights are used in place from a mapped
// file (anthem_model_is_mapped).
func (m *Model) IsMapped() bool {
	p, err := m.acquire()
	if err != nil {
		return false
	}
	defer m.obj.release()
	return C.anthem_model_is_mapped(p) != 0
}

// Score is the full (stage 2) model's distance of a product title to a
// query; smaller is better (anthem_model_score).
func (m *Model) Score(query, title string) (float32, error) {
	p, err := m.acquire()
	if err != nil {
		return 0, err
	}
	defer m.obj.release()
	cq, err := cstring("query", query)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cq))
	ct, err := cstring("title", title)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(ct))
	var d C.float
	if err := call(func() C.int { return C.anthem_model_score(p, cq, ct, &d) }); err != nil {
		return 0, err
	}
	return float32(d), nil
}

// EmbedQuery returns the product-independent (stage 1) hyperboloid of a
// query (anthem_model_embed_query).
func (m *Model) EmbedQuery(query string) (*Hyperboloid, error) {
	p, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.obj.release()
	cq, err := cstring("query", query)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cq))
	var h *C.anthem_hyperboloid
	if err := call(func() C.int { return C.anthem_model_embed_query(p, cq, &h) }); err != nil {
		return nil, err
	}
	return newHyperboloid(h), nil
}

// EmbedProducts returns the product points of titles, one row of Dim()
// floats per title (anthem_model_embed_products).  The rows share one
// backing array.
func (m *Model) EmbedProducts(titles []string) ([][]float32, error) {
	p, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.obj.release()
	dim := int(C.anthem_model_dim(p))
	flat := make([]float32, len(titles)*dim)
	if err := embedProducts(p, flat, titles); err != nil {
		return nil, err
	}
	rows := make([][]float32, len(titles))
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return rows, nil
}

// EmbedProductsInto writes the product points of titles into dst, row-major
// (anthem_model_embed_products).  dst must hold exactly len(titles)*Dim()
// floats; the library writes into it directly, without a copy.
func (m *Model) EmbedProductsInto(dst []float32, titles []string) error {
	p, err := m.acquire()
	if err != nil {
		return err
	}
	defer m.obj.release()
	dim := int(C.anthem_model_dim(p))
	if len(dst) != len(titles)*dim {
		return goError(CodeMismatch, "dst holds %d floats, %d titles x dimension %d need %d",
			len(dst), len(titles), dim, len(titles)*dim)
	}
	return embedProducts(p, dst, titles)
}

func embedProducts(p *C.anthem_model, dst []float32, titles []string) error {
	if len(titles) == 0 {
		return nil
	}
	ct, err := cstrings("titles", titles)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(ct))
	return call(func() C.int {
		return C.anthem_model_embed_products(p, ct, C.size_t(len(titles)), floatPtr(dst))
	})
}

// Explanation is the attention grid of a (query, title) pair: how much
// each query trigram (row) attends to each title trigram (column).
type Explanation struct {
	Rows     []string  // query trigrams, e.g. "#co"
	Cols     []string  // title trigrams
	Weights  []float32 // len(Rows) x len(Cols), row-major; each row sums to 1
	Distance float32   // the pair's distance (what Score returns)
}

// At is the weight of row r, column c.
func (e *Explanation) At(r, c int) float32 { return e.Weights[r*len(e.Cols)+c] }

// Row is the weights of row r (a sub-slice of Weights).
func (e *Explanation) Row(r int) []float32 {
	n := len(e.Cols)
	return e.Weights[r*n : (r+1)*n : (r+1)*n]
}

// Explain returns the attention grid of a pair (anthem_model_explain); the
// C explanation is copied and freed at once.
func (m *Model) Explain(query, title string) (*Explanation, error) {
	p, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.obj.release()
	cq, err := cstring("query", query)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cq))
	ct, err := cstring("title", title)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(ct))
	var e *C.anthem_explanation
	if err := call(func() C.int { return C.anthem_model_explain(p, cq, ct, &e) }); err != nil {
		return nil, err
	}
	defer C.anthem_explanation_free(e)
	rows, cols := int(C.anthem_explanation_rows(e)), int(C.anthem_explanation_cols(e))
	out := &Explanation{
		Rows:     make([]string, rows),
		Cols:     make([]string, cols),
		Weights:  make([]float32, rows*cols),
		Distance: float32(C.anthem_explanation_distance(e)),
	}
	for r := range out.Rows {
		out.Rows[r] = C.GoString(C.anthem_explanation_row_label(e, C.size_t(r)))
	}
	for c := range out.Cols {
		out.Cols[c] = C.GoString(C.anthem_explanation_col_label(e, C.size_t(c)))
	}
	if w := C.anthem_explanation_weights(e); w != nil && rows*cols > 0 {
		copy(out.Weights, unsafe.Slice((*float32)(unsafe.Pointer(w)), rows*cols))
	}
	return out, nil
}
