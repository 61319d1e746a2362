"""Status codes become exceptions carrying the library's message."""

import pickle
import unittest

import support
from support import SMALL, TempDirCase, needs_fixture

import anthem


class TestErrorClass(unittest.TestCase):

    def test_strerror_and_status(self):
        self.assertEqual(anthem.strerror(-10), "not found")
        self.assertEqual(anthem.strerror(0), "success")
        self.assertEqual(anthem.strerror(-999), "unknown status code")
        self.assertEqual(int(anthem.Status.ECHECKSUM), -6)

    def test_subclasses(self):
        self.assertTrue(issubclass(anthem.NotFoundError, anthem.Error))
        self.assertTrue(issubclass(anthem.Error, Exception))
        self.assertTrue(issubclass(anthem.MismatchError, ValueError))
        self.assertTrue(issubclass(anthem.InvalidArgumentError, ValueError))

    def test_pickles(self):
        e = anthem.ChecksumError(-6, "a message")
        f = pickle.loads(pickle.dumps(e))
        self.assertIs(type(f), anthem.ChecksumError)
        self.assertEqual((f.code, f.name, f.message),
                         (-6, "checksum mismatch", "a message"))


class TestFileErrors(TempDirCase):

    def test_missing_model_file(self):
        path = self.path("no-such.model")
        with self.assertRaises(anthem.Error) as cm:
            anthem.Model.load(path)
        e = cm.exception
        self.assertIsInstance(e, anthem.NotFoundError)
        self.assertEqual(e.code, -10)
        self.assertEqual(e.code, anthem.Status.ENOTFOUND)
        self.assertEqual(e.name, "not found")
        self.assertIn(path, e.message)
        self.assertIn(path, str(e))

    def test_missing_data_files(self):
        for load in (lambda p: anthem.Catalog(p),
                     lambda p: anthem.Index.load(p),
                     lambda p: anthem.Model.read_config(p)):
            path = self.path("missing.tsv")
            with self.assertRaises(anthem.NotFoundError) as cm:
                load(path)
            self.assertIn(path, cm.exception.message)

    def _saved_model(self):
        path = self.path("m.anthem")
        with anthem.Model(SMALL) as m:
            m.save(path)
        with open(path, "rb") as fh:
            return path, bytearray(fh.read())

    def test_flipped_byte_is_a_checksum_error(self):
        path, data = self._saved_model()
        data[len(data) // 2] ^= 0x40       # a byte of the weights
        with open(path, "wb") as fh:
            fh.write(data)
        with self.assertRaises(anthem.ChecksumError) as cm:
            anthem.Model.load(path)
        self.assertEqual(cm.exception.code, -6)
        self.assertIn(path, cm.exception.message)
        with self.assertRaises(anthem.ChecksumError) as cm:
            anthem.Model.load_buffer(data)
        self.assertEqual(cm.exception.code, -6)
        self.assertIn("buffer", cm.exception.message)

    def test_truncated_and_garbage(self):
        path, data = self._saved_model()
        with self.assertRaises(anthem.TruncatedError) as cm:
            anthem.Model.load_buffer(bytes(data[:-100]))
        self.assertEqual(cm.exception.code, -7)
        with self.assertRaises(anthem.FormatError) as cm:
            anthem.Model.load_buffer(b"not a model at all" * 10)
        self.assertEqual(cm.exception.code, -4)
        with self.assertRaises(anthem.Error):
            anthem.Model.load_buffer(b"")

    def test_index_file_is_not_a_model(self):
        # another container kind: refused by its magic
        cat = support.catalog() if support.HAVE_FIXTURE else None
        if cat is None:
            self.skipTest("fixture missing")
        with anthem.Model(SMALL) as m, anthem.Index.build(m, cat) as ix:
            ix.save(self.path("x.index"))
        with self.assertRaises(anthem.FormatError):
            anthem.Model.load(self.path("x.index"))


class TestArgumentErrors(unittest.TestCase):

    def test_bad_config(self):
        with self.assertRaises(anthem.RangeError) as cm:
            anthem.Model(dim=0)
        self.assertEqual(cm.exception.code, -9)
        self.assertIn("dim", cm.exception.message)
        with self.assertRaises(anthem.RangeError):
            anthem.Model(dim=anthem.max_dim() + 1)
        with self.assertRaises(anthem.RangeError):
            anthem.Model(dim=-3)              # not wrapped to a huge size_t
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            anthem.Model(curvature=float("nan"))
        self.assertIn("curvature", cm.exception.message)
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            anthem.Model(colour="blue")
        self.assertIn("colour", str(cm.exception))
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Model(geometry="spherical")
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Model(geometry=7)           # refused by C

    def test_closed_handles(self):
        m = anthem.Model(SMALL)
        m.close()
        m.close()                              # twice is fine
        with self.assertRaises(anthem.Error):
            m.score("a", "b")
        with anthem.Model(SMALL) as m2:
            pass
        self.assertTrue(m2.closed)
        with self.assertRaises(anthem.Error):
            m2.embed_query("a")

    def test_nul_in_text(self):
        with anthem.Model(SMALL) as m:
            with self.assertRaises(anthem.InvalidArgumentError):
                m.score("a\0b", "c")
            with self.assertRaises(anthem.InvalidArgumentError):
                m.embed_products(["ok", "b\0d"])
            with self.assertRaises(anthem.InvalidArgumentError):
                m.embed_products("a string is not a list")
            with self.assertRaises(anthem.InvalidArgumentError):
                m.score(3, "c")

    @needs_fixture
    def test_unknown_product_id(self):
        with self.assertRaises(anthem.NotFoundError) as cm:
            support.catalog().find("no-such-id")
        self.assertEqual(cm.exception.code, -10)


if __name__ == "__main__":
    unittest.main()
