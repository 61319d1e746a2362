"""The loader, the declarations of the C API and the struct mirrors."""

import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import support
from support import CHECKOUT, needs_checkout

import anthem
from anthem import _lib


def _normalise(decl):
    decl = re.sub(r"\s+", " ", decl).strip().rstrip(";").strip()
    decl = re.sub(r"\(\s+", "(", decl)
    decl = re.sub(r"\s+\)", ")", decl)
    return decl


def header_declarations():
    """{name: normalised prototype} of every ANTHEM_API function."""
    files = sorted(glob.glob(os.path.join(CHECKOUT, "include", "anthem",
                                          "*.h")))
    version_h = os.path.join(os.path.dirname(os.path.dirname(_lib.path)),
                             "include", "anthem", "version.h")
    if os.path.isfile(version_h):
        files.append(version_h)
    text = ""
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text += fh.read() + "\n"
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    decls = {}
    for m in re.finditer(r"ANTHEM_API\s+([^;{]*?\([^;]*?\))\s*;", text, re.S):
        decl = _normalise(m.group(1))
        name = re.search(r"(\w+)\s*\(", decl).group(1)
        decls[name] = decl
    return decls, files


def binding_comments():
    """{name: normalised prototype} from the comments above each _proto."""
    with open(_lib.__file__, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.match(r'_proto\("(\w+)"', line)
        if not m:
            continue
        comment = []
        j = i - 1
        while j >= 0 and lines[j].startswith("# "):
            comment.insert(0, lines[j][2:])
            j -= 1
        out[m.group(1)] = _normalise(" ".join(comment))
    return out


class TestLoader(unittest.TestCase):

    def test_loaded_and_version(self):
        self.assertTrue(anthem.library_path)
        n = anthem.version_number()
        self.assertEqual(anthem.version(),
                         "%d.%d.%d" % (n // 10000, n // 100 % 100, n % 100))
        self.assertEqual(n // 10000, _lib.MAJOR_REQUIRED)
        self.assertEqual(anthem.max_dim(), 4096)

    @support.needs_checkout
    def test_package_version_is_the_library_version(self):
        # anthem/_version.py (the pip package's version) is kept equal to
        # meson.build's project version, which the build tree's library has
        self.assertEqual(anthem.__version__, anthem.version())

    def test_another_major_version_is_refused(self):
        real = os.path.realpath(anthem.library_path)
        if not os.path.isfile(real):
            self.skipTest("library loaded by name, not by path")
        with tempfile.TemporaryDirectory() as d:
            # the package as if written for libanthem 9.0.0
            shutil.copytree(os.path.dirname(os.path.abspath(anthem.__file__)),
                            os.path.join(d, "anthem"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            with open(os.path.join(d, "anthem", "_version.py"), "w") as f:
                f.write('__version__ = "9.0.0"\n')
            e = dict(os.environ, ANTHEM_LIBRARY=real, PYTHONPATH=d)
            # run in d: "-c" puts the working directory first on the path
            r = subprocess.run([sys.executable, "-c", "import anthem"],
                               env=e, cwd=d, capture_output=True, text=True,
                               timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryNotFound", r.stderr)
        self.assertIn("libanthem %s" % anthem.version(), r.stderr)
        self.assertIn("written for 9.0", r.stderr)

    def _run(self, code, **env):
        e = dict(os.environ)
        e.update(env)
        e["PYTHONPATH"] = support.PACKAGE_ROOT + os.pathsep + \
            e.get("PYTHONPATH", "")
        return subprocess.run([sys.executable, "-c", code], env=e,
                              capture_output=True, text=True, timeout=60)

    def test_env_override_bad_path_is_an_import_error(self):
        r = self._run("import anthem", ANTHEM_LIBRARY="/nonexistent/libx.so")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryNotFound", r.stderr)
        self.assertIn("ANTHEM_LIBRARY", r.stderr)

    def test_env_override_file_and_directory(self):
        real = os.path.realpath(anthem.library_path)
        if not os.path.isfile(real):
            self.skipTest("library loaded by name, not by path")
        with tempfile.TemporaryDirectory() as d:
            # a copy elsewhere proves the override wins over the build tree
            copy = os.path.join(d, "libanthem.so")
            shutil.copy(real, copy)
            code = "import anthem; print(anthem.library_path)"
            r = self._run(code, ANTHEM_LIBRARY=copy)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), copy)
            r = self._run(code, ANTHEM_LIBRARY=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), copy)

    def test_every_bound_function_has_argtypes_and_restype(self):
        self.assertGreater(len(_lib.PROTOTYPES), 80)
        for name, fn in _lib.PROTOTYPES.items():
            self.assertIsNotNone(fn.argtypes, name)
            # restype None means void; the default (c_int) is never left
            # implicitly: every _proto call passes it
            self.assertIn(name, binding_comments())

    @needs_checkout
    def test_prototype_comments_match_the_headers(self):
        decls, files = header_declarations()
        self.assertTrue(files)
        comments = binding_comments()
        self.assertEqual(sorted(decls), sorted(comments),
                         "functions in the headers vs bound in _lib.py")
        for name, decl in decls.items():
            self.assertEqual(comments[name], decl, name)
            self.assertEqual(len(_lib.PROTOTYPES[name].argtypes),
                             0 if decl.endswith("(void)")
                             else decl.count(",") + 1, name)

    @needs_checkout
    def test_symbol_script_lists_what_is_bound(self):
        sym = os.path.join(CHECKOUT, "lib", "anthem.sym")
        if not os.path.isfile(sym):
            self.skipTest("lib/anthem.sym not found")
        with open(sym) as fh:
            names = set(re.findall(r"^\s*(anthem_\w+);", fh.read(), re.M))
        self.assertEqual(names, set(_lib.PROTOTYPES))


STRUCTS = {
    "anthem_model_config": _lib.anthem_model_config,
    "anthem_train_options": _lib.anthem_train_options,
    "anthem_train_progress": _lib.anthem_train_progress,
    "anthem_train_comm": _lib.anthem_train_comm,
    "anthem_eval_options": _lib.anthem_eval_options,
    "anthem_metrics": _lib.anthem_metrics,
    "anthem_hit": _lib.anthem_hit,
    "anthem_search_options": _lib.anthem_search_options,
    "anthem_index_options": _lib.anthem_index_options,
    "anthem_category_options": _lib.anthem_category_options,
}


class TestStructs(unittest.TestCase):

    def test_struct_size_matches_the_library(self):
        for make, st in ((_lib.model_config, _lib.anthem_model_config),
                         (_lib.train_options, _lib.anthem_train_options),
                         (_lib.eval_options, _lib.anthem_eval_options),
                         (_lib.metrics, _lib.anthem_metrics),
                         (_lib.search_options, _lib.anthem_search_options),
                         (_lib.index_options, _lib.anthem_index_options),
                         (_lib.category_options,
                          _lib.anthem_category_options)):
            s = make()
            self.assertEqual(s.struct_size, ctypes.sizeof(st), st.__name__)
            # the library's own size: equal unless it is newer than the
            # headers this binding mirrors (then larger, which works)
            self.assertEqual(_lib.LIB_STRUCT_SIZE[st], ctypes.sizeof(st),
                             st.__name__)

    def test_defaults_land_in_the_right_fields(self):
        c = anthem.default_config()
        self.assertEqual(c["geometry"], anthem.Geometry.HYPERBOLIC)
        self.assertEqual(c["dim"], 32)
        self.assertEqual(c["curvature"], 1.0)
        self.assertEqual(c["buckets"], 1 << 18)
        self.assertEqual(c["gamma"], 0.5)
        self.assertEqual(c["seed"], 1)
        self.assertEqual(c["max_query_trigrams"], 28)
        self.assertEqual(c["max_title_trigrams"], 100)
        self.assertIs(c["tie_embeddings"], True)
        o = anthem.default_options()
        expect = {"epochs": 10, "epoch_examples": 0, "batch": 32,
                  "negatives": 4, "hard_negatives": 4, "hard_pool": 64,
                  "warmup": 100, "threads": 0, "seed": 1, "patience": 2,
                  "checkpoint": None}
        for k, v in expect.items():
            self.assertEqual(o[k], v, k)
        self.assertAlmostEqual(o["lr"], 0.01, places=6)
        self.assertAlmostEqual(o["lr_decay"], 0.85, places=6)
        self.assertAlmostEqual(o["valid_frac"], 0.1, places=6)
        self.assertEqual(o["logit_scale"], 10.0)
        e = _lib.eval_options()
        self.assertEqual((e.k1, e.threads, e.max_queries), (200, 0, 0))
        s = _lib.search_options()
        self.assertEqual((s.k, s.k1, s.threads, s.n_and, s.n_or, s.n_allow,
                          s.stage1_only), (10, 200, 1, 0, 0, 0, 0))
        self.assertFalse(s.and_queries or s.or_queries or s.allow or
                         s.allow_bits)

    @needs_checkout
    def test_offsets_match_a_c_compiler(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        build_inc = os.path.join(os.path.dirname(os.path.dirname(_lib.path)),
                                 "include")
        if not cc or not os.path.isfile(os.path.join(build_inc, "anthem",
                                                     "version.h")):
            self.skipTest("no C compiler or no generated version.h")
        lines = ["#include <anthem/anthem.h>", "#include <stddef.h>",
                 "#include <stdio.h>", "int main(void) {"]
        for cname, st in STRUCTS.items():
            lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));'
                         % (cname, cname))
            for fname, _ in st._fields_:
                lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));'
                             % (cname, fname, cname, fname))
        lines += ["return 0;", "}"]
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "o.c"), os.path.join(d, "o")
            with open(src, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            subprocess.run([cc, "-std=c11", "-I", os.path.join(CHECKOUT,
                                                               "include"),
                            "-I", build_inc, src, "-o", exe], check=True,
                           capture_output=True, timeout=120)
            out = subprocess.run([exe], check=True, capture_output=True,
                                 text=True).stdout
        for line in out.splitlines():
            cname, fname, value = line.split()
            st = STRUCTS[cname]
            got = ctypes.sizeof(st) if fname == "sizeof" \
                else getattr(st, fname).offset
            self.assertEqual(got, int(value), "%s.%s" % (cname, fname))


class TestListPath(unittest.TestCase):
    """The list (no numpy) path, forced with ANTHEM_NO_NUMPY=1 so that it
    is exercised under an interpreter that has numpy too."""

    def test_no_numpy_env(self):
        code = (
            "import anthem, array\n"
            "assert not anthem.HAVE_NUMPY\n"
            "h = anthem.Hyperboloid([0, 0], [1, 1], 'euclidean')\n"
            "assert h.centre == [0.0, 0.0], h.centre\n"
            "assert h.distances([[0, 0], [3, 0]], gamma=0) == [0.0, 2.0]\n"
            "a = array.array('f', [0, 0, 5, 0])\n"
            "v = anthem.Vectors.wrap(a, dim=2)\n"
            "a[2] = 1.0\n"
            "assert v.data == [[0.0, 0.0], [1.0, 0.0]], v.data\n"
            "m = anthem.Model(dim=4, buckets=64)\n"
            "e = m.embed_products(['a', 'b'])\n"
            "assert isinstance(e, list) and len(e) == 2 and len(e[0]) == 4\n"
            "print('ok')\n")
        env = dict(os.environ, ANTHEM_NO_NUMPY="1",
                   PYTHONPATH=support.PACKAGE_ROOT)
        r = subprocess.run([sys.executable, "-c", code], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "ok")


if __name__ == "__main__":
    unittest.main()
