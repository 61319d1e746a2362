"""The query pipeline through the binding: search with AND / OR and a
filter, search_batch, find, rerank (docs/architecture.md)."""

import math
import os
import tempfile
import unittest

from support import QUERIES, SMALL, TINY_TRAIN, catalog, f32_bits, \
    fixture, needs_fixture, tolist

import anthem


def _bits(d):
    return f32_bits(d) if not math.isnan(d) else "nan"


@needs_fixture
class TestPipeline(unittest.TestCase):
    """Each test runs on two models: a fresh one (geometry alone) and a
    tiny trained one with the lexical term, whose stage 1 also takes the
    titles of highest BM25 and whose distances subtract w * BM25."""

    @classmethod
    def setUpClass(cls):
        cls.cat = catalog()
        plain = anthem.Model(SMALL, seed=5)
        with anthem.Judgments(fixture("train.tsv"), cls.cat) as train, \
                anthem.Trainer(cls.cat, train, SMALL, TINY_TRAIN,
                               lexical_buckets=1 << 14) as t:
            t.run()
            # a copy that outlives the trainer
            lexical = anthem.Model.load_buffer(cls._bytes(t.model))
        assert lexical.lexical_weight > 0, lexical.lexical_weight
        cls.models = [("plain", plain), ("lexical", lexical)]
        cls.indexes = {name: anthem.Index.build(m, cls.cat, threads=1)
                       for name, m in cls.models}

    @staticmethod
    def _bytes(model):
        with tempfile.TemporaryDirectory(prefix="anthem-py-") as d:
            path = os.path.join(d, "m.anthem")
            model.save(path)
            with open(path, "rb") as fh:
                return fh.read()

    @classmethod
    def tearDownClass(cls):
        for ix in cls.indexes.values():
            ix.close()
        for _, m in cls.models:
            m.close()

    def each(self):
        for name, m in self.models:
            with self.subTest(model=name):
                yield m, self.indexes[name]

    def assert_ranked(self, hits):
        d = [h.distance for h in hits]
        self.assertEqual(d, sorted(d))
        for h in hits:
            self.assertEqual((h.product_id, h.title), self.cat[h.index])

    # ---- search_batch ---------------------------------------------------

    def assert_batch_is_search(self, m, ix, **kw):
        k = kw.get("k", 10)
        b = ix.search_batch(m, QUERIES, **kw)
        pos, dist, counts = (tolist(b.positions), tolist(b.distances),
                             tolist(b.counts))
        self.assertEqual(len(pos), len(QUERIES))
        for q, query in enumerate(QUERIES):
            hits = ix.search(m, query, **kw)
            self.assertEqual(counts[q], len(hits), query)
            self.assertEqual(len(pos[q]), min(k, len(ix)))
            self.assertEqual(pos[q][:counts[q]], [h.index for h in hits],
                             query)
            # bit for bit: the same pipeline, not a tolerance
            self.assertEqual([_bits(d) for d in dist[q][:counts[q]]],
                             [f32_bits(h.distance) for h in hits], query)
            self.assertTrue(all(p == -1 for p in pos[q][counts[q]:]))
            self.assertTrue(all(math.isnan(d) for d in dist[q][counts[q]:]))
        return b

    def test_batch_equals_search_per_query(self):
        for m, ix in self.each():
            b = self.assert_batch_is_search(m, ix)
            self.assertEqual(tolist(b.counts), [10] * len(QUERIES))
            if anthem.HAVE_NUMPY:
                self.assertEqual(str(b.positions.dtype), "int64")
                self.assertEqual(str(b.distances.dtype), "float32")
                self.assertEqual(b.positions.shape, (len(QUERIES), 10))
            # threads spread the queries; the hits do not change
            self.assertEqual(tolist(ix.search_batch(m, QUERIES, threads=2)
                                    .positions), tolist(b.positions))
            self.assert_batch_is_search(m, ix, k=7, k1=20, and_=["winter"],
                                        or_=["cap"], threads=2)
            self.assert_batch_is_search(m, ix, k=30, k1=5)   # the tail
            self.assert_batch_is_search(m, ix, k=5, stage1_only=True)
            b = self.assert_batch_is_search(m, ix, k=6,
                                            allow=list(range(0, 560, 70)))
            self.assertEqual(tolist(b.counts), [6] * len(QUERIES))
            b = self.assert_batch_is_search(m, ix, k=6, allow=[3, 9, 3])
            self.assertEqual(tolist(b.counts), [2] * len(QUERIES))

    def test_batch_edges(self):
        m, ix = self.models[0][1], self.indexes["plain"]
        b = ix.search_batch(m, [], k=4)
        self.assertEqual((len(b.positions), len(b.counts)), (0, 0))
        b = ix.search_batch(m, ["hat"], k=2 ** 62)    # capped, not allocated
        self.assertEqual(len(b.positions[0]), len(ix))
        self.assertEqual(tolist(b.counts), [len(ix)])
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.search_batch(m, "one string")
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            ix.search_batch(m, ["hat", "a\0b"])
        self.assertIn("queries[1]", cm.exception.message)

    # ---- AND / OR ------------------------------------------------------------

    def test_composed_query_combines_stage2_distances(self):
        for m, ix in self.each():
            hits = ix.search(m, "hat", k=10, and_=["winter"], or_=["cap"])
            self.assertEqual(len(hits), 10)
            self.assert_ranked(hits)
            pos = [h.index for h in hits]
            d = {t: tolist(ix.score(m, t, pos)) for t in ("hat", "winter",
                                                          "cap")}
            for i, h in enumerate(hits):
                # an AND branch takes its largest distance, the OR the
                # smallest of the branches
                want = min(max(d["hat"][i], d["winter"][i]), d["cap"][i])
                self.assertEqual(f32_bits(h.distance), f32_bits(want),
                                 h.title)
            plain = ix.search(m, "hat", k=10)
            self.assertNotEqual([h.index for h in hits],
                                [h.index for h in plain])
            # one str is one text; a sequence of one the same
            self.assertEqual(ix.search(m, "hat", and_="winter", or_="cap"),
                             hits)
            # AND only: each distance is the larger of the two texts'
            both = ix.search(m, "hat", k=5, and_=("winter",))
            pos = [h.index for h in both]
            a, b = tolist(ix.score(m, "hat", pos)), \
                tolist(ix.score(m, "winter", pos))
            self.assertEqual([f32_bits(h.distance) for h in both],
                             [f32_bits(max(x, y)) for x, y in zip(a, b)])

    def test_composition_limits(self):
        m, ix = self.models[0][1], self.indexes["plain"]
        self.assertEqual(len(ix.search(m, "hat", k=3, and_=["a"] * 16)), 3)
        with self.assertRaises(anthem.RangeError):
            ix.search(m, "hat", and_=["a"] * 17)
        with self.assertRaises(anthem.RangeError):
            ix.search(m, "hat", or_=["a"] * 17)
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            ix.search(m, "hat", or_=["cap", 3])
        self.assertIn("or_[1]", cm.exception.message)

    def test_stage1_only_is_the_region_scan(self):
        # without the lexical term stage 1 has one source, the region scan
        m, ix = self.models[0][1], self.indexes["plain"]
        for q in ("winter hat", "coat"):
            hits = ix.search(m, q, k=8, stage1_only=True)
            scan = ix.scan(m.embed_query(q), k=8)
            self.assertEqual([(h.index, f32_bits(h.distance)) for h in hits],
                             [(h.index, f32_bits(h.distance)) for h in scan])
            self.assertNotEqual(hits, ix.search(m, q, k=8))

    # ---- the filter ----------------------------------------------------------

    def test_allow_filter(self):
        for m, ix in self.each():
            allowed = [5, 77, 140, 300, 301, 302, 480, 555]
            hits = ix.search(m, "winter hat", k=5, allow=allowed)
            self.assertEqual(len(hits), 5)
            self.assert_ranked(hits)
            self.assertTrue(set(h.index for h in hits) <= set(allowed))
            # the same filter given as ids, with repeats and an id the
            # index does not hold
            ids = [ix.id(p) for p in reversed(allowed)] + \
                [ix.id(5), "no such id"]
            self.assertEqual(ix.search(m, "winter hat", k=5, allow=ids),
                             hits)
            # fewer allowed than k: all of them, ranked
            some = ix.search(m, "winter hat", k=20, allow=allowed)
            self.assertEqual(sorted(h.index for h in some), allowed)
            self.assert_ranked(some)
            self.assertEqual(some[:5], hits)
            # every product allowed is no filter at all
            self.assertEqual(ix.search(m, "coat", k=10,
                                       allow=range(len(ix))),
                             ix.search(m, "coat", k=10))
            # an empty filter allows nothing (it is not "no filter")
            self.assertEqual(ix.search(m, "coat", allow=[]), [])
            self.assertEqual(ix.search(m, "coat", allow=["nope"]), [])
            # with a composed query too
            comp = ix.search(m, "hat", k=3, and_=["winter"], or_=["cap"],
                             allow=allowed)
            self.assertTrue(set(h.index for h in comp) <= set(allowed))

    @unittest.skipUnless(anthem.HAVE_NUMPY, "numpy is not importable")
    def test_allow_numpy_positions(self):
        import numpy as np
        m, ix = self.models[0][1], self.indexes["plain"]
        allowed = [5, 77, 140, 300]
        want = ix.search(m, "coat", k=3, allow=allowed)
        for dtype in (np.int64, np.int32, np.uint64):
            self.assertEqual(ix.search(m, "coat", k=3,
                                       allow=np.array(allowed, dtype)), want)
        with self.assertRaises(anthem.RangeError):
            ix.search(m, "coat", allow=np.array([1, -2]))
        with self.assertRaises(anthem.RangeError):
            ix.search(m, "coat", allow=np.array([len(ix)]))
        self.assertEqual(ix.search(m, "coat", allow=np.array([], np.int64)),
                         [])

    def test_allow_refusals(self):
        m, ix = self.models[0][1], self.indexes["plain"]
        with self.assertRaises(anthem.RangeError) as cm:
            ix.search(m, "coat", allow=[0, len(ix)])
        self.assertIn("allow[1]", cm.exception.message)
        with self.assertRaises(anthem.RangeError):
            ix.search(m, "coat", allow=[-1])
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.search(m, "coat", allow=[True, False])   # not a mask
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.search(m, "coat", allow=[1.5])
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.search(m, "coat", allow=3)

    # ---- find and rerank -----------------------------------------------------

    def test_find(self):
        ix = self.indexes["plain"]
        for i in (0, 1, 250, len(ix) - 1):
            self.assertEqual(ix.find(ix.id(i)), i)
        self.assertEqual([ix.find(pid) for pid, _ in ix],
                         list(range(len(ix))))
        self.assertIsNone(ix.find("no such id"))
        self.assertIsNone(ix.find(""))
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.find("a\0b")

    def test_rerank_is_sorted_score(self):
        for m, ix in self.each():
            cands = [400, 3, 77, 512, 9, 150, 0]
            hits = ix.rerank(m, "winter hat", cands)
            d = tolist(ix.score(m, "winter hat", cands))
            want = sorted(zip(d, cands))
            self.assertEqual([(f32_bits(h.distance), h.index) for h in hits],
                             [(f32_bits(x), p) for x, p in want])
            self.assert_ranked(hits)
            self.assertEqual(hits[0].score, -hits[0].distance)
            # by ids: the same, with ids the index does not hold left out
            ids = [ix.id(p) for p in cands]
            self.assertEqual(ix.rerank(m, "winter hat",
                                       ids[:3] + ["nope"] + ids[3:]), hits)
            self.assertEqual(ix.rerank(m, "winter hat", ["nope"]), [])
            # the pipeline's stage 2 is this ranking of its candidates
            top = ix.search(m, "coat", k=10)
            again = ix.rerank(m, "coat", [h.index for h in reversed(top)])
            self.assertEqual(again, top)

    def test_rerank_refusals(self):
        m, ix = self.models[0][1], self.indexes["plain"]
        self.assertEqual(ix.rerank(m, "coat", []), [])
        with self.assertRaises(anthem.RangeError):
            ix.rerank(m, "coat", [1, len(ix)])
        with self.assertRaises(anthem.RangeError):
            ix.rerank(m, "coat", [-1])
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.rerank(m, "coat", [1, ix.id(2)])       # mixed

    def test_hit_score_is_minus_distance(self):
        for m, ix in self.each():
            for h in ix.search(m, "winter hat", k=10):
                self.assertEqual(h.score, -h.distance)
            hits = ix.search(m, "winter hat", k=10)
            s = [h.score for h in hits]
            self.assertEqual(s, sorted(s, reverse=True))


if __name__ == "__main__":
    unittest.main()
