"""Product indexes and the query pipeline (anthem_index, anthem_search_ex,
anthem_search_batch, anthem_rerank; docs/architecture.md)."""

import ctypes
import math
import sys
from collections import namedtuple
from ctypes import byref, c_char_p, c_size_t, cast

from . import _arrays, _lib
from ._errors import Status, check, error
from ._handle import Handle, count_arg, decode, encode, encode_path, using
from ._lib import IndexP, SizeP, anthem_hit, lib
from .geometry import Hyperboloid, Vectors


class Hit(namedtuple("Hit", "product_id title distance")):
    """One result: (product_id, title, distance), smaller distance is
    better (with the lexical term it may be negative); .score is
    -distance, larger is better, as the CLI shows it; .index is the
    product's position in the index."""

    def __new__(cls, product_id, title, distance, index=None):
        self = super().__new__(cls, product_id, title, distance)
        self.index = index
        return self

    @property
    def score(self):
        """-distance: larger is better (what the anthem CLI shows)."""
        return -self.distance

    def __repr__(self):
        return "Hit(product_id=%r, title=%r, distance=%r, index=%r)" % (
            self.product_id, self.title, self.distance, self.index)


class Batch(namedtuple("Batch", "positions distances counts")):
    """What Index.search_batch returns, one row per query: positions
    (index positions, int64, nq x k), distances (float32, nq x k) and
    counts (hits found per query).  Row q holds counts[q] hits, best first;
    the slots after them hold position -1 and distance NaN.  numpy arrays
    when numpy imports, lists (of lists) otherwise."""


def _texts(texts, what):
    """A list of encoded texts: one str is one text, not its letters."""
    if isinstance(texts, (str, bytes, bytearray)):
        return [encode(texts, what)]
    try:
        items = list(texts)
    except TypeError:
        raise error(Status.EINVAL, "%s must be a str or a sequence of str, "
                    "not %s" % (what, type(texts).__name__)) from None
    return [encode(t, "%s[%d]" % (what, i)) for i, t in enumerate(items)]


def _char_array(texts):
    return (c_char_p * max(len(texts), 1))(*texts)


def _is_id(x):
    return isinstance(x, (str, bytes, bytearray))


# anthem_search_options.stage1 and anthem_point_format by value
STAGE1 = ("auto", "exact", "graph")
POINTS = ("float32", "int8")


def _choice(value, what, names):
    """The position of value among names (its C value), else EINVAL."""
    if value not in names:
        raise error(Status.EINVAL, "%s %r is not one of %s"
                    % (what, value, ", ".join(names)))
    return names.index(value)


def _prefilter(value):
    """anthem_search_options.prefilter from "off" or a count."""
    if isinstance(value, str):
        if value != "off":
            raise error(Status.EINVAL, "prefilter %r is not a count or "
                        "'off'" % (value,))
        return PREFILTER_OFF
    return count_arg(value, "prefilter")


#: anthem_search_options.prefilter's ANTHEM_PREFILTER_OFF
PREFILTER_OFF = ctypes.c_size_t(-1).value


class Index(Handle):
    """The product points of a catalogue under one model, with the
    products' ids and titles.

    Index.build(model, catalog, threads=0, ann=False, points="float32",
    ...), Index.load(path, model=None), save(path), len(ix), ix.id(i),
    ix.title(i), ix.vectors (borrowed), ix.has_ann, ix.points,
    ix.scan(hyperboloid, k), ix.search(model, query, k, k1, ...),
    ix.search_batch(model, queries, ...), ix.find(product_id),
    ix.rerank(model, query, positions_or_ids),
    ix.score(model, query, candidates)."""

    _free = lib.anthem_index_free
    _kind = "Index"

    @classmethod
    def _wrap(cls, ptr):
        ix = cls.__new__(cls)
        Handle.__init__(ix, ptr)
        return ix

    @classmethod
    def build(cls, model, catalog, threads=0, ann=False, points="float32",
              ann_degree=32, ann_ef=128, ann_seed=1, progress=None):
        """Embed every product of catalog with model (anthem_index_build_ex;
        threads=0: all cores, for the graph too).  ann=True also builds the
        approximate index, a proximity graph of ann_degree neighbours per
        product, built with beam width ann_ef in the order ann_seed sets
        (same seed, same graph).  points="int8" also keeps int8 codes of
        the points, which stage 1 scans (re-scored in float); "float32"
        (default) keeps the float points only.  progress, a
        callable(done, total), is told the graph's progress after each
        round of insertions and once with done == total (ann_progress; a
        10M-product graph takes hours); an exception it raises is raised
        by build once the build returns, and no index is returned."""
        o = _lib.index_options()
        o.threads = count_arg(threads, "threads")
        o.ann = 1 if ann else 0
        o.points = _choice(points, "points", POINTS)
        o.ann_degree = count_arg(ann_degree, "ann_degree")
        o.ann_ef = count_arg(ann_ef, "ann_ef")
        o.ann_seed = count_arg(ann_seed, "ann_seed")
        raised = []
        if progress is not None:
            if not callable(progress):
                raise error(Status.EINVAL, "progress must be callable")

            def report(done, total, user):
                # an exception must not unwind through C: kept, raised
                # below; the build itself cannot be stopped
                if raised:
                    return
                try:
                    progress(done, total)
                except BaseException:
                    raised.append(sys.exc_info()[1])
            o.ann_progress = _lib.anthem_ann_progress_fn(report)
        out = IndexP()
        with using(model, catalog) as (m, c):
            check(lib.anthem_index_build_ex(byref(out), m, c, byref(o)))
        if raised:
            lib.anthem_index_free(out)
            raise raised[0]
        return cls._wrap(out)

    @classmethod
    def load(cls, path, model=None):
        """Load an index file (mapped).  With a model, MismatchError unless
        the index was built with that model's file."""
        out = IndexP()
        path = encode_path(path)
        with using(model) as (m,):
            check(lib.anthem_index_load(byref(out), path, m))
        return cls._wrap(out)

    def save(self, path):
        """Write the index file atomically."""
        check(lib.anthem_index_save(self._h, encode_path(path)))

    def __len__(self):
        return lib.anthem_index_count(self._h)

    @property
    def dim(self):
        """Dimension of the stored product points."""
        return lib.anthem_index_dim(self._h)

    @property
    def has_ann(self):
        """True when the index holds the approximate index (a graph:
        Index.build(..., ann=True))."""
        return lib.anthem_index_has_ann(self._h) != 0

    @property
    def ann_params(self):
        """The graph's build parameters as a dict (degree, ef, seed: the
        ann_degree, ann_ef (raised to the degree when smaller) and ann_seed
        of Index.build), or None when the index has no graph
        (anthem_index_ann_params)."""
        if not self.has_ann:
            return None
        degree, ef, seed = c_size_t(), c_size_t(), ctypes.c_uint64()
        check(lib.anthem_index_ann_params(self._h, byref(degree), byref(ef),
                                          byref(seed)))
        return {"degree": degree.value, "ef": ef.value, "seed": seed.value}

    @property
    def format_version(self):
        """The index file's layout version (docs/format.md): the loaded
        file's, or the one save() writes (anthem_index_format_version)."""
        return lib.anthem_index_format_version(self._h)

    @property
    def points(self):
        """The points stage 1's scan reads: "int8" for an index built with
        points="int8" (anthem_index_points), else "float32"."""
        return POINTS[lib.anthem_index_points(self._h)]

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
        """Product id at position i (IndexError out of range)."""
        return decode(lib.anthem_index_id(self._h, self._i(i)))

    def title(self, i):
        """Title at position i (IndexError out of range)."""
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
        threads = count_arg(threads, "threads")
        with using(self, hyperboloid) as (h, hh):
            check(lib.anthem_index_scan_threads(h, hh, float(g), k, threads,
                                                out, byref(n)))
        return self._hits(out, n.value)

    def find(self, product_id):
        """The position of the product with this id, or None when the
        index holds none (anthem_index_find)."""
        pos = c_size_t()
        rc = lib.anthem_index_find(self._h, encode(product_id, "product_id"),
                                   byref(pos))
        if rc == Status.ENOTFOUND:
            return None
        check(rc)
        return pos.value

    def _allow(self, allow, count):
        """(keepalive, SizeP, n) for the allow filter: index positions
        and/or product ids (ids the index does not hold are dropped, as
        anthem_rerank_ids drops them: such a product cannot be a hit)."""
        np = _arrays.np
        if np is not None and isinstance(allow, np.ndarray) and \
                allow.dtype.kind in "iu" and allow.size:
            if allow.ndim != 1:
                raise error(Status.EMISMATCH, "allow must be 1-dimensional, "
                            "not of shape %s" % (allow.shape,))
            if allow.min() < 0:
                i = int(np.argmax(allow < 0))
                raise error(Status.ERANGE, "allow[%d] is %d, must be >= 0"
                            % (i, allow[i]))
            if allow.max() >= count:
                i = int(np.argmax(allow >= count))
                raise error(Status.ERANGE, "allow[%d] is %d, the index "
                            "holds %d products" % (i, allow[i], count))
            arr = np.ascontiguousarray(allow, dtype=np.uintp)
            return arr, arr.ctypes.data_as(SizeP), arr.shape[0]
        if isinstance(allow, (str, bytes, bytearray)):
            allow = [allow]
        try:
            items = list(allow)
        except TypeError:
            raise error(Status.EINVAL, "allow must be a sequence of index "
                        "positions or product ids, not %s"
                        % type(allow).__name__) from None
        pos = []
        for i, x in enumerate(items):
            if _is_id(x):
                p = self.find(x)
                if p is not None:
                    pos.append(p)
                continue
            if isinstance(x, bool):
                # True would be position 1: a mask is not a list of
                # positions
                raise error(Status.EINVAL, "allow[%d] is a bool: give index "
                            "positions or product ids" % i)
            p = count_arg(x, "allow[%d]" % i)
            if p >= count:
                raise error(Status.ERANGE, "allow[%d] is %d, the index holds "
                            "%d products" % (i, p, count))
            pos.append(p)
        # never a NULL pointer: an empty list allows nothing, it is not
        # "no filter"
        arr = (c_size_t * max(len(pos), 1))(*pos)
        return arr, cast(arr, SizeP), len(pos)

    def _options(self, k, k1, and_, or_, allow, threads, stage1_only,
                 timeout, stage1, ef, stage2_elements, prefilter):
        """(options, keepalive, k): an anthem_search_options filled from
        the keywords, the Python objects its pointers refer to (held for
        the length of the call), and k capped to the index size."""
        count = lib.anthem_index_count(self._h)
        o = _lib.search_options()
        # C returns at most count hits; the buffers are sized from k
        o.k = min(count_arg(k, "k"), count)
        o.k1 = count_arg(k1, "k1")
        o.threads = count_arg(threads, "threads")
        keep = []
        ands, ors = _texts(and_, "and_"), _texts(or_, "or_")
        if ands:
            arr = _char_array(ands)
            keep += [ands, arr]
            o.and_queries, o.n_and = arr, len(ands)
        if ors:
            arr = _char_array(ors)
            keep += [ors, arr]
            o.or_queries, o.n_or = arr, len(ors)
        if allow is not None:
            arr, ptr, n = self._allow(allow, count)
            keep.append(arr)
            o.allow, o.n_allow = ptr, n
        o.stage1_only = 1 if stage1_only else 0
        if timeout is not None:
            try:
                ms = math.ceil(float(timeout) * 1000.0)
            except (TypeError, ValueError, OverflowError):
                raise error(Status.EINVAL, "timeout must be a number of "
                            "seconds, not %r" % (timeout,)) from None
            # 0 would mean "no deadline"
            o.timeout_ms = count_arg(max(ms, 1), "timeout (ms)")
        o.stage1 = _choice(stage1, "stage1", STAGE1)
        o.ef = count_arg(ef, "ef")
        o.stage2_elements = count_arg(stage2_elements, "stage2_elements")
        o.prefilter = _prefilter(prefilter)
        return o, keep, o.k

    def search(self, model, query, k=10, k1=200, and_=(), or_=(),
               allow=None, threads=1, stage1_only=False, timeout=None,
               stage1="auto", ef=0, stage2_elements=0, prefilter=0):
        """One query through the pipeline (anthem_search_ex): stage 1
        gathers the k1 products nearest to the query's region (0 means
        200) and, with the lexical term, the k1 titles of highest BM25;
        the full model reranks them and the best k come back as Hits
        (product_id, title, distance; .score = -distance), best first.

        and_ / or_: further texts (a str or a sequence, at most 16 each)
        intersected with the query / united with it.  allow: only these
        products may be returned, given as index positions and/or product
        ids (ids the index does not hold are ignored).  threads splits the
        query's scan and rerank (0: all cores); the hits never depend on
        it.  stage1_only stops after stage 1 and ranks by its distance.
        timeout (seconds): CanceledError once the search has run that long
        (anthem_search_options.timeout_ms).

        stage1: "auto" (default) scans, the int8 points when the index has
        them; "exact" scans the float points; "graph" searches the graph
        when the index has one (Index.build(..., ann=True); still the scan
        for and_ / or_ and allow).  ef: the graph search's beam width (0:
        2 max(k, k1), at least 64); larger finds more of the exact top k1.
        stage2_elements: stage 2 attends from at most this many elements of
        each text (0: all), an approximation that saves time on long
        queries (docs/performance.md, "Stage 2's elements").
        prefilter: the int8 scan's box prefilter ("auto" on an int8
        index): only the best this many by a cheap flat box distance are
        re-scored in float32 (0: 2 max(k, k1) when the index holds 16
        times that; "off": every product's int8 distance; smaller values
        are raised to 2 max(k, k1); docs/architecture.md)."""
        self._h
        opts, keep, k = self._options(k, k1, and_, or_, allow, threads,
                                      stage1_only, timeout, stage1, ef,
                                      stage2_elements, prefilter)
        out = (anthem_hit * max(k, 1))()
        n = c_size_t()
        q = encode(query, "query")
        with using(model, self) as (m, h):
            check(lib.anthem_search_ex(m, h, q, byref(opts), out, byref(n)))
        del keep
        return self._hits(out, n.value)

    def search_batch(self, model, queries, k=10, k1=200, and_=(), or_=(),
                     allow=None, threads=1, stage1_only=False, timeout=None,
                     stage1="auto", ef=0, stage2_elements=0, prefilter=0):
        """Many queries with the same options (anthem_search_batch);
        threads spreads the queries (0: all cores), each query runs on one
        thread and gets exactly the hits search() gives it.  A Batch
        (positions, distances, counts): numpy arrays of nq x k int64
        positions and float32 distances and nq counts when numpy imports,
        lists otherwise; the slots after a query's counts[q] hits hold -1
        and NaN.  k is capped to the index size.  timeout (seconds) as for
        search(), for the whole batch; stage1, ef, stage2_elements and
        prefilter as for search()."""
        self._h
        if isinstance(queries, (str, bytes, bytearray)):
            raise error(Status.EINVAL, "queries must be a sequence of "
                        "strings, not one string")
        qs = [encode(q, "queries[%d]" % i) for i, q in enumerate(queries)]
        nq = len(qs)
        opts, keep, k = self._options(k, k1, and_, or_, allow, threads,
                                      stage1_only, timeout, stage1, ef,
                                      stage2_elements, prefilter)
        qarr = _char_array(qs)
        out = (anthem_hit * max(nq * k, 1))()
        counts = (c_size_t * max(nq, 1))()
        with using(model, self) as (m, h):
            check(lib.anthem_search_batch(m, h, qarr, nq, byref(opts), out,
                                          counts))
        del keep
        np = _arrays.np
        if np is not None:
            # the hits as numpy records, laid out as the C struct (ctypes'
            # own buffer format of a Structure makes numpy warn)
            hit = np.dtype({"names": ["index", "distance"],
                            "formats": [np.uintp, np.float32],
                            "offsets": [anthem_hit.index.offset,
                                        anthem_hit.distance.offset],
                            "itemsize": ctypes.sizeof(anthem_hit)})
            raw = np.frombuffer(out, dtype=hit, count=nq * k)
            pos = raw["index"].astype(np.int64).reshape(nq, k)
            dist = raw["distance"].astype(np.float32).reshape(nq, k)
            cnt = np.array(counts[:nq], dtype=np.int64)
            empty = np.arange(k)[None, :] >= cnt[:, None]
            pos[empty] = -1
            dist[empty] = np.nan
            return Batch(pos, dist, cnt)
        pos, dist, cnt = [], [], list(counts[:nq])
        for q in range(nq):
            row = out[q * k:(q + 1) * k]
            c = cnt[q]
            pos.append([x.index for x in row[:c]] + [-1] * (k - c))
            dist.append([x.distance for x in row[:c]] + [math.nan] * (k - c))
        return Batch(pos, dist, cnt)

    def rerank(self, model, query, positions_or_ids):
        """Stage 2 on candidates an engine brings (its BM25 top N, already
        filtered): the full model ranks them and they come back as Hits,
        best first.  Give index positions (anthem_rerank; out of range is
        a RangeError) or product ids (anthem_rerank_ids; ids the index does
        not hold are left out), not both."""
        self._h
        if isinstance(positions_or_ids, (str, bytes, bytearray)):
            positions_or_ids = [positions_or_ids]
        items = list(positions_or_ids)
        n = len(items)
        q = encode(query, "query")
        out = (anthem_hit * max(n, 1))()
        ids = [_is_id(x) for x in items]
        if n and all(ids):
            enc = [encode(x, "ids[%d]" % i) for i, x in enumerate(items)]
            arr = _char_array(enc)
            got = c_size_t()
            with using(model, self) as (m, h):
                check(lib.anthem_rerank_ids(m, h, q, arr, n, out,
                                            byref(got)))
            return self._hits(out, got.value)
        if any(ids):
            raise error(Status.EINVAL, "rerank: positions_or_ids mixes "
                        "positions and product ids (give one kind)")
        pos = [count_arg(x, "positions[%d]" % i) for i, x in enumerate(items)]
        arr = (c_size_t * max(n, 1))(*pos)
        with using(model, self) as (m, h):
            check(lib.anthem_rerank(m, h, q, arr, n, out))
        return self._hits(out, n)

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
    q = encode(query, "query")
    with using(model, index) as (m, ix):
        check(lib.anthem_score(m, ix, q, arr, n, ptr))
    return _arrays.result(out, n)


__all__ = ["Index", "Hit", "Batch", "score"]
