"""Vectors and Hyperboloid: read back, AND / OR, distances, wrong sizes."""

import array
import gc
import itertools
import math
import unittest

from support import tolist

import anthem
from anthem._arrays import np

E = anthem.Geometry.EUCLIDEAN
H = anthem.Geometry.HYPERBOLIC


def flat_boxes():
    # A = [0, 2]^2, B = [1, 3]^2
    a = anthem.Hyperboloid([1, 1], [1, 1], geometry="euclidean")
    b = anthem.Hyperboloid([2, 2], [1, 1], geometry=E)
    return a, b


class TestHyperboloid(unittest.TestCase):

    def test_read_back(self):
        centre, limit = [0.1, -0.2, 0.05], [0.05, 0.1, 0.0]
        with anthem.Hyperboloid(centre, limit, curvature=1.0) as h:
            self.assertEqual(h.dim, 3)
            self.assertEqual(h.geometry, H)
            self.assertEqual(h.curvature, 1.0)
            self.assertEqual(h.branch_count, 1)
            self.assertEqual(h.term_count(0), 1)
            self.assertEqual(h.term_count(5), 0)
            for got, want in ((h.centre, centre), (h.limit, limit)):
                for g, w in zip(tolist(got), want):
                    self.assertEqual(g, float(array.array("f", [w])[0]))
            with self.assertRaises(anthem.RangeError):
                h.get(1, 0)

    def test_flat_intersection_and_union_containment(self):
        a, b = flat_boxes()
        both, either = a & b, a | b
        self.assertEqual(tolist(both.centre), [1.5, 1.5])   # [1, 2]^2
        self.assertEqual(tolist(both.limit), [0.5, 0.5])
        self.assertEqual(either.branch_count, 2)
        cases = {(1.5, 1.5): (True, True, True),
                 (0.5, 0.5): (True, False, False),
                 (2.5, 2.5): (False, True, False),
                 (5.0, 5.0): (False, False, False)}
        for p, (in_a, in_b, in_both) in cases.items():
            self.assertEqual(a.contains(p), in_a, p)
            self.assertEqual(p in b, in_b, p)
            self.assertEqual(both.contains(p), in_both, p)
            self.assertEqual(either.contains(p), in_a or in_b, p)
        self.assertEqual([[(tolist(c), tolist(l)) for c, l in br]
                          for br in a.intersect(b).terms()],
                         [[([1.5, 1.5], [0.5, 0.5])]])
        self.assertEqual(a.union(b).branch_count, 2)

    def test_hyperbolic_and_or_agree_with_their_operands(self):
        a = anthem.Hyperboloid([0.1, 0.1], [0.15, 0.15])
        b = anthem.Hyperboloid([0.25, 0.2], [0.12, 0.1])
        both, either = a & b, a | b
        self.assertEqual(both.branch_count, 1)
        self.assertEqual(both.term_count(0), 2)   # kept exact in the ball
        self.assertTrue(a.contains([0.1, 0.1]))
        grid = [x / 20.0 for x in range(-4, 12)]
        seen = set()
        for p in itertools.product(grid, grid):
            in_a, in_b = a.contains(p), b.contains(p)
            seen.add((in_a, in_b))
            self.assertEqual(both.contains(p), in_a and in_b, p)
            self.assertEqual(either.contains(p), in_a or in_b, p)
        # the grid really hits every combination
        self.assertEqual(len(seen), 4, seen)

    def test_empty_region(self):
        a = anthem.Hyperboloid([0, 0], [1, 1], E)
        b = anthem.Hyperboloid([5, 5], [1, 1], E)
        empty = a & b
        self.assertTrue(empty.is_empty)
        self.assertEqual(empty.distance([0, 0]), math.inf)
        self.assertFalse(empty.contains([0, 0]))
        with self.assertRaises(anthem.RangeError):
            empty.centre

    def test_distances(self):
        a, _ = flat_boxes()
        self.assertEqual(a.distance([1, 1], gamma=0), 0.0)
        self.assertEqual(a.distance([1.5, 1], gamma=0), 0.0)
        self.assertGreater(a.distance([1.5, 1], gamma=0.5), 0.0)  # d_in
        pts = [[1, 1], [3, 1], [4, 4]]
        ds = tolist(a.distances(pts, gamma=0))
        self.assertEqual(ds, [0.0, 1.0, 4.0])
        with anthem.Vectors.copy(pts) as v:
            self.assertEqual(tolist(a.distances(v, gamma=0)), ds)
            self.assertEqual(tolist(a.distances(v)),
                             [a.distance(p) for p in pts])
        self.assertEqual(tolist(a.distances([], gamma=0)), [])

    def test_wrong_sizes_raise_and_do_not_crash(self):
        with self.assertRaises(anthem.MismatchError):
            anthem.Hyperboloid([0, 0, 0], [1, 1])
        with self.assertRaises(ValueError):
            anthem.Hyperboloid([[0, 0]], [[1, 1]])
        with self.assertRaises(ValueError):
            anthem.Vectors.copy([[1, 2], 3])
        a, b = flat_boxes()
        for bad in ([1], [1, 2, 3], []):
            with self.assertRaises(anthem.MismatchError):
                a.distance(bad)
            with self.assertRaises(anthem.MismatchError):
                a.contains(bad)
        with self.assertRaises(anthem.MismatchError):
            a.distances([[1, 2, 3]])
        with self.assertRaises(ValueError):
            a.distances([[1, 2], [3]])
        with anthem.Vectors.copy([[1, 2, 3]]) as v3:
            with self.assertRaises(anthem.MismatchError) as cm:
                a.distances(v3)          # refused by C
            self.assertEqual(cm.exception.code, -8)
        c3 = anthem.Hyperboloid([0, 0, 0], [1, 1, 1], E)
        with self.assertRaises(anthem.MismatchError):
            a & c3
        with self.assertRaises(anthem.MismatchError):
            a | anthem.Hyperboloid([0, 0], [0.1, 0.1], H)
        with self.assertRaises(TypeError):
            a & 3

    def test_invalid_values(self):
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            anthem.Hyperboloid([float("nan"), 0], [0, 0], E)
        self.assertIn("centre", cm.exception.message)
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Hyperboloid([0, 0], [-1, 0], E)
        with self.assertRaises(anthem.RangeError):
            anthem.Hyperboloid([0.9, 0.9], [0, 0], H)   # outside the ball
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Hyperboloid([0, 0], [0.1, 0], "vector")
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Hyperboloid([0, 0], [0, 0], H, curvature=0)
        with self.assertRaises(anthem.InvalidArgumentError):
            anthem.Hyperboloid(["a"], [0], E)
        h = anthem.Hyperboloid([0, 0], [0.1, 0.1], H)
        with self.assertRaises(anthem.RangeError):
            h.distance([0.8, 0.8])
        with self.assertRaises(anthem.InvalidArgumentError):
            h.distance([0.1, 0.1], gamma=-1)


class TestVectors(unittest.TestCase):

    def test_copy_and_shape(self):
        data = [[1, 2, 3], [4, 5, 6]]
        with anthem.Vectors.copy(data) as v:
            self.assertEqual((v.count, v.dim, len(v)), (2, 3, 2))
            self.assertEqual(tolist(v.data), [[1, 2, 3], [4, 5, 6]])
        with anthem.Vectors.copy([1, 2, 3, 4, 5, 6], dim=2) as v:
            self.assertEqual((v.count, v.dim), (3, 2))
        with anthem.Vectors.copy([], dim=4) as v:
            self.assertEqual((v.count, v.dim), (0, 4))
            self.assertEqual(len(tolist(v.data)), 0)
        with self.assertRaises(anthem.MismatchError):
            anthem.Vectors.copy([1, 2, 3], dim=2)
        with self.assertRaises(anthem.RangeError):
            anthem.Vectors.copy([], dim=0)          # refused by C
        with self.assertRaises(anthem.RangeError):
            anthem.Vectors.copy([[0.0] * (anthem.max_dim() + 1)])
        with self.assertRaises(anthem.InvalidArgumentError) as cm:
            anthem.Vectors.copy([[0, 1], [2, float("inf")]])
        self.assertIn("point 1", cm.exception.message)

    def test_copy_does_not_follow_the_source(self):
        a = array.array("f", [1, 2, 3, 4])
        with anthem.Vectors.copy(a, dim=2) as v:
            a[0] = 9
            self.assertEqual(tolist(v.data)[0], [1.0, 2.0])

    def test_wrap_borrows_and_keeps_the_buffer_alive(self):
        a = array.array("f", [1, 2, 3, 4])
        v = anthem.Vectors.wrap(a, dim=2)
        a[0] = 7                       # the library reads the same memory
        self.assertEqual(tolist(v.data)[0], [7.0, 2.0])
        del a
        gc.collect()
        self.assertEqual(tolist(v.data), [[7.0, 2.0], [3.0, 4.0]])
        h = anthem.Hyperboloid([0, 0], [10, 10], E)
        self.assertEqual(tolist(h.distances(v, gamma=0)), [0.0, 0.0])
        v.close()

    def test_wrap_keeps_a_converted_list_alive(self):
        v = anthem.Vectors.wrap([[1, 2], [3, 4]])
        gc.collect()
        self.assertEqual(tolist(v.data), [[1, 2], [3, 4]])

    @unittest.skipUnless(np is not None, "numpy is not importable")
    def test_numpy_without_copies(self):
        arr = np.arange(12, dtype=np.float32).reshape(4, 3)
        v = anthem.Vectors.wrap(arr)
        arr[1, 1] = 42.0
        self.assertEqual(float(v.data[1, 1]), 42.0)
        del arr
        gc.collect()
        self.assertEqual(v.data.shape, (4, 3))
        self.assertEqual(v.data.dtype, np.float32)
        # a float64 array is converted once; the result is float32
        h = anthem.Hyperboloid(np.zeros(3), np.full(3, 100.0), E)
        d = h.distances(np.ones((5, 3)), gamma=0)
        self.assertIsInstance(d, np.ndarray)
        self.assertEqual(d.dtype, np.float32)
        self.assertEqual(d.tolist(), [0.0] * 5)
        self.assertIsInstance(h.centre, np.ndarray)
        # a non-contiguous view is accepted (converted)
        big = np.ones((4, 6), dtype=np.float32)[:, ::2]
        self.assertEqual(h.distances(big, gamma=0).shape, (4,))


if __name__ == "__main__":
    unittest.main()
