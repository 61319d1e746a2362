"""Model: create, configuration, score, embed, explain, files."""

import math
import unittest

from support import SMALL, TempDirCase, f32_bits, tolist

import anthem

QUERY = "blue jean"
TITLE = "blue jean: (usually plural) close-fitting trousers"


class TestModel(TempDirCase):

    def test_config(self):
        with anthem.Model(SMALL, seed=7, geometry="euclidean") as m:
            cfg = m.config
            self.assertEqual(cfg["dim"], 8)
            self.assertEqual(cfg["buckets"], 4096)
            self.assertEqual(cfg["seed"], 7)
            self.assertEqual(cfg["geometry"], anthem.Geometry.EUCLIDEAN)
            self.assertEqual(m.geometry, anthem.Geometry.EUCLIDEAN)
            self.assertEqual(m.dim, 8)
            defaults = anthem.default_config()
            for k in ("gamma", "hash_seed", "max_query_trigrams",
                      "tie_embeddings"):
                self.assertEqual(cfg[k], defaults[k], k)
            info = m.info()
            # a created model has a fingerprint too (config + weights)
            self.assertNotEqual(info["fingerprint"], 0)
            self.assertAlmostEqual(m.gamma, cfg["gamma"], places=6)
            self.assertFalse(info["mapped"])
            self.assertEqual(info["library_version"], anthem.version())
            # a config dict goes back in as it came out
            with anthem.Model(cfg) as m2:
                self.assertEqual(m2.config, cfg)

    def test_score_is_deterministic_and_finite(self):
        with anthem.Model(SMALL) as m, anthem.Model(SMALL) as m2:
            d = m.score(QUERY, TITLE)
            self.assertIsInstance(d, float)
            self.assertTrue(math.isfinite(d))
            self.assertEqual(f32_bits(d), f32_bits(m2.score(QUERY, TITLE)))
            self.assertEqual(m.score(QUERY, TITLE.encode()), d)
            self.assertTrue(math.isfinite(m.score("", "")))
            self.assertTrue(math.isfinite(m.score("déjà vu ☃", "café")))

    def test_geometries(self):
        for g in anthem.Geometry:
            with anthem.Model(SMALL, geometry=g) as m:
                self.assertEqual(m.geometry, g)
                self.assertTrue(math.isfinite(m.score(QUERY, TITLE)))
                h = m.embed_query(QUERY)
                self.assertEqual(h.geometry, g)

    def test_embed(self):
        with anthem.Model(SMALL, gamma=0.25) as m:
            h = m.embed_query(QUERY)
            self.assertIsInstance(h, anthem.Hyperboloid)
            self.assertEqual(h.dim, 8)
            self.assertEqual(h.gamma, 0.25)
            self.assertEqual(len(tolist(h.centre)), 8)
            self.assertTrue(all(x >= 0 for x in tolist(h.limit)))
            p = m.embed_products([TITLE, "denim", ""])
            rows = tolist(p)
            self.assertEqual(len(rows), 3)
            self.assertTrue(all(len(r) == 8 for r in rows))
            self.assertEqual(rows[0], tolist(m.embed_products([TITLE]))[0])
            self.assertEqual(len(tolist(m.embed_products([]))), 0)
            # the product points lie where a region can measure them
            self.assertEqual(len(tolist(h.distances(p))), 3)
            self.assertTrue(math.isfinite(h.distance(rows[1])))

    def test_explanation(self):
        with anthem.Model(SMALL) as m:
            e = m.explain(QUERY, TITLE)
            self.assertIsInstance(e, anthem.Explanation)
            self.assertEqual(e.rows[0], "#bl")
            self.assertEqual(e.cols[0], "#bl")
            w = tolist(e.weights)
            self.assertEqual(len(w), len(e.rows))
            for row in w:
                self.assertEqual(len(row), len(e.cols))
                self.assertAlmostEqual(sum(row), 1.0, places=5)
                self.assertTrue(all(0.0 <= x <= 1.0 for x in row))
            self.assertEqual(f32_bits(e.distance),
                             f32_bits(m.score(QUERY, TITLE)))

    def test_save_load_round_trip_is_bit_identical(self):
        path = self.path("m.anthem")
        with anthem.Model(SMALL, seed=3) as m:
            m.save(path)
            want = [m.score(QUERY, TITLE), m.score("coat", "a warm coat")]
            cfg = m.config
            emb = tolist(m.embed_products([TITLE]))
        with anthem.Model.load(path) as m2:
            self.assertEqual([f32_bits(m2.score(QUERY, TITLE)),
                              f32_bits(m2.score("coat", "a warm coat"))],
                             [f32_bits(x) for x in want])
            self.assertEqual(m2.config, cfg)
            self.assertTrue(m2.is_mapped)
            self.assertNotEqual(m2.fingerprint, 0)
            self.assertEqual(tolist(m2.embed_products([TITLE])), emb)
            fp = m2.fingerprint
        with open(path, "rb") as fh:
            data = fh.read()
        with anthem.Model.load_buffer(data) as m3:
            self.assertEqual(f32_bits(m3.score(QUERY, TITLE)),
                             f32_bits(want[0]))
            self.assertEqual(m3.fingerprint, fp)
        with anthem.Model.load_buffer(memoryview(bytearray(data))) as m4:
            self.assertEqual(m4.config, cfg)
        self.assertEqual(anthem.Model.read_config(path), cfg)

    def test_save_to_a_bad_place(self):
        with anthem.Model(SMALL) as m:
            with self.assertRaises(anthem.Error) as cm:
                m.save(self.path("no/such/dir/m.anthem"))
            self.assertIn("no/such/dir", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
