"""docs/python.md must not rot: its ```python blocks run here, in order,
in one namespace, from the top of the checkout."""

import contextlib
import io
import os
import re
import shutil
import unittest

from support import CHECKOUT, HAVE_FIXTURE

DOC = os.path.join(CHECKOUT, "docs", "python.md") if CHECKOUT else None


def python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


@unittest.skipUnless(DOC and os.path.isfile(DOC) and HAVE_FIXTURE,
                     "docs/python.md or the fixture is not here")
class TestDocs(unittest.TestCase):

    def test_examples_run(self):
        with open(DOC, encoding="utf-8") as fh:
            blocks = python_blocks(fh.read())
        self.assertGreaterEqual(len(blocks), 2)
        namespace = {"__name__": "__doc_example__"}
        old = os.getcwd()
        stdout = io.StringIO()
        try:
            os.chdir(CHECKOUT)
            with contextlib.redirect_stdout(stdout):
                for i, block in enumerate(blocks):
                    code = compile(block, "docs/python.md block %d" % (i + 1),
                                   "exec")
                    exec(code, namespace)
        finally:
            os.chdir(old)
            out = namespace.get("out")
            for name in ("model", "index", "catalog", "train", "test"):
                obj = namespace.get(name)
                if obj is not None and hasattr(obj, "close"):
                    obj.close()
            if out and os.path.isdir(out):
                shutil.rmtree(out)
        text = stdout.getvalue()
        self.assertIn("epoch 2/2", text)
        self.assertIn("ndcg@10", text)
        self.assertIn("-10 not found |", text)
        # the pipeline block: three queries of 5 hits, find, rerank
        self.assertIn("batch: 5 5 5 | hat: ", text)
        self.assertRegex(text, r"find: \d+ None")
        self.assertEqual(text.count("rerank: "), 2)
        for k in ("ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr"):
            self.assertTrue(0.0 <= namespace["metrics"][k] <= 1.0, k)


if __name__ == "__main__":
    unittest.main()
