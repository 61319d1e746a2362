"""Lifetimes (issue 13, defect 3): closing any object in any order while
others that use it are alive, also from a trainer's progress callback and
from another thread, gives an exception or a working object, never a
use-after-free.  scripts/test runs this file under AddressSanitizer with
the library's ASan build (ANTHEM_LIBRARY), where a use-after-free is a
crash; without ASan the checks below still see a freed object's data
(training on a freed catalogue ranks garbage) and the deferred frees."""

import itertools
import os
import random
import threading
import time
import unittest

import support
from support import SMALL, TINY_TRAIN, TempDirCase, fixture, needs_fixture

import anthem

QUERY = "blue jean"
TITLE = "blue jean: (usually plural) close-fitting trousers"
OPTS = dict(TINY_TRAIN, seed=7)


def trained_score(cat, j):
    """The score a tiny deterministic run gives QUERY/TITLE."""
    with anthem.Trainer(cat, j, SMALL, OPTS) as t:
        t.run()
        return t.model.score(QUERY, TITLE)


@needs_fixture
class TestTrainerLifetime(TempDirCase):

    def load(self):
        cat = anthem.Catalog(fixture("catalog.tsv"))
        return cat, anthem.Judgments(fixture("train.tsv"), cat)

    def test_closing_the_data_under_a_trainer(self):
        cat, j = self.load()
        want = trained_score(cat, j)
        for order in ([], ["cat"], ["j"], ["cat", "j"], ["j", "cat"]):
            with self.subTest(order=order):
                cat, j = self.load()
                t = anthem.Trainer(cat, j, SMALL, OPTS)
                objs = {"cat": cat, "j": j}
                for name in order:
                    objs[name].close()
                    self.assertTrue(objs[name].closed)
                    # closed for its owner at once...
                    with self.assertRaises(anthem.InvalidArgumentError):
                        len(objs[name])
                    # ...but kept for the trainer
                    self.assertIsNotNone(objs[name]._deferred)
                t.run()
                self.assertEqual(t.model.score(QUERY, TITLE), want)
                t.close()
                self.assertIsNone(j._deferred)  # the trainer's pin is gone
                j.close()
                cat.close()
                for o in (cat, j):
                    self.assertIsNone(o._deferred)
                    self.assertEqual(o._pins, 0)

    def test_closing_the_catalogue_under_judgments(self):
        cat, j = self.load()
        first = j.get(0)
        cat.close()
        self.assertEqual(j.get(0), first)
        self.assertIsNotNone(cat._deferred)
        j.close()
        self.assertIsNone(cat._deferred)

    def test_close_from_the_progress_callback(self):
        for what in ("trainer", "cat", "j", "all", "model"):
            with self.subTest(what=what):
                cat, j = self.load()
                box = {}
                calls = []

                def progress(p):
                    calls.append(p)
                    t = box["t"]
                    if what in ("trainer", "all"):
                        t.close()
                    if what in ("cat", "all"):
                        cat.close()
                    if what in ("j", "all"):
                        j.close()
                    if what == "model":
                        t.model.close()

                t = box["t"] = anthem.Trainer(cat, j, SMALL,
                                              dict(OPTS, epochs=2),
                                              progress=progress)
                t.run()
                if what in ("trainer", "all"):
                    # stopped at the first report, then freed
                    self.assertEqual(len(calls), 1)
                    self.assertTrue(t.closed)
                    self.assertIsNone(t._deferred)
                    with self.assertRaises(anthem.InvalidArgumentError):
                        t.run()
                else:
                    self.assertGreater(len(calls), 1)
                    self.assertGreaterEqual(t.epoch, 1)
                t.close()
                cat.close()
                j.close()
                for o in (cat, j, t):
                    self.assertIsNone(o._deferred)

    def test_run_from_the_callback_is_refused(self):
        cat, j = self.load()
        box = {}

        def progress(p):
            box["t"].run()

        t = box["t"] = anthem.Trainer(cat, j, SMALL, OPTS, progress=progress)
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            t.run()
        self.assertIn("already running", str(cm.exception))
        t.close()

    def test_every_close_order(self):
        """cat, judgements, trainer, its model, an index built with that
        model, the index's vectors: after each close, every object still
        open is used, and must answer or raise anthem.Error."""
        names = ["cat", "j", "t", "m", "ix", "v"]
        orders = list(itertools.permutations(names))
        # all 720 under a normal build; a fixed sample keeps the ASan run
        # short (every pair of objects still meets in both orders)
        random.Random(13).shuffle(orders)
        orders = orders[:int(os.environ.get(
            "ANTHEM_LIFETIME_ORDERS", "120"))]
        for order in orders:
            cat, j = self.load()
            t = anthem.Trainer(cat, j, SMALL, dict(OPTS, epoch_examples=32))
            m = t.model
            ix = anthem.Index.build(m, cat)
            v = ix.vectors
            objs = dict(cat=cat, j=j, t=t, m=m, ix=ix, v=v)
            uses = {
                "cat": lambda: (len(cat), cat.id(0)),
                "j": lambda: j.get(0),
                "t": lambda: (t.run(), t.model.score(QUERY, TITLE)),
                "m": lambda: m.score(QUERY, TITLE),
                "ix": lambda: ix.search(m, QUERY, k=3),
                "v": lambda: len(v),
            }
            for name in order:
                objs[name].close()
                for other in names:
                    try:
                        uses[other]()
                    except anthem.Error:
                        pass
            for o in objs.values():
                self.assertIsNone(o._deferred, order)
                self.assertEqual(o._pins, 0, order)


@needs_fixture
class TestSearchLifetime(TempDirCase):

    def setUp(self):
        super().setUp()
        self.cat = anthem.Catalog(fixture("catalog.tsv"))
        self.m = anthem.Model(SMALL)
        self.m.save(self.path("m.anthem"))

    def tearDown(self):
        self.cat.close()
        self.m.close()
        super().tearDown()

    def test_index_outlives_its_model_and_catalogue(self):
        ix = anthem.Index.build(self.m, self.cat)
        ix.save(self.path("i.idx"))
        want = ix.search(self.m, QUERY, k=5)
        self.cat.close()
        self.m.close()
        with self.assertRaises(anthem.InvalidArgumentError):
            ix.search(self.m, QUERY)
        with anthem.Model.load(self.path("m.anthem")) as m2:
            self.assertEqual(ix.search(m2, QUERY, k=5), want)
            with anthem.Index.load(self.path("i.idx"), m2) as ix2:
                m2.close()
                self.assertEqual(len(ix2), len(ix))
        v = ix.vectors
        ix.close()
        with self.assertRaises(anthem.InvalidArgumentError):
            len(v)

    def test_another_models_index_is_refused(self):
        # issue 13, defect 8: loaded without a model, searched with another
        ix = anthem.Index.build(self.m, self.cat)
        ix.save(self.path("i.idx"))
        with anthem.Model(dict(SMALL, seed=99)) as other, \
                anthem.Index.load(self.path("i.idx")) as ld:
            for call in (lambda: ld.search(other, QUERY),
                         lambda: ld.search_batch(other, [QUERY]),
                         lambda: ld.score(other, QUERY, [0, 1]),
                         lambda: ld.rerank(other, QUERY, [0, 1])):
                with self.assertRaises(anthem.MismatchError) as cm:
                    call()
                self.assertIn("index was built by model %016x, not %016x"
                              % (self.m.fingerprint, other.fingerprint),
                              str(cm.exception))
            self.assertEqual(len(ld.search(self.m, QUERY, k=3)), 3)
        ix.close()

    def test_close_from_another_thread_during_a_batch(self):
        """A batch in one thread, close() of its index and model in
        another: the close waits for nothing, the memory outlives the
        call."""
        ix = anthem.Index.build(self.m, self.cat)
        queries = [QUERY] * 400
        result = {}

        def work():
            try:
                result["batch"] = ix.search_batch(self.m, queries, k=3,
                                                  or_=["hat", "red"])
            except anthem.Error as e:
                result["error"] = e

        th = threading.Thread(target=work)
        th.start()
        time.sleep(0.05)
        ix.close()
        self.m.close()
        th.join()
        self.assertTrue(result)
        self.assertIsNone(ix._deferred)
        self.assertIsNone(self.m._deferred)
        if "batch" in result:
            self.assertEqual(len(result["batch"].counts), 400)


class TestWrappedVectors(unittest.TestCase):

    def test_a_wrapped_buffer_outlives_a_deferred_close(self):
        """Vectors.wrap borrows the caller's memory: a close() while a
        call uses the set must keep the memory until the set is freed."""
        from anthem._handle import using
        v = anthem.Vectors.wrap([[0.1, 0.2], [0.0, 0.3]])
        self.assertIsNotNone(v._buffer)
        with using(v):          # what a call in another thread holds
            v.close()
            self.assertTrue(v.closed)
            self.assertIsNotNone(v._deferred)
            self.assertIsNotNone(v._buffer)
        self.assertIsNone(v._deferred)
        self.assertIsNone(v._buffer)
        h = anthem.Hyperboloid([0.0, 0.0], [0.1, 0.1])
        with self.assertRaises(anthem.InvalidArgumentError):
            h.distances(v)


@needs_fixture
class TestStopping(unittest.TestCase):
    """Issue 13, defect 16: a deadline stops a long batch; a region that
    would scan for minutes is refused."""

    def test_timeout_and_work_cap(self):
        cat = anthem.Catalog(fixture("catalog.tsv"))
        with anthem.Model(SMALL) as m, anthem.Index.build(m, cat) as ix:
            qs = ["wool hat"] * 2000
            with self.assertRaises(anthem.CanceledError) as cm:
                ix.search_batch(m, qs, or_=["coat", "red", "blue"],
                                timeout=0.001)
            self.assertIn("timed out", str(cm.exception))
            self.assertEqual(len(ix.search(m, "hat", k=3, timeout=60)), 3)
            with self.assertRaises(anthem.InvalidArgumentError):
                ix.search(m, "hat", timeout="soon")
            h = m.embed_query("hat")
            for _ in range(16):
                h = h | h
            with self.assertRaises(anthem.RangeError) as cm:
                ix.scan(h, 3)
            self.assertIn("ANTHEM_MAX_SCAN_WORK", str(cm.exception))
        cat.close()


class TestSizes(unittest.TestCase):
    """Issue 13, defect 12: ints past size_t are refused before ctypes
    wraps them."""

    def test_model_config(self):
        for field in ("dim", "buckets", "seed", "max_query_trigrams"):
            with self.subTest(field=field):
                with self.assertRaises(anthem.RangeError) as cm:
                    anthem.Model({field: 2 ** 64})
                self.assertIn(field, str(cm.exception))
                self.assertIsInstance(cm.exception, ValueError)
        with self.assertRaises(anthem.RangeError):
            anthem.Model(dict(SMALL, tie_embeddings=2 ** 32))

    @needs_fixture
    def test_positions_and_counts(self):
        cat = anthem.Catalog(fixture("catalog.tsv"))
        with anthem.Model(SMALL) as m, anthem.Index.build(m, cat) as ix:
            for big in (2 ** 64, 2 ** 64 + 1, 2 ** 70):
                with self.assertRaises(anthem.RangeError) as cm:
                    ix.score(m, "dog", [big])
                self.assertIn("candidates[0]", str(cm.exception))
                with self.assertRaises(anthem.RangeError):
                    ix.rerank(m, "dog", [0, big])
                with self.assertRaises(anthem.RangeError):
                    ix.search(m, "dog", k=big)
                with self.assertRaises(anthem.RangeError):
                    ix.search(m, "dog", k1=big)
                with self.assertRaises(anthem.RangeError):
                    ix.search(m, "dog", allow=[big])
                with self.assertRaises((anthem.RangeError, IndexError)):
                    ix.id(big)
            # the largest size_t is a size, not a wrap: k is capped
            self.assertEqual(len(ix.search(m, "dog", k=2 ** 64 - 1)),
                             len(ix))
        cat.close()


if __name__ == "__main__":
    unittest.main()
