package anthem

/*
#include <stdlib.h>
#include <anthem/anthem.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// ReadFlags say how strictly a data file is read.
type ReadFlags uint

const (
	// ReadStrict fails on the first malformed line ("FILE:LINE: reason").
	ReadStrict ReadFlags = C.ANTHEM_READ_STRICT
	// ReadLenient skips malformed lines and counts them (Skipped).
	ReadLenient ReadFlags = C.ANTHEM_READ_LENIENT
)

// Catalog is a catalogue of products read from `product_id<TAB>title`
// lines (anthem_catalog).  Immutable once loaded.
type Catalog struct {
	obj *object
}

// LoadCatalog reads a catalogue file (anthem_catalog_load).
func LoadCatalog(path string, flags ReadFlags) (*Catalog, error) {
	cpath, err := cstring("path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var p *C.anthem_catalog
	if err := call(func() C.int { return C.anthem_catalog_load(&p, cpath, C.unsigned(flags)) }); err != nil {
		return nil, err
	}
	c := &Catalog{obj: newObject("catalog", unsafe.Pointer(p), func(p unsafe.Pointer) {
		C.anthem_catalog_free((*C.anthem_catalog)(p))
	})}
	runtime.SetFinalizer(c, (*Catalog).Close)
	return c, nil
}

// Close frees the catalogue, or, while a Trainer still uses it, lets the
// trainer free it when it is done.  Idempotent.
func (c *Catalog) Close() error {
	if c != nil {
		c.obj.close()
	}
	return nil
}

func (c *Catalog) acquire() (*C.anthem_catalog, error) {
	if c == nil {
		return nil, goError(CodeInvalid, "nil *Catalog")
	}
	p, err := c.obj.acquire()
	return (*C.anthem_catalog)(p), err
}

// Len is the number of products.
func (c *Catalog) Len() int {
	p, err := c.acquire()
	if err != nil {
		return 0
	}
	defer c.obj.release()
	return int(C.anthem_catalog_count(p))
}

// ID is the id of product i (file order); "" out of range.
func (c *Catalog) ID(i int) string {
	if i < 0 {
		return ""
	}
	p, err := c.acquire()
	if err != nil {
		return ""
	}
	defer c.obj.release()
	return C.GoString(C.anthem_catalog_id(p, C.size_t(i)))
}

// Title is the title of product i; "" out of range.
func (c *Catalog) Title(i int) string {
	if i < 0 {
		return ""
	}
	p, err := c.acquire()
	if err != nil {
		return ""
	}
	defer c.obj.release()
	return C.GoString(C.anthem_catalog_title(p, C.size_t(i)))
}

// Find returns the index of a product id (anthem_catalog_find), or an
// error matching ErrNotFound.
func (c *Catalog) Find(id string) (int, error) {
	p, err := c.acquire()
	if err != nil {
		return -1, err
	}
	defer c.obj.release()
	cid, err := cstring("id", id)
	if err != nil {
		return -1, err
	}
	defer C.free(unsafe.Pointer(cid))
	var i C.size_t
	if err := call(func() C.int { return C.anthem_catalog_find(p, cid, &i) }); err != nil {
		return -1, err
	}
	return int(i), nil
}

// Skipped is the number of lines a lenient read skipped.
func (c *Catalog) Skipped() int {
	p, err := c.acquire()
	if err != nil {
		return 0
	}
	defer c.obj.release()
	return int(C.anthem_catalog_skipped(p))
}

// Judgments are graded (query, product) pairs read from
// `query<TAB>product_id<TAB>grade` lines (anthem_judgments).
type Judgments struct {
	obj *object
}

// Judgment is one judged product of a query.
type Judgment struct {
	Product int // catalogue index
	Grade   int // 0 (irrelevant) to 3
}

// LoadJudgments reads a judgement file whose product ids are in the
// catalogue (anthem_judgments_load).
func LoadJudgments(path string, c *Catalog, flags ReadFlags) (*Judgments, error) {
	cp, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.obj.release()
	cpath, err := cstring("path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var p *C.anthem_judgments
	if err := call(func() C.int { return C.anthem_judgments_load(&p, cpath, cp, C.unsigned(flags)) }); err != nil {
		return nil, err
	}
	// the C judgements keep the catalogue's pointer: it stays alive
	// until they are freed, even if it is closed first
	if _, err := c.acquire(); err != nil {
		C.anthem_judgments_free(p)
		return nil, err
	}
	j := &Judgments{obj: newObject("judgment set", unsafe.Pointer(p), func(p unsafe.Pointer) {
		C.anthem_judgments_free((*C.anthem_judgments)(p))
	}, c.obj)}
	runtime.SetFinalizer(j, (*Judgments).Close)
	return j, nil
}

// Close frees the judgements (or lets a Trainer using them do it).
// Idempotent.
func (j *Judgments) Close() error {
	if j != nil {
		j.obj.close()
	}
	return nil
}

func (j *Judgments) acquire() (*C.anthem_judgments, error) {
	if j == nil {
		return nil, goError(CodeInvalid, "nil *Judgments")
	}
	p, err := j.obj.acquire()
	return (*C.anthem_judgments)(p), err
}

// Len is the number of distinct queries.
func (j *Judgments) Len() int {
	p, err := j.acquire()
	if err != nil {
		return 0
	}
	defer j.obj.release()
	return int(C.anthem_judgments_query_count(p))
}

// Query is query q (in order of first appearance); "" out of range.
func (j *Judgments) Query(q int) string {
	if q < 0 {
		return ""
	}
	p, err := j.acquire()
	if err != nil {
		return ""
	}
	defer j.obj.release()
	return C.GoString(C.anthem_judgments_query(p, C.size_t(q)))
}

// Get returns the judged products of query q (anthem_judgments_get).
func (j *Judgments) Get(q int) ([]Judgment, error) {
	p, err := j.acquire()
	if err != nil {
		return nil, err
	}
	defer j.obj.release()
	cq, err := size("q", q)
	if err != nil {
		return nil, err
	}
	var prods *C.size_t
	var grades *C.int
	var n C.size_t
	if err := call(func() C.int { return C.anthem_judgments_get(p, cq, &prods, &grades, &n) }); err != nil {
		return nil, err
	}
	out := make([]Judgment, int(n))
	if n > 0 {
		ps := unsafe.Slice(prods, int(n))
		gs := unsafe.Slice(grades, int(n))
		for i := range out {
			out[i] = Judgment{Product: int(ps[i]), Grade: int(gs[i])}
		}
	}
	return out, nil
}

// Skipped is the number of lines a lenient read skipped.
func (j *Judgments) Skipped() int {
	p, err := j.acquire()
	if err != nil {
		return 0
	}
	defer j.obj.release()
	return int(C.anthem_judgments_skipped(p))
}
