"""Catalogues, judgements and the metrics."""

import unittest

from support import SMALL, TempDirCase, catalog, fixture, needs_fixture

import anthem

METRICS = ("ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr")


@needs_fixture
class TestCatalog(TempDirCase):

    def test_catalog(self):
        c = catalog()
        self.assertEqual(len(c), 561)          # stats.txt: products 561
        self.assertEqual(c.id(0), "02666079")
        self.assertTrue(c.title(0).startswith("aba: "))
        self.assertEqual(c[0], (c.id(0), c.title(0)))
        self.assertEqual(c[-1], c[len(c) - 1])
        self.assertEqual(c.find(c.id(17)), 17)
        with self.assertRaises(IndexError):
            c.id(len(c))
        with self.assertRaises(IndexError):
            c[-len(c) - 1]
        self.assertEqual(len(list(c)), 561)
        self.assertEqual(c.skipped, 0)

    def test_strict_and_lenient(self):
        path = self.path("bad.tsv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("# comment\np1\tfirst\nno tab here\np2\tsecond\n")
        with self.assertRaises(anthem.FormatError) as cm:
            anthem.Catalog(path)
        self.assertIn("%s:3" % path, cm.exception.message)
        with anthem.Catalog.load(path, lenient=True) as c:
            self.assertEqual(len(c), 2)
            self.assertEqual(c.skipped, 1)

    def test_judgments(self):
        c = catalog()
        with anthem.Judgments(fixture("test.tsv"), c) as j:
            self.assertEqual(len(j), 40)       # stats.txt: queries_test 40
            self.assertEqual(j.query(0), "blue jean")
            query, judged = j[0]
            self.assertEqual(query, "blue jean")
            self.assertIn((c.find("03594734"), 3), judged)
            total = sum(len(jd) for _, jd in j)
            self.assertEqual(total, 537)       # judgements_test 537
            self.assertTrue(all(0 <= g <= 3 for _, jd in j for _, g in jd))
            self.assertIs(j.catalog, c)
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Judgments(fixture("test.tsv"), "not a catalogue")


@needs_fixture
class TestEvaluate(unittest.TestCase):

    def test_evaluate(self):
        c = catalog()
        with anthem.Model(SMALL) as m, \
                anthem.Judgments(fixture("test.tsv"), c) as j:
            r = anthem.evaluate(m, c, j, k1=50, max_queries=12, threads=1)
            self.assertEqual(r["queries"], 12)
            self.assertEqual(r["k1"], 50)
            for k in METRICS + ("recall@k1",):
                self.assertGreaterEqual(r[k], 0.0, k)
                self.assertLessEqual(r[k], 1.0, k)
            r0 = anthem.evaluate(m, c, j, k1=0, max_queries=12, threads=1)
            self.assertEqual(r0["k1"], 0)
            # stage 1 only through a prebuilt index: the same ranking
            with anthem.Index.build(m, c, threads=1) as ix:
                ri = anthem.evaluate(m, c, j, k1=0, max_queries=12,
                                     threads=1, index=ix)
            for k in METRICS:
                self.assertAlmostEqual(ri[k], r0[k], places=9, msg=k)

    def test_evaluate_ranking(self):
        c = catalog()
        with anthem.Judgments(fixture("test.tsv"), c) as j:
            r = anthem.evaluate_ranking(fixture("bm25-test.tsv"), c, j)
            self.assertEqual(r["queries"], 40)
            for k in METRICS:
                self.assertGreater(r[k], 0.0, k)
                self.assertLessEqual(r[k], 1.0, k)
            with self.assertRaises(anthem.NotFoundError):
                anthem.evaluate_ranking("/nonexistent/ranking.tsv", c, j)

    def test_judgments_of_another_catalogue_are_refused(self):
        # C cannot tell (judgements hold catalogue positions); the trainer
        # reads out of bounds with a smaller catalogue, so the binding
        # checks that the very Catalog object is passed.
        c = catalog()
        other = anthem.Catalog(fixture("catalog.tsv"))
        with anthem.Model(SMALL) as m, \
                anthem.Judgments(fixture("test.tsv"), c) as j:
            with self.assertRaises(anthem.MismatchError):
                anthem.evaluate(m, other, j)
            with self.assertRaises(anthem.MismatchError):
                anthem.evaluate_ranking(fixture("bm25-test.tsv"), other, j)
            with self.assertRaises(anthem.MismatchError):
                anthem.Trainer(other, j, SMALL)


if __name__ == "__main__":
    unittest.main()
