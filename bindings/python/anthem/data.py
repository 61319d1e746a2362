"""Catalogues, relevance judgements and the ranking metrics."""

from ctypes import POINTER, byref, c_int, c_size_t

from . import _lib
from ._errors import Status, check, error
from ._handle import Handle, count_arg, decode, encode, encode_path, using
from ._lib import CatalogP, JudgmentsP, SizeP, lib

# anthem/data.h reading flags
READ_STRICT = 0
READ_LENIENT = 1


def _index(i, n):
    i = i.__index__()
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError("index %d out of range (%d entries)" % (i, n))
    return i


class Catalog(Handle):
    """A catalogue of `product_id<TAB>title` lines (anthem_catalog).

    Catalog(path, lenient=False); lenient skips malformed lines (counted
    in .skipped) instead of raising FormatError.  len(c), c.id(i),
    c.title(i), c[i] -> (id, title), iteration, c.find(product_id)."""

    _free = lib.anthem_catalog_free
    _kind = "Catalog"

    def __init__(self, path, lenient=False):
        out = CatalogP()
        flags = READ_LENIENT if lenient else READ_STRICT
        check(lib.anthem_catalog_load(byref(out), encode_path(path), flags))
        super().__init__(out)

    @classmethod
    def load(cls, path, lenient=False):
        """Read a catalogue file; the same as Catalog(path, lenient)."""
        return cls(path, lenient)

    def __len__(self):
        return lib.anthem_catalog_count(self._h)

    def id(self, i):
        """Product id of position i (IndexError out of range)."""
        h = self._h
        return decode(lib.anthem_catalog_id(
            h, _index(i, lib.anthem_catalog_count(h))))

    def title(self, i):
        """Title of position i (IndexError out of range)."""
        h = self._h
        return decode(lib.anthem_catalog_title(
            h, _index(i, lib.anthem_catalog_count(h))))

    def __getitem__(self, i):
        h = self._h
        i = _index(i, lib.anthem_catalog_count(h))
        return (decode(lib.anthem_catalog_id(h, i)),
                decode(lib.anthem_catalog_title(h, i)))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def find(self, product_id):
        """The position of a product id (NotFoundError if absent)."""
        out = c_size_t()
        check(lib.anthem_catalog_find(self._h, encode(product_id, "id"),
                                      byref(out)))
        return out.value

    @property
    def skipped(self):
        """Malformed lines skipped while reading (lenient=True; else 0)."""
        return lib.anthem_catalog_skipped(self._h)

    def __repr__(self):
        if self.closed:
            return "<anthem.Catalog closed>"
        return "<anthem.Catalog %d products>" % len(self)


class Judgments(Handle):
    """Relevance judgements, `query<TAB>product_id<TAB>grade` lines
    (anthem_judgments), read against a Catalog (which this object keeps
    alive).  len(j) queries; j.query(q); j.get(q) -> [(product index,
    grade), ...]; j[q] -> (query, that list); iteration."""

    _free = lib.anthem_judgments_free
    _kind = "Judgments"

    def __init__(self, path, catalog, lenient=False):
        if not isinstance(catalog, Catalog):
            raise error(Status.EINVAL, "catalog must be an anthem.Catalog")
        out = JudgmentsP()
        path = encode_path(path)
        with using(catalog) as (c,):
            check(lib.anthem_judgments_load(
                byref(out), path, c, READ_LENIENT if lenient else READ_STRICT))
            super().__init__(out)
            # C keeps the catalogue's pointer (and the products' positions)
            self._depend(catalog)
        self.catalog = catalog

    @classmethod
    def load(cls, path, catalog, lenient=False):
        """Read a judgement file against catalog; the same as
        Judgments(path, catalog, lenient)."""
        return cls(path, catalog, lenient)

    def __len__(self):
        return lib.anthem_judgments_query_count(self._h)

    def query(self, q):
        """Text of query q (IndexError out of range)."""
        h = self._h
        return decode(lib.anthem_judgments_query(
            h, _index(q, lib.anthem_judgments_query_count(h))))

    def get(self, q):
        """The judged products of query q: [(catalogue position, grade 0-3)]."""
        h = self._h
        q = _index(q, lib.anthem_judgments_query_count(h))
        products, grades, n = SizeP(), POINTER(c_int)(), c_size_t()
        check(lib.anthem_judgments_get(h, q, byref(products), byref(grades),
                                       byref(n)))
        return [(products[i], grades[i]) for i in range(n.value)]

    def __getitem__(self, q):
        return self.query(q), self.get(q)

    def __iter__(self):
        for q in range(len(self)):
            yield self[q]

    @property
    def skipped(self):
        """Malformed lines skipped while reading (lenient=True; else 0)."""
        return lib.anthem_judgments_skipped(self._h)

    def check_catalog(self, catalog):
        """MismatchError unless these judgements were read against catalog:
        their products are positions in it, which C cannot verify."""
        if catalog is not self.catalog:
            raise error(Status.EMISMATCH, "these judgements were read "
                        "against another Catalog object; pass the one "
                        "given to Judgments()")

    def __repr__(self):
        if self.closed:
            return "<anthem.Judgments closed>"
        return "<anthem.Judgments %d queries>" % len(self)


def _metrics_dict(m):
    return {
        "ndcg@3": m.ndcg3,
        "ndcg@5": m.ndcg5,
        "ndcg@10": m.ndcg10,
        "map": m.map,
        "mrr": m.mrr,
        "queries": m.queries,
        "skipped": m.skipped,
        "recall@k1": m.recall_k1,
        "k1": m.k1,
    }


def evaluate(model, catalog, judgments, k1=200, max_queries=0, threads=0,
             index=None):
    """Rank the whole catalogue for every query of judgments with the
    model (stage 1, the top k1 reranked by the full model; k1=0 ranks by
    stage 1 alone) and measure.  max_queries=0 takes every query, threads=0
    all cores.  With an Index (built by this model from this catalogue,
    MismatchError otherwise) stage 1 scans it, as a server would, instead
    of embedding the catalogue first.  A dict: ndcg@3, ndcg@5, ndcg@10,
    map, mrr (in [0, 1]), queries, skipped, recall@k1 and k1."""
    judgments.check_catalog(catalog)
    opt = _lib.eval_options()
    opt.k1 = count_arg(k1, "k1")
    opt.max_queries = count_arg(max_queries, "max_queries")
    opt.threads = count_arg(threads, "threads")
    out = _lib.metrics()
    with using(model, catalog, judgments, index) as (m, c, j, ix):
        opt.index = ix
        check(lib.anthem_evaluate(m, c, j, byref(opt), byref(out)))
    return _metrics_dict(out)


def evaluate_ranking(path, catalog, judgments):
    """The same metrics for a ranking made elsewhere: a file of
    `query<TAB>product_id<TAB>rank[<TAB>score]` lines."""
    judgments.check_catalog(catalog)
    out = _lib.metrics()
    path = encode_path(path)
    with using(catalog, judgments) as (c, j):
        check(lib.anthem_evaluate_ranking(path, c, j, byref(out)))
    return _metrics_dict(out)


__all__ = ["Catalog", "Judgments", "evaluate", "evaluate_ranking"]
