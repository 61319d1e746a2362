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


class TestCategories(TempDirCase):

    TREE = ("p1\tgrey fedora\tClothing > Hats > Fedoras\n"
            "p2\tstraw boater\tClothing > Hats\n"
            "p3\tleather boots\tClothing > Shoes > Boots | Sale\n"
            "p4\trunning shoes\tClothing > Shoes\n"
            "p5\tred scarf\n")

    def test_judgments_from_categories(self):
        path = self.path("tree.tsv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.TREE)
        c = anthem.Catalog(path)
        self.assertEqual(c.categorised, 4)
        self.assertEqual(c.categories(2), ["Clothing > Shoes > Boots", "Sale"])
        self.assertEqual(c.categories(4), [])
        train, test = anthem.Judgments.from_categories(c, max_frac=1.0,
                                                       test_frac=0.0)
        self.assertEqual(len(test), 0)
        got = {(q, c.id(p)): g for q, jd in train for p, g in jd}
        # worked out by hand: 3 in the category, 2 one level up, 1 above
        self.assertEqual(got, {
            ("boots", "p3"): 3, ("clothing", "p1"): 1, ("clothing", "p2"): 2,
            ("clothing", "p3"): 1, ("clothing", "p4"): 2,
            ("fedoras", "p1"): 3, ("hats", "p1"): 2, ("hats", "p2"): 3,
            ("sale", "p3"): 3, ("shoes", "p3"): 2, ("shoes", "p4"): 3})
        self.assertEqual(train.count, 11)
        out = self.path("j.tsv")
        train.save(out)
        with anthem.Judgments(out, c) as back:
            self.assertEqual(back.count, 11)
        # a side of its own for every seed; the sides add up
        tr, te = anthem.Judgments.from_categories(c, max_frac=1.0,
                                                  test_frac=0.5, seed=3)
        self.assertEqual(len(tr) + len(te), 6)
        self.assertEqual(tr.count + te.count, 11)
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Judgments.from_categories(c, max_frac=0.0)
        # training on the tree's judgements
        t = anthem.Trainer(c, train, dim=2, buckets=256,
                           options={"epochs": 1, "threads": 1,
                                    "hard_negatives": 0, "valid_frac": 0.0})
        t.run()
        self.assertEqual(t.epoch, 1)
        t.close()

    def test_self_supervised_needs_no_judgments(self):
        path = self.path("tree.tsv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.TREE)
        c = anthem.Catalog(path)
        opts = {"epochs": 1, "threads": 1, "hard_negatives": 0,
                "valid_frac": 0.0, "pseudo_queries": 4, "seed": 5}
        models = []
        for _ in range(2):
            with anthem.Trainer(c, None, dim=2, buckets=256,
                                options=opts) as t:
                t.run()
                out = self.path("m%d.anthem" % len(models))
                t.model.save(out)
                with open(out, "rb") as fh:
                    models.append(fh.read())
        self.assertEqual(models[0], models[1])  # the same bytes for a seed
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Trainer(c, None, dim=2, buckets=256,
                           options={"epochs": 1})  # no pseudo_queries


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
