"""Index: build, save, load, scan, two-stage search, candidate scoring."""

import threading
import unittest

from support import QUERIES, SMALL, TempDirCase, catalog, f32_bits, \
    needs_fixture, tolist

import anthem

QUERY = "blue jean"


def key(hits):
    """Hits as (position, distance bits): equal only when exactly equal."""
    return [(h.index, f32_bits(h.distance)) for h in hits]


@needs_fixture
class TestIndex(TempDirCase):

    def setUp(self):
        super().setUp()
        self.model_path = self.path("m.anthem")
        with anthem.Model(SMALL, seed=5) as m:
            m.save(self.model_path)
        # a loaded model has a fingerprint, which the index records
        self.model = anthem.Model.load(self.model_path)
        self.cat = catalog()

    def tearDown(self):
        self.model.close()
        super().tearDown()

    def assert_sorted_hits(self, hits, k):
        self.assertEqual(len(hits), k)
        d = [h.distance for h in hits]
        self.assertEqual(d, sorted(d))
        for h in hits:
            self.assertIsInstance(h, anthem.Hit)
            self.assertEqual(self.cat[h.index], (h.product_id, h.title))
            product_id, title, distance = h     # a 3-tuple
            self.assertEqual(distance, h.distance)

    def test_build_save_load_search(self):
        m = self.model
        with anthem.Index.build(m, self.cat, threads=1) as ix:
            self.assertEqual(len(ix), len(self.cat))
            self.assertEqual(ix.dim, 8)
            self.assertEqual(ix.model_fingerprint, m.fingerprint)
            self.assertEqual(ix[3], self.cat[3])
            self.assertEqual(ix.id(-1), self.cat.id(-1))
            built = ix.search(m, QUERY, k=10)
            self.assert_sorted_hits(built, 10)
            ix.save(self.path("x.index"))
        with anthem.Index.load(self.path("x.index"), m) as ix:
            self.assertEqual(len(ix), len(self.cat))
            hits = ix.search(m, QUERY, k=10, k1=100)
            self.assert_sorted_hits(hits, 10)
            self.assertEqual([(h.product_id, f32_bits(h.distance))
                              for h in hits],
                             [(h.product_id, f32_bits(h.distance))
                              for h in built])
            # stage 2 distances are the full model's scores
            for h in hits[:3]:
                self.assertEqual(f32_bits(h.distance),
                                 f32_bits(m.score(QUERY, h.title)))
        with anthem.Index.load(self.path("x.index")) as ix:   # no check
            self.assertEqual(len(ix), len(self.cat))

    def test_index_of_another_model_is_refused(self):
        with anthem.Index.build(self.model, self.cat, threads=1) as ix:
            ix.save(self.path("x.index"))
        other_path = self.path("other.anthem")
        with anthem.Model(SMALL, seed=6) as other:
            other.save(other_path)
        with anthem.Model.load(other_path) as other:
            with self.assertRaises(anthem.MismatchError) as cm:
                anthem.Index.load(self.path("x.index"), other)
            self.assertEqual(cm.exception.code, -8)
            self.assertIn("x.index", cm.exception.message)

    def test_scan_and_vectors(self):
        m = self.model
        with anthem.Index.build(m, self.cat, threads=1) as ix:
            h = m.embed_query(QUERY)
            hits = ix.scan(h, k=7)
            self.assert_sorted_hits(hits, 7)
            v = ix.vectors
            self.assertEqual((v.count, v.dim), (len(self.cat), 8))
            d = tolist(h.distances(v))
            best = sorted(range(len(d)), key=lambda i: (d[i], i))[:7]
            self.assertEqual([x.index for x in hits], best)
            # AND / OR of embedded queries scan too
            either = h | m.embed_query("coat")
            self.assertEqual(len(ix.scan(either, k=5)), 5)
            self.assertEqual(len(ix.scan(h & m.embed_query("coat"), 5)), 5)
            # the index's points are the model's product points
            self.assertEqual(tolist(v.data)[4],
                             tolist(m.embed_products([self.cat.title(4)]))[0])
        # a borrowed view dies with its index
        with self.assertRaises(anthem.Error):
            v.count

    def test_score_candidates(self):
        m = self.model
        with anthem.Index.build(m, self.cat, threads=1) as ix:
            cands = [0, 5, 17, 200]
            d = tolist(ix.score(m, QUERY, cands))
            self.assertEqual(len(d), 4)
            for i, dist in zip(cands, d):
                self.assertEqual(f32_bits(dist),
                                 f32_bits(m.score(QUERY, self.cat.title(i))))
            self.assertEqual(tolist(anthem.score(m, ix, QUERY, [])), [])
            with self.assertRaises(anthem.RangeError) as cm:
                ix.score(m, QUERY, [0, len(ix)])
            self.assertIn("candidates[1]", cm.exception.message)
            with self.assertRaises(anthem.RangeError):
                ix.score(m, QUERY, [-1])

    def test_k_edges_do_not_crash(self):
        m = self.model
        with anthem.Index.build(m, self.cat, threads=1) as ix:
            n = len(ix)
            self.assertEqual(ix.search(m, QUERY, k=0), [])
            self.assertEqual(len(ix.search(m, QUERY, k=n + 50, k1=0)), n)
            # a huge k or k1 must size no allocation (2**62 x 16 bytes
            # wraps to 0): the binding caps k, the library caps both
            self.assertEqual(len(ix.search(m, QUERY, k=3, k1=2 ** 62)), 3)
            self.assertEqual(len(ix.search(m, QUERY, k=2 ** 62)), n)
            self.assertEqual(len(ix.scan(m.embed_query(QUERY), 2 ** 62)), n)
            with self.assertRaises(anthem.RangeError):
                ix.search(m, QUERY, k=-1)
            with self.assertRaises(IndexError):
                ix.title(n)
            with self.assertRaises(anthem.Error):
                ix.scan("not a region", 3)

    def test_threads_share_a_model_and_an_index(self):
        # ctypes drops the GIL in every call; the C objects are read-only
        m = self.model
        queries = ["blue jean", "coat", "hat", "boot", "dress", "scarf"]
        with anthem.Index.build(m, self.cat, threads=1) as ix:
            serial = {q: ix.search(m, q, k=5) for q in queries}
            results, errors = {}, []

            def work(q):
                try:
                    for _ in range(3):
                        results[q] = ix.search(m, q, k=5)
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(q,))
                       for q in queries]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(results, serial)

    def test_dimension_mismatch(self):
        with anthem.Index.build(self.model, self.cat, threads=1) as ix, \
                anthem.Model(dim=4, buckets=64) as m4:
            with self.assertRaises(anthem.MismatchError):
                ix.search(m4, QUERY, 3)
            with self.assertRaises(anthem.MismatchError):
                ix.scan(m4.embed_query(QUERY), 3)

    def build(self, **options):
        return anthem.Index.build(self.model, self.cat, threads=1, **options)

    def saved(self, ix):
        """The bytes of the index's file."""
        ix.save(self.path("saved.index"))
        with open(self.path("saved.index"), "rb") as fh:
            return fh.read()

    def test_build_options(self):
        with self.build() as ix:
            self.assertIs(ix.has_ann, False)
            self.assertIsNone(ix.ann_params)
            self.assertEqual(ix.format_version, 2)
            plain = self.saved(ix)
        with self.build(ann=True) as ix:
            self.assertIs(ix.has_ann, True)
            graph = self.saved(ix)
        with anthem.Index.load(self.path("saved.index"), self.model) as ix:
            self.assertIs(ix.has_ann, True)
            self.assertEqual(ix.ann_params,
                             {"degree": 32, "ef": 128, "seed": 1})
            self.assertEqual(ix.format_version, 3)
        # the same options give the same graph, whatever the threads
        with anthem.Index.build(self.model, self.cat, threads=2,
                                ann=True) as ix:
            self.assertEqual(self.saved(ix), graph)
        # each option reaches the library: it changes the file
        # (a beam below the degree, 32, is raised to it: 48 stays)
        for options in ({"ann_degree": 8}, {"ann_ef": 48}, {"ann_seed": 2}):
            with self.subTest(**options), self.build(ann=True, **options) \
                    as ix:
                self.assertIs(ix.has_ann, True)
                self.assertNotEqual(self.saved(ix), graph)
                name = next(iter(options))
                self.assertEqual(ix.ann_params[name[4:]], options[name])
        with self.build(points="int8") as ix:
            self.assertIs(ix.has_ann, False)
            self.assertEqual(ix.points, "int8")
            # the int8 codes are kept beside the float points
            self.assertGreater(len(self.saved(ix)), len(plain))
        with anthem.Index.load(self.path("saved.index"), self.model) as ix:
            self.assertEqual(ix.points, "int8")
        with self.build() as ix:
            self.assertEqual(ix.points, "float32")
        with self.build(points="float32", ann=False) as ix:
            self.assertEqual(self.saved(ix), plain)

    def test_build_progress(self):
        calls = []
        with self.build(ann=True, progress=lambda d, t: calls.append((d, t))) \
                as ix:
            n = len(ix)
            self.assertIs(ix.has_ann, True)
        # each round of insertions, then done == total once at the end
        self.assertGreaterEqual(len(calls), 2)
        self.assertEqual(calls[-1], (n, n))
        self.assertEqual([t for _, t in calls], [n] * len(calls))
        self.assertEqual([d for d, _ in calls], sorted(d for d, _ in calls))
        # without a graph there is nothing to report
        calls.clear()
        with self.build(progress=lambda d, t: calls.append((d, t))):
            pass
        self.assertEqual(calls, [])
        # an exception in the callback is raised by build, after C returns

        class Stop(Exception):
            pass

        def stop(done, total):
            raise Stop(done)
        with self.assertRaises(Stop):
            self.build(ann=True, progress=stop)
        with self.assertRaises(anthem.InvalidArgumentError):
            self.build(ann=True, progress=3)

    def test_stage1_and_ef(self):
        m = self.model
        with self.build() as flat, self.build(points="int8") as int8, \
                self.build(ann=True) as graph:
            n = len(flat)
            stage1 = {"k": 200, "stage1_only": True}
            narrow_misses = False
            for q in QUERIES:
                with self.subTest(query=q):
                    want = key(flat.search(m, q))
                    self.assertEqual(
                        key(int8.search(m, q, stage1="exact")), want)
                    # a beam as wide as the index reaches every product
                    self.assertEqual(key(graph.search(m, q, stage1="graph",
                                                      ef=n)), want)
                    exact = key(flat.search(m, q, **stage1))
                    self.assertEqual(key(graph.search(m, q, stage1="graph",
                                                      ef=n, **stage1)), exact)
                    # auto and exact scan, even with a graph
                    for s1 in ("auto", "exact"):
                        self.assertEqual(key(graph.search(
                            m, q, stage1=s1, ef=64, **stage1)), exact)
                    narrow = graph.search(m, q, stage1="graph", ef=64,
                                          **stage1)
                    narrow_misses |= key(narrow) != exact
            self.assertTrue(narrow_misses, "a beam of 64 found the exact "
                            "top 200 of every query")
            # without a graph, "graph" scans
            self.assertEqual(key(flat.search(m, QUERY, stage1="graph")),
                             key(flat.search(m, QUERY)))

    def test_stage2_elements(self):
        m = self.model
        with self.build() as ix:
            cut_differs = False
            for q in QUERIES:
                with self.subTest(query=q):
                    full = key(ix.search(m, q))
                    # more elements than any query has: all of them
                    self.assertEqual(
                        key(ix.search(m, q, stage2_elements=100000)), full)
                    cut = ix.search(m, q, stage2_elements=3)
                    cut_differs |= key(cut) != full
            self.assertTrue(cut_differs, "3 elements scored as all")

    def test_prefilter(self):
        m = self.model
        with self.build(points="int8") as ix:
            n = len(ix)
            for q in QUERIES:
                with self.subTest(query=q):
                    # off by default on the fixture (too few products)
                    self.assertEqual(key(ix.search(m, q, prefilter="off")),
                                     key(ix.search(m, q)))
                    # the whole catalogue's depth: the exact scan's hits
                    self.assertEqual(
                        key(ix.search(m, q, k=50, stage1_only=True,
                                      prefilter=n)),
                        key(ix.search(m, q, k=50, stage1_only=True,
                                      stage1="exact")))
                    small = ix.search(m, q, k=5, k1=10, prefilter=1)
                    self.assert_sorted_hits(small, 5)
                    b = ix.search_batch(m, [q], k=5, k1=10, prefilter=1)
                    self.assertEqual(tolist(b.positions)[0],
                                     [h.index for h in small])
            for bad in ("on", -1, None, 1.5):
                with self.subTest(prefilter=bad), \
                        self.assertRaises(anthem.Error):
                    ix.search(m, QUERY, prefilter=bad)

    def test_batch_takes_the_new_options(self):
        m = self.model
        with self.build(ann=True) as ix:
            for options in ({"stage2_elements": 3},
                            {"stage1": "graph", "ef": 64, "k": 200,
                             "stage1_only": True}):
                with self.subTest(**options):
                    b = ix.search_batch(m, QUERIES, **options)
                    pos, dist = tolist(b.positions), tolist(b.distances)
                    for q, query in enumerate(QUERIES):
                        hits = ix.search(m, query, **options)
                        self.assertEqual(pos[q], [h.index for h in hits])
                        self.assertEqual([f32_bits(d) for d in dist[q]],
                                         [f32_bits(h.distance)
                                          for h in hits])

    def test_bad_stage1_and_points(self):
        m = self.model
        with self.build() as ix:
            for bad in ("fast", "EXACT", 1, None):
                for call in (lambda: ix.search(m, QUERY, stage1=bad),
                             lambda: ix.search_batch(m, [QUERY],
                                                     stage1=bad)):
                    with self.subTest(stage1=bad), \
                            self.assertRaises(anthem.InvalidArgumentError) \
                            as cm:
                        call()
                    self.assertEqual(cm.exception.code, anthem.Status.EINVAL)
                    self.assertIn("stage1 %r" % (bad,), cm.exception.message)
                    self.assertIn("auto, exact, graph", cm.exception.message)
            with self.assertRaises(anthem.RangeError):
                ix.search(m, QUERY, ef=-1)
            with self.assertRaises(anthem.RangeError):
                ix.search(m, QUERY, stage2_elements=-1)
        for bad in ("int4", "float64", 0):
            with self.subTest(points=bad), \
                    self.assertRaises(anthem.InvalidArgumentError) as cm:
                self.build(points=bad)
            self.assertIn("points %r" % (bad,), cm.exception.message)
            self.assertIn("float32, int8", cm.exception.message)
        # the library's own checks are reached too
        with self.assertRaises(anthem.Error):
            self.build(ann=True, ann_degree=1)


if __name__ == "__main__":
    unittest.main()
