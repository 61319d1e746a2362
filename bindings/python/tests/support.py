"""Shared helpers of the binding's tests: where things are, small models."""

import os
import struct
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)          # bindings/python
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)

import anthem  # noqa: E402


def _find_checkout():
    d = PACKAGE_ROOT
    while True:
        if os.path.isfile(os.path.join(d, "include", "anthem", "anthem.h")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


CHECKOUT = _find_checkout()
FIXTURE = os.environ.get("ANTHEM_FIXTURE_DIR") or (
    os.path.join(CHECKOUT, "tests", "data", "wordnet-fixture")
    if CHECKOUT else None)
HAVE_FIXTURE = bool(FIXTURE) and os.path.isfile(
    os.path.join(FIXTURE, "catalog.tsv"))

needs_fixture = unittest.skipUnless(
    HAVE_FIXTURE, "the fixture tests/data/wordnet-fixture is missing")
needs_checkout = unittest.skipUnless(
    CHECKOUT, "not in a libanthem checkout (include/anthem/ not found)")

# a small model: fast to create, score and train
SMALL = {"dim": 8, "buckets": 4096}
TINY_TRAIN = {"epochs": 1, "epoch_examples": 64, "threads": 1}

# queries on the fixture's products
QUERIES = ["winter hat", "blue jean", "coat", "academic gown", "boot",
           "scarf", "dress", "cap"]


def fixture(name):
    return os.path.join(FIXTURE, name)


def tolist(x):
    """A numpy array or a (nested) list as a (nested) list of floats."""
    if hasattr(x, "tolist"):
        return x.tolist()
    return [tolist(v) if isinstance(v, (list, tuple)) else v for v in x]


def f32_bits(x):
    return struct.pack("<f", x)


class TempDirCase(unittest.TestCase):
    """A test case with a temporary directory self.tmp."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="anthem-py-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)


_catalog = None


def catalog():
    """The fixture catalogue, loaded once per process."""
    global _catalog
    if _catalog is None:
        _catalog = anthem.Catalog(fixture("catalog.tsv"))
    return _catalog
