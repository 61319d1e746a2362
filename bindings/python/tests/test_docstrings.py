"""Every public class, function, method and property of the package has a
docstring: help(anthem.X) is the reference of the installed package."""

import inspect
import unittest

import support  # noqa: F401  (puts the package on the path)

import anthem


def undocumented():
    """Names (e.g. "Index.title") of public objects without a docstring."""
    missing = []
    for name in anthem.__all__:
        obj = getattr(anthem, name)
        if inspect.isclass(obj):
            if not obj.__doc__:
                missing.append(name)
            for attr, v in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(v, (staticmethod, classmethod)):
                    v = v.__func__
                if isinstance(v, property):
                    v = v.fget
                if inspect.isfunction(v) and not (v.__doc__ or "").strip():
                    missing.append("%s.%s" % (name, attr))
        elif inspect.isfunction(obj) and not (obj.__doc__ or "").strip():
            missing.append(name)
    return missing


class TestDocstrings(unittest.TestCase):

    def test_public_api_is_documented(self):
        self.assertGreater(len(anthem.__all__), 20)
        self.assertEqual(undocumented(), [],
                         "public names without a docstring")

    def test_version_is_the_library_major(self):
        major = int(anthem.__version__.split(".")[0])
        self.assertEqual(anthem.version_number() // 10000, major)


if __name__ == "__main__":
    unittest.main()
