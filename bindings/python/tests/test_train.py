"""Trainer: a tiny run, the progress callback, exceptions in it, resume."""

import gc
import math
import os
import subprocess
import sys
import unittest

import support
from support import SMALL, TINY_TRAIN, TempDirCase, catalog, f32_bits, \
    fixture, needs_fixture

import anthem

QUERY = "blue jean"
TITLE = "blue jean: (usually plural) close-fitting trousers"


class Boom(Exception):
    pass


@needs_fixture
class TestTrainer(TempDirCase):

    def setUp(self):
        super().setUp()
        self.cat = catalog()
        self.train = anthem.Judgments(fixture("train.tsv"), self.cat)

    def tearDown(self):
        self.train.close()
        super().tearDown()

    def test_tiny_run_with_progress(self):
        calls = []
        with anthem.Trainer(self.cat, self.train, SMALL, TINY_TRAIN,
                            progress=calls.append) as t:
            self.assertEqual(t.epoch, 0)
            t.run()
            self.assertEqual(t.epoch, 1)
            self.assertTrue(calls)
            last = calls[-1]
            self.assertIsInstance(last, anthem.Progress)
            self.assertEqual((last.epoch, last.epochs), (1, 1))
            self.assertIs(last.epoch_done, True)
            self.assertEqual(last.step, last.steps)
            self.assertEqual(last.steps, 2)           # 64 examples / 32
            self.assertTrue(math.isfinite(last.loss))
            self.assertGreater(last.examples_per_sec, 0)
            self.assertTrue(math.isnan(last.lexical_weight))  # no term
            self.assertTrue(math.isnan(t.model.lexical_weight))
            m = t.model
            self.assertEqual(m.dim, 8)
            self.assertTrue(math.isfinite(m.score(QUERY, TITLE)))
            m.save(self.path("trained.anthem"))
            m.close()                  # a borrowed model is not freed
            self.assertTrue(math.isfinite(t.model.score(QUERY, TITLE)))
        with anthem.Model.load(self.path("trained.anthem")) as m2:
            self.assertEqual(m2.config["dim"], 8)

    def test_lexical_term(self):
        # the config field goes through, the trainer reports the w it chose
        # on held-out queries, and a search brings the title whose words
        # are the query's (docs/network.md step 8)
        calls = []
        with anthem.Trainer(self.cat, self.train, SMALL, TINY_TRAIN,
                            progress=calls.append,
                            lexical_buckets=1 << 14) as t:
            t.run()
            w = calls[-1].lexical_weight
            self.assertTrue(math.isfinite(w) and w > 0, w)
            m = t.model
            self.assertEqual(m.config["lexical_buckets"], 1 << 14)
            self.assertEqual(m.lexical_weight, w)
            with anthem.Index.build(m, self.cat) as ix:
                hits = ix.search(m, "academic gown", k=10)
                self.assertTrue(any(h.title.startswith("academic gown")
                                    for h in hits), hits)

    def test_callback_exception_is_raised_from_run(self):
        seen = []

        def progress(p):
            seen.append(p)
            raise Boom("from the callback")

        t = anthem.Trainer(self.cat, self.train, SMALL,
                           dict(TINY_TRAIN, epochs=2), progress=progress)
        with self.assertRaises(Boom) as cm:
            t.run()
        self.assertEqual(str(cm.exception), "from the callback")
        self.assertEqual(len(seen), 1)          # training stopped at once
        self.assertEqual(t.epoch, 1)
        # the process and the trainer are fine: the model scores, and a
        # second run with a quiet callback finishes the plan
        self.assertTrue(math.isfinite(t.model.score(QUERY, TITLE)))
        t.run(progress=lambda p: None)
        self.assertEqual(t.epoch, 2)
        t.close()

    def test_base_exceptions_too(self):
        def progress(p):
            raise KeyboardInterrupt

        with anthem.Trainer(self.cat, self.train, SMALL, TINY_TRAIN,
                            progress=progress) as t:
            with self.assertRaises(KeyboardInterrupt):
                t.run()

    def test_callback_asks_to_stop(self):
        with anthem.Trainer(self.cat, self.train, SMALL,
                            dict(TINY_TRAIN, epochs=3),
                            progress=lambda p: p.epoch_done) as t:
            with self.assertRaises(anthem.CanceledError) as cm:
                t.run()
            self.assertEqual(cm.exception.code, -11)
            self.assertEqual(t.epoch, 1)

    def test_borrowed_model_ends_with_run_and_close(self):
        t = anthem.Trainer(self.cat, self.train, SMALL,
                           dict(TINY_TRAIN, epochs=2))
        m = t.model
        t.run()
        with self.assertRaises(anthem.Error):
            m.score(QUERY, TITLE)               # "valid until ... run"
        m = t.model
        del t
        gc.collect()                            # m keeps the trainer alive
        self.assertTrue(math.isfinite(m.score(QUERY, TITLE)))
        m = None

    def test_checkpoint_option_and_resume_match_an_uninterrupted_run(self):
        opts = dict(TINY_TRAIN, epochs=2)
        with anthem.Trainer(self.cat, self.train, SMALL, opts) as t:
            t.run()
            want = t.model.score(QUERY, TITLE)
        ck = self.path("train.ckpt")
        with anthem.Trainer(self.cat, self.train, SMALL,
                            dict(opts, checkpoint=ck),
                            progress=lambda p: p.epoch_done) as t:
            with self.assertRaises(anthem.CanceledError):
                t.run()
        self.assertTrue(os.path.isfile(ck))
        with anthem.Trainer.resume(ck, self.cat, self.train, opts) as t:
            self.assertEqual(t.epoch, 1)
            t.run()
            self.assertEqual(t.epoch, 2)
            self.assertEqual(f32_bits(t.model.score(QUERY, TITLE)),
                             f32_bits(want))
            t.checkpoint(self.path("again.ckpt"))
        with self.assertRaises(anthem.NotFoundError):
            anthem.Trainer.resume(self.path("none.ckpt"), self.cat,
                                  self.train)

    def test_bad_options(self):
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Trainer(self.cat, self.train, SMALL, {"epoch": 1})
        with self.assertRaises(anthem.RangeError) as cm:
            anthem.Trainer(self.cat, self.train, SMALL, {"batch": 0})
        self.assertIn("batch", cm.exception.message)
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Trainer(self.cat, self.train, SMALL, {"lr": -1.0})
        with self.assertRaises(anthem.RangeError):
            anthem.Trainer(self.cat, self.train, dict(SMALL, dim=0))


@needs_fixture
class TestCallbackInAFreshProcess(unittest.TestCase):
    """The exception path once more in a separate interpreter: it must
    exit normally (no abort, no "Exception ignored" noise)."""

    def test_process_survives(self):
        code = (
            "import anthem\n"
            "c = anthem.Catalog(%r)\n"
            "j = anthem.Judgments(%r, c)\n"
            "t = anthem.Trainer(c, j, %r, %r, progress=lambda p: 1 / 0)\n"
            "try:\n"
            "    t.run()\n"
            "except ZeroDivisionError:\n"
            "    print('caught')\n" % (fixture("catalog.tsv"),
                                       fixture("train.tsv"), SMALL,
                                       TINY_TRAIN))
        env = dict(os.environ, PYTHONPATH=support.PACKAGE_ROOT)
        r = subprocess.run([sys.executable, "-c", code], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "caught")
        self.assertNotIn("Exception ignored", r.stderr)


@needs_fixture
class TestCommSeam(TempDirCase):
    """anthem_trainer_set_comm, bound at the ctypes level only
    (docs/distributed.md): a one-rank communicator written in Python goes
    through the struct and both callbacks, trains the one-process model
    bit for bit, and a callback's error fails the run naming the rank."""

    def setUp(self):
        super().setUp()
        self.cat = catalog()
        self.train = anthem.Judgments(fixture("train.tsv"), self.cat)

    def tearDown(self):
        self.train.close()
        super().tearDown()

    def _comm(self, calls, fail_gather=0):
        from anthem import _lib
        import ctypes

        def allreduce(buf, n, user):      # one rank: the sum is its own
            calls["allreduce"] += 1
            return 0

        def allgather(send, length, recv, lens, user):
            calls["allgather"] += 1
            if fail_gather and calls["allgather"] == fail_gather:
                return 7
            assert lens[0] == length
            ctypes.memmove(recv, send, length)
            return 0

        fns = (_lib.anthem_allreduce_fn(allreduce),
               _lib.anthem_allgather_fn(allgather))
        c = _lib.anthem_train_comm(ctypes.sizeof(_lib.anthem_train_comm),
                                   None, 0, 1, *fns)
        return c, fns

    def _train(self, out, comm=None):
        from anthem import _lib
        import ctypes
        with anthem.Trainer(self.cat, self.train, SMALL, TINY_TRAIN) as t:
            if comm is not None:
                rc = _lib.lib.anthem_trainer_set_comm(t._h, ctypes.byref(comm))
                if rc:
                    return rc
            try:
                t.run()
            except anthem.Error as e:
                return e
            t.model.save(self.path(out))
        return 0

    def test_one_rank_in_python_trains_the_one_process_model(self):
        calls = {"allreduce": 0, "allgather": 0}
        comm, keep = self._comm(calls)
        self.assertEqual(self._train("alone.anthem"), 0)
        self.assertEqual(self._train("comm.anthem", comm), 0)
        # 2 steps: one allreduce each; allgathers for the agreement at
        # start and end and two per step
        self.assertEqual(calls["allreduce"], 2)
        self.assertEqual(calls["allgather"], 8)
        with open(self.path("alone.anthem"), "rb") as a, \
                open(self.path("comm.anthem"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        del keep

    def test_a_failing_callback_fails_the_run(self):
        calls = {"allreduce": 0, "allgather": 0}
        comm, keep = self._comm(calls, fail_gather=3)   # the first step's
        e = self._train("never.anthem", comm)
        self.assertIsInstance(e, anthem.Error)
        self.assertIn("rank 0: the communicator's allgather failed (7)",
                      str(e))
        self.assertFalse(os.path.exists(self.path("never.anthem")))
        del keep


if __name__ == "__main__":
    unittest.main()
