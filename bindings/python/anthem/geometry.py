"""Point sets (anthem_vectors) and query regions (anthem_hyperboloid)."""

import enum
from ctypes import byref, c_float, c_int

from . import _arrays
from ._errors import Status, check, error
from ._handle import Handle, count_arg, using
from ._lib import HyperboloidP, VectorsP, lib

# The default weight of the inside distance (anthem_model_config.gamma).
DEFAULT_GAMMA = 0.5


class Geometry(enum.IntEnum):
    """anthem_geometry."""
    HYPERBOLIC = 0
    EUCLIDEAN = 1
    VECTOR = 2


def geometry_arg(value):
    """A Geometry from a Geometry, an int or a name ('hyperbolic', ...)."""
    if isinstance(value, str):
        try:
            return Geometry[value.upper()]
        except KeyError:
            raise error(Status.EINVAL, "unknown geometry %r (hyperbolic, "
                        "euclidean or vector)" % value) from None
    try:
        return Geometry(int(value))
    except (TypeError, ValueError):
        # an unknown number goes to C as is, which refuses it
        return int(value)


class Vectors(Handle):
    """A read-only set of `count` points of `dim` floats (anthem_vectors).

    Vectors.copy(data) copies the points into the library.
    Vectors.wrap(data) borrows them: the library reads the caller's memory,
    and this object keeps that buffer alive until it is closed.  A numpy
    float32 C-contiguous array (or an array.array('f')) is borrowed as is;
    anything else is converted once and the converted copy is borrowed.
    """

    _free = lib.anthem_vectors_free
    _kind = "Vectors"

    def __init__(self, ptr, owner=None, buffer=None):
        super().__init__(ptr, owner)
        self._buffer = buffer

    @classmethod
    def _make(cls, fn, data, dim, borrow):
        keep, ptr, count, d = _arrays.matrix_in(data, "data", dim, borrow)
        out = VectorsP()
        # int anthem_vectors_copy/wrap(anthem_vectors **out, size_t count,
        #                              size_t dim, const float *data);
        check(fn(byref(out), count, d, ptr))
        return cls(out, buffer=keep if borrow else None)

    @classmethod
    def copy(cls, data, dim=None):
        """A set holding a copy of data (count x dim, or flat with dim)."""
        return cls._make(lib.anthem_vectors_copy, data, dim, False)

    @classmethod
    def wrap(cls, data, dim=None):
        """A set that borrows data; see the class documentation."""
        return cls._make(lib.anthem_vectors_wrap, data, dim, True)

    @property
    def count(self):
        """Number of vectors (rows); also len(v)."""
        return lib.anthem_vectors_count(self._h)

    @property
    def dim(self):
        """Dimension of each vector (columns)."""
        return lib.anthem_vectors_dim(self._h)

    def __len__(self):
        return self.count

    @property
    def data(self):
        """A copy of the points, count x dim."""
        h = self._h
        n, d = lib.anthem_vectors_count(h), lib.anthem_vectors_dim(h)
        return _arrays.copy_out(lib.anthem_vectors_data(h), n, d)

    def _release(self, ptr):
        # the wrapped buffer goes with the C set, not at close(): a call
        # in another thread may still be reading it (a deferred free)
        super()._release(ptr)
        self._buffer = None

    def __repr__(self):
        if self.closed:
            return "<anthem.Vectors closed>"
        return "<anthem.Vectors count=%d dim=%d>" % (self.count, self.dim)


def _hyperboloid(ptr, gamma):
    h = Hyperboloid.__new__(Hyperboloid)
    Handle.__init__(h, ptr)
    h.gamma = gamma
    return h


class Hyperboloid(Handle):
    """A query region (anthem_hyperboloid): a union of intersections of
    simple hyperboloids, each a centre and a per-dimension limit.

    Hyperboloid(centre, limit, geometry='hyperbolic', curvature=1.0)
    creates a simple one; a & b and a | b (intersect, union) combine them.

    `gamma` is the default inside weight for distance(), distances() and
    Index.scan(): the model's gamma for a region from Model.embed_query,
    0.5 otherwise.
    """

    _free = lib.anthem_hyperboloid_free
    _kind = "Hyperboloid"

    def __init__(self, centre, limit, geometry=Geometry.HYPERBOLIC,
                 curvature=1.0, gamma=DEFAULT_GAMMA):
        kc, pc, n = _arrays.vector_in(centre, "centre")
        kl, pl, _ = _arrays.vector_in(limit, "limit", n)
        out = HyperboloidP()
        check(lib.anthem_hyperboloid_create(byref(out), geometry_arg(geometry),
                                            float(curvature), n, pc, pl))
        super().__init__(out)
        self.gamma = gamma

    @property
    def dim(self):
        """Dimension of the space the region lives in."""
        return lib.anthem_hyperboloid_dim(self._h)

    @property
    def geometry(self):
        """The region's Geometry (hyperbolic, euclidean or vector)."""
        return geometry_arg(lib.anthem_hyperboloid_geometry(self._h))

    @property
    def curvature(self):
        """Curvature of the space, as the region was made with."""
        return lib.anthem_hyperboloid_curvature(self._h)

    @property
    def branch_count(self):
        """Union branches (0 for the empty region)."""
        return lib.anthem_hyperboloid_branch_count(self._h)

    def term_count(self, branch):
        """Intersected terms of a branch (0 if out of range)."""
        return lib.anthem_hyperboloid_term_count(
            self._h, count_arg(branch, "branch"))

    @property
    def is_empty(self):
        """True for the empty region (no branch): it contains nothing."""
        return self.branch_count == 0

    def get(self, branch=0, term=0):
        """(centre, limit) of one term of one branch; RangeError if either
        is out of range."""
        h = self._h
        d = lib.anthem_hyperboloid_dim(h)
        centre, pc = _arrays.empty(d)
        limit, pl = _arrays.empty(d)
        check(lib.anthem_hyperboloid_get(h, count_arg(branch, "branch"),
                                         count_arg(term, "term"), pc, pl))
        return _arrays.result(centre, d), _arrays.result(limit, d)

    @property
    def centre(self):
        """The centre of a simple hyperboloid (branch 0, term 0)."""
        return self.get(0, 0)[0]

    @property
    def limit(self):
        """The limit of a simple hyperboloid (branch 0, term 0)."""
        return self.get(0, 0)[1]

    def terms(self):
        """Every term: a list of branches, each a list of (centre, limit)."""
        return [[self.get(b, t) for t in range(self.term_count(b))]
                for b in range(self.branch_count)]

    def _combine(self, fn, other):
        if not isinstance(other, Hyperboloid):
            return NotImplemented
        out = HyperboloidP()
        with using(self, other) as (a, b):
            check(fn(byref(out), a, b))
        return _hyperboloid(out, self.gamma if self.gamma == other.gamma
                            else DEFAULT_GAMMA)

    def intersect(self, other):
        """self AND other, a new region (MismatchError if the geometry,
        curvature or dimension differ)."""
        r = self._combine(lib.anthem_hyperboloid_intersect, other)
        if r is NotImplemented:
            raise error(Status.EINVAL, "intersect needs a Hyperboloid")
        return r

    def union(self, other):
        """self OR other, a new region."""
        r = self._combine(lib.anthem_hyperboloid_union, other)
        if r is NotImplemented:
            raise error(Status.EINVAL, "union needs a Hyperboloid")
        return r

    def __and__(self, other):
        return self._combine(lib.anthem_hyperboloid_intersect, other)

    def __or__(self, other):
        return self._combine(lib.anthem_hyperboloid_union, other)

    def _gamma(self, gamma):
        return float(self.gamma if gamma is None else gamma)

    def distance(self, point, gamma=None):
        """Distance of a point (dim floats) to the region; 0 inside when
        gamma is 0, +inf for the empty region."""
        h = self._h
        keep, ptr, n = _arrays.vector_in(point, "point",
                                         lib.anthem_hyperboloid_dim(h))
        out = c_float()
        check(lib.anthem_hyperboloid_distance(h, ptr, n, self._gamma(gamma),
                                              byref(out)))
        return out.value

    def distances(self, points, gamma=None):
        """Distances of every point of a Vectors (or of a count x dim
        array, wrapped for the call) to the region."""
        h = self._h
        if isinstance(points, Vectors):
            vec, tmp = points, None
        else:
            vec = tmp = Vectors.wrap(points, lib.anthem_hyperboloid_dim(h))
        try:
            with using(self, vec) as (h, v):
                n = lib.anthem_vectors_count(v)
                out, ptr = _arrays.empty(n)
                check(lib.anthem_hyperboloid_distances(
                    h, v, self._gamma(gamma), ptr))
            return _arrays.result(out, n)
        finally:
            if tmp is not None:
                tmp.close()

    def contains(self, point):
        """True if the point lies in the region."""
        h = self._h
        keep, ptr, n = _arrays.vector_in(point, "point",
                                         lib.anthem_hyperboloid_dim(h))
        inside = c_int()
        check(lib.anthem_hyperboloid_contains(h, ptr, n, byref(inside)))
        return bool(inside.value)

    __contains__ = contains

    def __repr__(self):
        if self.closed:
            return "<anthem.Hyperboloid closed>"
        return "<anthem.Hyperboloid %s dim=%d branches=%d>" % (
            self.geometry.name.lower() if isinstance(self.geometry, Geometry)
            else self.geometry, self.dim, self.branch_count)


__all__ = ["Geometry", "Vectors", "Hyperboloid", "DEFAULT_GAMMA"]
