"""Product indexes and the two-stage search (anthem_index)."""

from collections import namedtuple
from ctypes import byref, c_size_t

from . import _arrays
from ._errors import Status, check, error
from ._handle import Handle, count_arg, decode, encode, encode_path
from ._lib import IndexP, anthem_hit, lib
from .geometry import Hyperboloid, Vectors


class Hit(namedtuple("Hit", "product_id title distance")):
    """One result: (product_id, title, distance), smaller distance is
    better; .index is the product's position in the index."""

    def __new__(cls, product_id, title, distance, index=None):
        self = super().__new__(cls, product_id, title, distance)
        self.index = index
        return self

    def __repr__(self):
        return "Hit(product_id=%r, title=%r, distance=%r, index=%r)" % (
            self.product_id, self.title, self.distance, self.index)


class Index(Handle):
    """The product points of a catalogue under one model, with the
    products' ids and titles.

    Index.build(model, catalog), Index.load(path, model=None), save(path),
    len(ix), ix.id(i), ix.title(i), ix.vectors (borrowed),
    ix.scan(hyperboloid, k), ix.search(model, query, k, k1),
    ix.score(model, query, candidates)."""

    _free = lib.anthem_index_free
    _kind = "Index"

    @classmethod
    def _wrap(cls, ptr):
        ix = cls.__new__(cls)
        Handle.__init__(ix, ptr)
        return ix

    @classmethod
    def build(cls, model, catalog, threads=0):
        """Embed every product of catalog with model (threads=0: all)."""
        out = IndexP()
        check(lib.anthem_index_build(byref(out), model._h, catalog._h,
                                     count_arg(threads, "threads")))
        return cls._wrap(out)

    @classmethod
    def load(cls, path, model=None):
        """Load an index file (mapped).  With a model, MismatchError unless
        the index was built with that model's file."""
        out = IndexP()
        check(lib.anthem_index_load(byref(out), encode_path(path),
                                    model._h if model is not None else None))
        return cls._wrap(out)

    def save(self, path):
        """Write the index file atomically."""
        check(lib.anthem_index_save(self._h, encode_path(path)))

    def __len__(self):
        return lib.anthem_index_count(self._h)

    @property
    def dim(self):
        return lib.anthem_index_dim(self._h)

    @property
    def model_fingerprint(self):
        """The fingerprint of the model the index was built with."""
        return lib.anthem_index_model_fingerprint(self._h)

    def _i(self, i):
        n = lib.anthem_index_count(self._h)
        i = i.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("index %d out of range (%d products)" % (i, n))
        return i

    def id(self, i):
        return decode(lib.anthem_index_id(self._h, self._i(i)))

    def title(self, i):
        return decode(lib.anthem_index_title(self._h, self._i(i)))

    def __getitem__(self, i):
        i = self._i(i)
        return (decode(lib.anthem_index_id(self._h, i)),
                decode(lib.anthem_index_title(self._h, i)))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def vectors(self):
        """The product points as a Vectors borrowed from the index (usable
        while the index is open)."""
        return Vectors(lib.anthem_index_vectors(self._h), owner=self)

    def _hits(self, out, n):
        h = self._h
        return [Hit(decode(lib.anthem_index_id(h, out[i].index)),
                    decode(lib.anthem_index_title(h, out[i].index)),
                    out[i].distance, out[i].index) for i in range(n)]

    def scan(self, hyperboloid, k=10, gamma=None, threads=1):
        """Stage 1 alone: the k products nearest to a query region, best
        first, as Hits.  gamma defaults to the region's own (the model's
        for Model.embed_query).  threads splits the products (0: all
        cores); the hits do not depend on it."""
        if not isinstance(hyperboloid, Hyperboloid):
            raise error(Status.EINVAL, "scan needs a Hyperboloid")
        h = self._h
        # C writes at most min(k, count) hits; never allocate more
        k = min(count_arg(k, "k"), lib.anthem_index_count(h))
        g = hyperboloid.gamma if gamma is None else gamma
        out = (anthem_hit * max(k, 1))()
        n = c_size_t()
        check(lib.anthem_index_scan_threads(h, hyperboloid._h, float(g), k,
                                            count_arg(threads, "threads"),
                                            out, byref(n)))
        return self._hits(out, n.value)

    def search(self, model, query, k=10, k1=200, threads=1):
        """Both stages: stage 1 keeps the k1 nearest (k1 >= k; 0 means
        200), the full model reranks them, the best k are returned as
        Hits (product_id, title, distance), best first.  threads splits
        stage 1 over the products (0: all cores)."""
        h = self._h
        count = lib.anthem_index_count(h)
        k, k1 = count_arg(k, "k"), count_arg(k1, "k1")
        # The C side allocates k1 (at least k) hits; asking for more than
        # the index holds changes nothing but that allocation, so cap both
        # (anthem_search multiplies k1 by the hit size unchecked).
        k = min(k, count)
        if k1 > count:
            k1 = count
        out = (anthem_hit * max(k, 1))()
        n = c_size_t()
        check(lib.anthem_search_threads(model._h, h, encode(query, "query"),
                                        k, k1, count_arg(threads, "threads"),
                                        out, byref(n)))
        return self._hits(out, n.value)

    def score(self, model, query, candidates):
        """Stage 2 on candidates (index positions) an engine brings: the
        full model's distance of each to the query."""
        return score(model, self, query, candidates)

    def __repr__(self):
        if self.closed:
            return "<anthem.Index closed>"
        return "<anthem.Index %d products dim=%d>" % (len(self), self.dim)


def score(model, index, query, candidates):
    """anthem_score: the full model's distance to query of each candidate
    (positions in index); a float32 array or a list, like the input."""
    cand = [count_arg(c, "candidates[%d]" % i)
            for i, c in enumerate(candidates)]
    n = len(cand)
    arr = (c_size_t * max(n, 1))(*cand)
    out, ptr = _arrays.empty(n)
    check(lib.anthem_score(model._h, index._h, encode(query, "query"), arr, n,
                           ptr))
    return _arrays.result(out, n)


__all__ = ["Index", "Hit", "score"]
