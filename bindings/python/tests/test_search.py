"""Index: build, save, load, scan, two-stage search, candidate scoring."""

import threading
import unittest

from support import SMALL, TempDirCase, catalog, f32_bits, needs_fixture, \
    tolist

import anthem

QUERY = "blue jean"


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


if __name__ == "__main__":
    unittest.main()
