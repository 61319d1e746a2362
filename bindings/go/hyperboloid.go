package anthem

/*
#include <anthem/anthem.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Hyperboloid is a query region: a union of intersections of simple
// hyperboloids (anthem_hyperboloid).  Immutable: safe to read from many
// goroutines at once.
type Hyperboloid struct {
	obj *object
}

func newHyperboloid(p *C.anthem_hyperboloid) *Hyperboloid {
	h := &Hyperboloid{obj: newObject("hyperboloid", unsafe.Pointer(p), func(p unsafe.Pointer) {
		C.anthem_hyperboloid_free((*C.anthem_hyperboloid)(p))
	})}
	runtime.SetFinalizer(h, (*Hyperboloid).Close)
	return h
}

// NewHyperboloid makes a simple hyperboloid of a centre and a limit (per
// dimension extent, >= 0), both of the same length
// (anthem_hyperboloid_create; the slices are copied).  In the hyperbolic
// geometry both must lie strictly inside the ball of radius
// 1/sqrt(curvature); the other geometries ignore curvature.
func NewHyperboloid(g Geometry, curvature float32, centre, limit []float32) (*Hyperboloid, error) {
	if len(centre) != len(limit) {
		return nil, goError(CodeMismatch, "centre has %d floats, limit %d", len(centre), len(limit))
	}
	if len(centre) == 0 {
		return nil, goError(CodeRange, "dim is 0, must be 1 to %d", MaxDim())
	}
	var p *C.anthem_hyperboloid
	if err := call(func() C.int {
		return C.anthem_hyperboloid_create(&p, C.anthem_geometry(g), C.float(curvature),
			C.size_t(len(centre)), floatPtr(centre), floatPtr(limit))
	}); err != nil {
		return nil, err
	}
	return newHyperboloid(p), nil
}

// Close frees the hyperboloid.  Idempotent.
func (h *Hyperboloid) Close() error {
	if h != nil {
		h.obj.close()
	}
	return nil
}

func (h *Hyperboloid) acquire() (*C.anthem_hyperboloid, error) {
	if h == nil {
		return nil, goError(CodeInvalid, "nil *Hyperboloid")
	}
	p, err := h.obj.acquire()
	return (*C.anthem_hyperboloid)(p), err
}

// Dim is the dimension of the space (0 for a closed hyperboloid).
func (h *Hyperboloid) Dim() int {
	p, err := h.acquire()
	if err != nil {
		return 0
	}
	defer h.obj.release()
	return int(C.anthem_hyperboloid_dim(p))
}

// Geometry is the hyperboloid's space.
func (h *Hyperboloid) Geometry() Geometry {
	p, err := h.acquire()
	if err != nil {
		return Hyperbolic
	}
	defer h.obj.release()
	return Geometry(C.anthem_hyperboloid_geometry(p))
}

// Curvature is c of the ball (ignored by the flat geometries).
func (h *Hyperboloid) Curvature() float32 {
	p, err := h.acquire()
	if err != nil {
		return 0
	}
	defer h.obj.release()
	return float32(C.anthem_hyperboloid_curvature(p))
}

// Branches is the number of union branches (0 for the empty region).
func (h *Hyperboloid) Branches() int {
	p, err := h.acquire()
	if err != nil {
		return 0
	}
	defer h.obj.release()
	return int(C.anthem_hyperboloid_branch_count(p))
}

// Terms is the number of intersected simple hyperboloids in a branch (0 if
// the branch is out of range).
func (h *Hyperboloid) Terms(branch int) int {
	if branch < 0 {
		return 0
	}
	p, err := h.acquire()
	if err != nil {
		return 0
	}
	defer h.obj.release()
	return int(C.anthem_hyperboloid_term_count(p, C.size_t(branch)))
}

// Term returns the centre and limit of one term of one branch
// (anthem_hyperboloid_get).
func (h *Hyperboloid) Term(branch, term int) (centre, limit []float32, err error) {
	p, err := h.acquire()
	if err != nil {
		return nil, nil, err
	}
	defer h.obj.release()
	b, err := size("branch", branch)
	if err != nil {
		return nil, nil, err
	}
	t, err := size("term", term)
	if err != nil {
		return nil, nil, err
	}
	dim := int(C.anthem_hyperboloid_dim(p))
	centre, limit = make([]float32, dim), make([]float32, dim)
	if err := call(func() C.int {
		return C.anthem_hyperboloid_get(p, b, t, floatPtr(centre), floatPtr(limit))
	}); err != nil {
		return nil, nil, err
	}
	return centre, limit, nil
}

func (h *Hyperboloid) combine(o *Hyperboloid, union bool) (*Hyperboloid, error) {
	a, err := h.acquire()
	if err != nil {
		return nil, err
	}
	defer h.obj.release()
	b, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer o.obj.release()
	var p *C.anthem_hyperboloid
	if err := call(func() C.int {
		if union {
			return C.anthem_hyperboloid_union(&p, a, b)
		}
		return C.anthem_hyperboloid_intersect(&p, a, b)
	}); err != nil {
		return nil, err
	}
	return newHyperboloid(p), nil
}

// Intersect returns "h AND o" as a new hyperboloid
// (anthem_hyperboloid_intersect); ErrMismatch if the operands differ in
// geometry, curvature or dimension.
func (h *Hyperboloid) Intersect(o *Hyperboloid) (*Hyperboloid, error) { return h.combine(o, false) }

// Union returns "h OR o" as a new hyperboloid (anthem_hyperboloid_union).
func (h *Hyperboloid) Union(o *Hyperboloid) (*Hyperboloid, error) { return h.combine(o, true) }

func (h *Hyperboloid) checkPoint(p *C.anthem_hyperboloid, point []float32) error {
	if dim := int(C.anthem_hyperboloid_dim(p)); len(point) != dim {
		return goError(CodeMismatch, "point has %d floats, the hyperboloid dimension %d", len(point), dim)
	}
	return nil
}

// Distance of a point to the region (anthem_hyperboloid_distance):
// d_out + gamma*d_in, where d_out is 0 exactly inside; the largest over
// the terms of an intersection, the smallest over the branches of a union,
// +Inf for the empty region.  gamma is the model's Config.Gamma (0.5 by default).  The point
// is read in place, not copied.
func (h *Hyperboloid) Distance(point []float32, gamma float32) (float32, error) {
	p, err := h.acquire()
	if err != nil {
		return 0, err
	}
	defer h.obj.release()
	if err := h.checkPoint(p, point); err != nil {
		return 0, err
	}
	var d C.float
	if err := call(func() C.int {
		return C.anthem_hyperboloid_distance(p, floatPtr(point), C.size_t(len(point)), C.float(gamma), &d)
	}); err != nil {
		return 0, err
	}
	return float32(d), nil
}

// Distances of every point of a set to the region
// (anthem_hyperboloid_distances).
func (h *Hyperboloid) Distances(points *Vectors, gamma float32) ([]float32, error) {
	dst := make([]float32, points.Len())
	if err := h.DistancesInto(dst, points, gamma); err != nil {
		return nil, err
	}
	return dst, nil
}

// DistancesInto writes the distances of every point of a set into dst,
// which must hold exactly points.Len() floats.
func (h *Hyperboloid) DistancesInto(dst []float32, points *Vectors, gamma float32) error {
	p, err := h.acquire()
	if err != nil {
		return err
	}
	defer h.obj.release()
	v, err := points.acquire()
	if err != nil {
		return err
	}
	defer points.obj.release()
	if n := int(C.anthem_vectors_count(v)); len(dst) != n {
		return goError(CodeMismatch, "dst holds %d floats, the set %d points", len(dst), n)
	}
	return call(func() C.int {
		return C.anthem_hyperboloid_distances(p, v, C.float(gamma), floatPtr(dst))
	})
}

// Contains reports whether a point lies in the region
// (anthem_hyperboloid_contains).
func (h *Hyperboloid) Contains(point []float32) (bool, error) {
	p, err := h.acquire()
	if err != nil {
		return false, err
	}
	defer h.obj.release()
	if err := h.checkPoint(p, point); err != nil {
		return false, err
	}
	var in C.int
	if err := call(func() C.int {
		return C.anthem_hyperboloid_contains(p, floatPtr(point), C.size_t(len(point)), &in)
	}); err != nil {
		return false, err
	}
	return in != 0, nil
}

// Vectors is a read-only set of points, row-major (anthem_vectors).
type Vectors struct {
	obj *object
}

// NewVectors copies len(data)/dim points of dim floats into a set owned by
// the library (anthem_vectors_copy).  The set is copied rather than
// wrapped (anthem_vectors_wrap borrows its data for the set's whole life,
// which the cgo rules forbid for Go memory).
func NewVectors(data []float32, dim int) (*Vectors, error) {
	if dim <= 0 || dim > MaxDim() {
		return nil, goError(CodeRange, "dim is %d, must be 1 to %d", dim, MaxDim())
	}
	if len(data)%dim != 0 {
		return nil, goError(CodeMismatch, "data holds %d floats, not a multiple of dim %d", len(data), dim)
	}
	var p *C.anthem_vectors
	if err := call(func() C.int {
		return C.anthem_vectors_copy(&p, C.size_t(len(data)/dim), C.size_t(dim), floatPtr(data))
	}); err != nil {
		return nil, err
	}
	v := &Vectors{obj: newObject("vector set", unsafe.Pointer(p), func(p unsafe.Pointer) {
		C.anthem_vectors_free((*C.anthem_vectors)(p))
	})}
	runtime.SetFinalizer(v, (*Vectors).Close)
	return v, nil
}

// Close frees the set.  Idempotent.
func (v *Vectors) Close() error {
	if v != nil {
		v.obj.close()
	}
	return nil
}

func (v *Vectors) acquire() (*C.anthem_vectors, error) {
	if v == nil {
		return nil, goError(CodeInvalid, "nil *Vectors")
	}
	p, err := v.obj.acquire()
	return (*C.anthem_vectors)(p), err
}

// Len is the number of points.
func (v *Vectors) Len() int {
	p, err := v.acquire()
	if err != nil {
		return 0
	}
	defer v.obj.release()
	return int(C.anthem_vectors_count(p))
}

// Dim is the number of floats per point.
func (v *Vectors) Dim() int {
	p, err := v.acquire()
	if err != nil {
		return 0
	}
	defer v.obj.release()
	return int(C.anthem_vectors_dim(p))
}

// Data returns a copy of the points, Len() x Dim() row-major.
func (v *Vectors) Data() []float32 {
	p, err := v.acquire()
	if err != nil {
		return nil
	}
	defer v.obj.release()
	n := int(C.anthem_vectors_count(p)) * int(C.anthem_vectors_dim(p))
	d := C.anthem_vectors_data(p)
	if n == 0 || d == nil {
		return nil
	}
	out := make([]float32, n)
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(d)), n))
	return out
}

// Point returns a copy of point i.
func (v *Vectors) Point(i int) ([]float32, error) {
	p, err := v.acquire()
	if err != nil {
		return nil, err
	}
	defer v.obj.release()
	n, dim := int(C.anthem_vectors_count(p)), int(C.anthem_vectors_dim(p))
	if i < 0 || i >= n {
		return nil, goError(CodeRange, "point %d of a set of %d", i, n)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(C.anthem_vectors_data(p))), n*dim)
	out := make([]float32, dim)
	copy(out, all[i*dim:])
	return out, nil
}
