#!/usr/bin/python3
"""Tests of the SQLite extension (bindings/sqlite/anthem_sqlite.c).

usage: test_sqlite.py MODULE FIXTURE_DIR [ANTHEM_CLI]

MODULE is the built anthem_sqlite.so, FIXTURE_DIR tests/data/wordnet-fixture,
ANTHEM_CLI the `anthem` command (default: tools/anthem of the build tree
holding MODULE).  Trains two tiny models in a scratch directory (the doc's,
and one with the lexical term), then checks, through Python's sqlite3
module:

  1. anthem_search against `anthem search --json` (ids, distances to
     1e-6), with k1, and_queries and or_queries too, on both models;
     anthem_score against anthem_search's distances, and a composed
     search's distances against the max / min of anthem_score's;
  2. and 3. the example of docs/sqlite.md, run from the doc's own text
     (the FTS5 rerank, the join, the composed query), in Python and in the
     sqlite3 shell;
  4. bad arguments give SQL errors, handles and connections behave;

and, when valgrind is installed, runs the doc's session and the error
cases in the sqlite3 shell under memcheck (no errors, no leaks).
"""

import csv
import json
import math
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "..", "docs", "sqlite.md")

MODULE = FIXTURE = CLI = None
TOL = 1e-6


# ---- the doc's blocks --------------------------------------------------------

def doc_blocks():
    """{name: text} of the blocks marked <!-- sqlite-test: NAME -->."""
    with open(DOC, encoding="utf-8") as fh:
        text = fh.read()
    blocks = {}
    for name, body in re.findall(
            r"^<!-- sqlite-test: (\w+) -->\n```\w*\n(.*?)^```", text,
            re.M | re.S):
        blocks[name] = body
    return blocks


def localise(text):
    """The doc's paths (relative to the checkout) -> this build's files."""
    module = os.path.splitext(MODULE)[0]
    return (text.replace("build/bindings/sqlite/anthem_sqlite", module)
                .replace("build/tools/anthem", CLI)
                .replace("tests/data/wordnet-fixture", FIXTURE))


def run_setup_block(conn, block):
    """Run the doc's sqlite3-shell setup through Python: its SQL as is, and
    the few dot-commands it uses as the shell does them.  Returns the
    parameters (.param set)."""
    params = {}
    separator = "|"
    pending = ""
    for line in block.splitlines(keepends=True):
        if not pending.strip() and line.startswith("."):
            words = shlex.split(line)
            cmd = words[0]
            if cmd == ".load":
                conn.enable_load_extension(True)
                conn.load_extension(words[1])
                conn.enable_load_extension(False)
            elif cmd in (".param", ".parameter") and words[1] == "set":
                # the shell tries the value as an SQL expression first
                try:
                    value = conn.execute("SELECT " + words[3]).fetchone()[0]
                except sqlite3.Error:
                    value = words[3]
                params[words[2].lstrip(":$@")] = value
            elif cmd == ".mode":
                separator = {"tabs": "\t", "csv": ","}.get(words[1], "|")
            elif cmd == ".import":
                skip, rest = 0, words[1:]
                if rest[0] == "--skip":
                    skip, rest = int(rest[1]), rest[2:]
                path, table = rest
                with open(path, newline="", encoding="utf-8") as fh:
                    rows = list(csv.reader(fh, delimiter=separator))[skip:]
                marks = ",".join("?" * len(rows[0]))
                conn.executemany("INSERT INTO %s VALUES (%s)" % (table, marks),
                                 rows)
            else:
                raise AssertionError("doc: dot-command the test does not "
                                     "know: " + line)
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending, params)
            pending = ""
    assert not pending.strip(), "doc: unfinished SQL: " + pending
    return params


def fts_expression(query):
    """What the doc's MATCH builds: every word quoted, OR-ed."""
    return " OR ".join('"%s"' % w for w in query.replace('"', " ").split(" "))


# ---- helpers -----------------------------------------------------------------

def cli_search(model, index, query, k, k1=None, and_=(), or_=()):
    """[(product_id, title, distance)] of `anthem search --json`: one JSON
    object a query, {query, results: [{rank, product_id, title, score,
    distance}]}, score = -distance."""
    cmd = [CLI, "search", "--model", model, "--index", index, "--k", str(k),
           "--json"]
    if k1 is not None:
        cmd += ["--k1", str(k1)]
    for q in and_:
        cmd += ["--and", q]
    for q in or_:
        cmd += ["--or", q]
    out = subprocess.run(cmd + [query], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    assert len(out) == 1, "anthem search --json: %d lines for one query" % len(out)
    obj = json.loads(out[0])
    assert isinstance(obj, dict), ("anthem search --json printed %s, not one "
                                   "object a query: a CLI from before issue #20"
                                   % type(obj).__name__)
    assert obj["query"] == query, obj["query"]
    hits = obj["results"]
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    return [(h["product_id"], h["title"], h["distance"]) for h in hits]


def load(conn):
    conn.enable_load_extension(True)
    conn.load_extension(MODULE)
    conn.enable_load_extension(False)
    return conn


class Scratch:
    dir = model = index = None


def setUpModule():
    Scratch.dir = tempfile.mkdtemp(prefix="anthem-sqlite.")
    os.mkdir(os.path.join(Scratch.dir, "build"))
    # the doc's train block, as written (paths made this build's)
    subprocess.run(["sh", "-e", "-c", localise(doc_blocks()["train"])],
                   cwd=Scratch.dir, check=True, capture_output=True)
    Scratch.model = os.path.join(Scratch.dir, "build", "wordnet.model")
    Scratch.index = os.path.join(Scratch.dir, "build", "wordnet.index")
    # a second, different model (another seed) for mismatch checks, and
    # one with the lexical term (stage 1 also takes the titles of highest
    # BM25; distances can be negative) with its index
    Scratch.other = os.path.join(Scratch.dir, "other.model")
    Scratch.lexical = os.path.join(Scratch.dir, "lexical.model")
    Scratch.lexical_index = os.path.join(Scratch.dir, "lexical.index")
    train = [CLI, "train", "--catalog", os.path.join(FIXTURE, "catalog.tsv"),
             "--judgments", os.path.join(FIXTURE, "train.tsv"), "--dim", "8",
             "--buckets", "4096", "--epochs", "1", "--epoch-examples", "64",
             "--threads", "1"]
    subprocess.run(train + ["--out", Scratch.other, "--seed", "7"],
                   check=True, capture_output=True)
    subprocess.run(train + ["--out", Scratch.lexical, "--lexical-buckets", "4096"],
                   check=True, capture_output=True)
    subprocess.run([CLI, "index", "--model", Scratch.lexical, "--catalog",
                    os.path.join(FIXTURE, "catalog.tsv"), "--out",
                    Scratch.lexical_index], check=True, capture_output=True)


def tearDownModule():
    if Scratch.dir:
        shutil.rmtree(Scratch.dir, ignore_errors=True)


def catalog():
    with open(os.path.join(FIXTURE, "catalog.tsv"), encoding="utf-8") as fh:
        return [tuple(line.rstrip("\n").split("\t", 1))
                for line in fh if line.strip() and not line.startswith("#")]


class Base(unittest.TestCase):
    def setUp(self):
        self.conn = load(sqlite3.connect(":memory:"))
        self.h = self.conn.execute("SELECT anthem_open(?, ?)",
                                   (Scratch.model, Scratch.index)).fetchone()[0]

    def tearDown(self):
        self.conn.close()

    def search(self, query, k, h=None, k1=None, and_=None, or_=None):
        """Rows (product_id, title, distance, rank); and_ and or_ are the
        arguments as passed (text, one query a line)."""
        return self.conn.execute(
            "SELECT product_id, title, distance, rank FROM "
            "anthem_search(?, ?, ?, ?, ?, ?)",
            (self.h if h is None else h, query, k, k1, and_, or_)).fetchall()

    def score(self, query, product_id, h=None):
        return self.conn.execute(
            "SELECT anthem_score(?, ?, ?)",
            (self.h if h is None else h, query, product_id)).fetchone()[0]

    def full_distances(self, query, h=None):
        """Every product's full-model distance (k1 = the whole index, so
        every product is a candidate: with the default k1, the hits after
        the 200 candidates would carry their stage-1 distance)."""
        return {r[0]: r[2] for r in self.search(query, 1 << 40, h, 1 << 40)}

    def assertSameRanking(self, got, want, what):
        """[(id, distance)] equal: distances to TOL, ids equal up to the
        order of tied distances."""
        self.assertEqual(len(got), len(want), what)
        for i, ((gid, gd), (wid, wd)) in enumerate(zip(got, want)):
            self.assertTrue(math.isclose(gd, wd, abs_tol=TOL),
                            "%s: row %d: distance %r, want %r" % (what, i, gd, wd))
            if gid != wid:
                ties = {w[0] for w in want if math.isclose(w[1], wd, abs_tol=1e-7)}
                self.assertIn(gid, ties, "%s: row %d: %s, want %s" % (what, i, gid, wid))
        self.assertEqual(sorted(g[0] for g in got), sorted(w[0] for w in want), what)


# ---- 1. anthem_search == the CLI, anthem_score == anthem_search ---------------

QUERIES = ["blue jean", "rain coat", "headgear", "sou'wester", "a",
           "zzzz qqqq", "mantón de Manila", "bridal gown for a wedding"]


class TestSearch(Base):

    def test_matches_cli(self):
        for query in QUERIES:
            for k in (1, 10, 37):
                rows = self.search(query, k)
                self.assertEqual(len(rows), k, query)
                self.assertEqual([r[3] for r in rows], list(range(1, k + 1)))
                dist = [r[2] for r in rows]
                self.assertEqual(dist, sorted(dist), "%s: not best first" % query)
                want = cli_search(Scratch.model, Scratch.index, query, k)
                self.assertSameRanking([(r[0], r[2]) for r in rows],
                                       [(w[0], w[2]) for w in want],
                                       "%r k=%d" % (query, k))
                titles = dict((w[0], w[1]) for w in want)
                for r in rows:
                    if r[0] in titles:
                        self.assertEqual(r[1], titles[r[0]])

    def test_whole_index(self):
        n = len(catalog())
        rows = self.search("blue jean", 100000)
        self.assertEqual(len(rows), n)
        want = cli_search(Scratch.model, Scratch.index, "blue jean", 100000)
        self.assertSameRanking([(r[0], r[2]) for r in rows],
                               [(w[0], w[2]) for w in want], "whole index")

    def test_score_is_search_distance(self):
        for query in ("blue jean", "rain coat", "x"):
            full = self.full_distances(query)
            self.assertEqual(len(full), len(catalog()))
            got = dict(self.conn.execute(
                "SELECT product_id, anthem_score(?, ?, product_id) FROM "
                "(SELECT product_id FROM anthem_search(?, 'y', 100000))",
                (self.h, query, self.h)).fetchall())
            self.assertEqual(got.keys(), full.keys())
            for pid, d in full.items():
                self.assertTrue(math.isclose(got[pid], d, abs_tol=TOL), pid)

    def test_defaults_and_edges(self):
        c = self.conn
        self.assertEqual(len(c.execute("SELECT * FROM anthem_search(?, 'coat')",
                                       (self.h,)).fetchall()), 10)
        self.assertEqual(self.search("coat", 0), [])
        self.assertEqual(self.search(None, 5), [])
        self.assertEqual(len(self.search("coat", "3")), 3)  # text that reads as an integer
        # the hidden columns echo the arguments (k1 its default when left
        # out or NULL, and_queries / or_queries the text as passed)
        self.assertEqual(c.execute(
            "SELECT DISTINCT handle, query, k, k1, and_queries, or_queries "
            "FROM anthem_search(?, 'coat', 4)",
            (self.h,)).fetchall(), [(self.h, "coat", 4, 200, None, None)])
        self.assertEqual(c.execute(
            "SELECT DISTINCT handle, query, k, k1, and_queries, or_queries "
            "FROM anthem_search(?, 'coat', 4, NULL, 'a' || char(10) || 'b', '')",
            (self.h,)).fetchall(), [(self.h, "coat", 4, 200, "a\nb", "")])
        self.assertEqual(c.execute(
            "SELECT DISTINCT k1 FROM anthem_search(?, 'coat', 4, 7)",
            (self.h,)).fetchall(), [(7,)])
        # ORDER BY the other way, LIMIT, WHERE
        rows = c.execute("SELECT rank FROM anthem_search(?, 'coat', 5) "
                         "ORDER BY distance DESC", (self.h,)).fetchall()
        self.assertEqual([r[0] for r in rows], [5, 4, 3, 2, 1])
        rows = c.execute("SELECT rank FROM anthem_search(?, 'coat', 50) "
                         "WHERE rank % 10 = 0 LIMIT 3", (self.h,)).fetchall()
        self.assertEqual([r[0] for r in rows], [10, 20, 30])
        # named-column syntax
        rows = c.execute("SELECT count(*) FROM anthem_search WHERE handle = ? "
                         "AND query = 'coat' AND k = 6", (self.h,)).fetchone()
        self.assertEqual(rows[0], 6)
        # unknown ids and NULLs give NULL
        for args in ((self.h, "coat", "no such id"), (self.h, "coat", None),
                     (self.h, None, "02666079"), (self.h, "coat", 2666079),
                     (self.h, "coat", ""), (self.h, "coat", "02666079\x00x")):
            self.assertIsNone(c.execute("SELECT anthem_score(?, ?, ?)", args)
                              .fetchone()[0], args)
        self.assertIsInstance(c.execute("SELECT anthem_score(?, 'coat', '02666079')",
                                        (self.h,)).fetchone()[0], float)

    def test_lateral_join(self):
        c = self.conn
        c.execute("CREATE TABLE queries(text TEXT)")
        c.executemany("INSERT INTO queries VALUES (?)",
                      [("blue jean",), ("rain coat",), ("hat",)])
        rows = c.execute(
            "SELECT q.text, s.rank, s.product_id FROM queries AS q, "
            "anthem_search(?, q.text, 3) AS s ORDER BY q.text, s.rank",
            (self.h,)).fetchall()
        self.assertEqual(len(rows), 9)
        for text in ("blue jean", "rain coat", "hat"):
            self.assertEqual([r[2] for r in rows if r[0] == text],
                             [r[0] for r in self.search(text, 3)])
        # the handle from a table as well
        c.execute("CREATE TABLE handles(h INTEGER)")
        c.execute("INSERT INTO handles VALUES (?)", (self.h,))
        n = c.execute("SELECT count(*) FROM handles, queries, "
                      "anthem_search(handles.h, queries.text, 2)").fetchone()[0]
        self.assertEqual(n, 6)


# ---- 1. k1, and_queries, or_queries ---------------------------------------------

COMPOSED = [
    # (query, and_queries, or_queries)
    ("coat", ["rain"], []),
    ("coat", [], ["hat"]),
    ("rain coat", [], ["hat", "gown"]),
    ("blue jean", ["trousers", "denim"], ["skirt"]),
    ("hat", ["straw"], ["cap", "bonnet", "helmet"]),
    ("wedding", ["dress"] * 16, ["veil"] * 16),
]


def lines(texts):
    """An and_queries / or_queries argument: the texts one a line (None for
    none)."""
    return "\n".join(texts) if texts else None


class TestCompose(Base):

    def test_k1_matches_cli(self):
        changed = False
        for model, index in ((Scratch.model, Scratch.index),
                             (Scratch.lexical, Scratch.lexical_index)):
            h = self.conn.execute("SELECT anthem_open(?, ?)",
                                  (model, index)).fetchone()[0]
            for query in ("blue jean", "rain coat", "hat",
                          "bridal gown for a wedding"):
                default = self.search(query, 10, h)
                self.assertEqual(self.search(query, 10, h, 200), default)
                for k1 in (1, 3, 10, 50, 1000):
                    rows = self.search(query, 10, h, k1)
                    want = cli_search(model, index, query, 10, k1=k1)
                    self.assertSameRanking([(r[0], r[2]) for r in rows],
                                           [(w[0], w[2]) for w in want],
                                           "%r k1=%d" % (query, k1))
                    changed |= [r[0] for r in rows] != [r[0] for r in default]
        # k1 is not ignored (the tiny geometric model's two stages rank
        # alike; the lexical model's BM25 source brings k1 titles)
        self.assertTrue(changed, "k1 changed no ranking")

    def test_composed_matches_cli(self):
        for model, index in ((Scratch.model, Scratch.index),
                             (Scratch.lexical, Scratch.lexical_index)):
            h = self.conn.execute("SELECT anthem_open(?, ?)",
                                  (model, index)).fetchone()[0]
            for query, and_, or_ in COMPOSED:
                for k, k1 in ((10, None), (5, 3), (40, 20)):
                    rows = self.search(query, k, h, k1, lines(and_), lines(or_))
                    want = cli_search(model, index, query, k, k1, and_, or_)
                    self.assertEqual(len(rows), k)
                    self.assertSameRanking(
                        [(r[0], r[2]) for r in rows], [(w[0], w[2]) for w in want],
                        "%s: %r AND %r OR %r k=%d k1=%r"
                        % (os.path.basename(model), query, and_, or_, k, k1))
                # the composition changes the ranking
                if and_ or or_:
                    self.assertNotEqual(
                        [r[0] for r in self.search(query, 10, h)],
                        [r[0] for r in self.search(query, 10, h, None,
                                                   lines(and_), lines(or_))],
                        "%r AND %r OR %r" % (query, and_, or_))

    def test_composed_distance_is_max_min_of_scores(self):
        """Stage 2 of a composition: the largest distance over the query and
        its ANDs, then the smallest with each OR (every hit of k 10 is a
        candidate, so stage 2 ranked it)."""
        for model, index in ((Scratch.model, Scratch.index),
                             (Scratch.lexical, Scratch.lexical_index)):
            h = self.conn.execute("SELECT anthem_open(?, ?)",
                                  (model, index)).fetchone()[0]
            for query, and_, or_ in COMPOSED[:5]:
                for pid, _, dist, _ in self.search(query, 10, h, None,
                                                   lines(and_), lines(or_)):
                    d = max(self.score(t, pid, h) for t in [query] + and_)
                    d = min([d] + [self.score(t, pid, h) for t in or_])
                    self.assertTrue(math.isclose(dist, d, abs_tol=TOL),
                                    "%r AND %r OR %r: %s: %r, want %r"
                                    % (query, and_, or_, pid, dist, d))

    def test_order_by_distance(self):
        """Past the k1 candidates, rows carry stage-1 distances (ascending
        among themselves only): ORDER BY distance must still sort."""
        h = self.conn.execute("SELECT anthem_open(?, ?)",
                              (Scratch.lexical, Scratch.lexical_index)).fetchone()[0]
        unsorted = False
        for query in QUERIES:
            by_rank = [r[0] for r in self.conn.execute(
                "SELECT distance FROM anthem_search(?, ?, 100, 5) ORDER BY rank",
                (h, query))]
            by_distance = [r[0] for r in self.conn.execute(
                "SELECT distance FROM anthem_search(?, ?, 100, 5) "
                "ORDER BY distance", (h, query))]
            self.assertEqual(by_distance, sorted(by_rank), query)
            unsorted |= by_rank != sorted(by_rank)
        # the case exists on this model: a tail row nearer than a candidate
        self.assertTrue(unsorted, "no query had a tail out of distance order")

    def test_lexical_matches_cli(self):
        h = self.conn.execute("SELECT anthem_open(?, ?)",
                              (Scratch.lexical, Scratch.lexical_index)).fetchone()[0]
        negative = False
        for query in QUERIES:
            rows = self.search(query, 20, h)
            want = cli_search(Scratch.lexical, Scratch.lexical_index, query, 20)
            self.assertSameRanking([(r[0], r[2]) for r in rows],
                                   [(w[0], w[2]) for w in want], query)
            for pid, _, dist, _ in rows:
                self.assertTrue(math.isclose(self.score(query, pid, h), dist,
                                             abs_tol=TOL), (query, pid))
                negative |= dist < 0
        self.assertTrue(negative, "the lexical model gave no negative distance")

    def test_texts(self):
        """One query a line; NULL, '' and empty lines hold none."""
        plain = self.search("coat", 10)
        for none in (None, "", "\n", "\n\n"):
            self.assertEqual(self.search("coat", 10, and_=none, or_=none), plain,
                             repr(none))
        hat = self.search("coat", 10, and_="hat")
        self.assertNotEqual(hat, plain)
        for text in ("hat\n", "\nhat", "\n\nhat\n\n"):
            self.assertEqual(self.search("coat", 10, and_=text), hat, repr(text))
        self.assertEqual(self.search("coat", 10, and_="hat\nrain"),
                         self.search("coat", 10, and_="rain\n\nhat"))
        # sixteen texts are allowed, blank lines do not count
        self.assertEqual(len(self.search("coat", 3, and_="\n".join(["x"] * 16)
                                         + "\n\n", or_="\n".join(["y"] * 16))),
                         3)
        # the arguments from another table, row by row
        c = self.conn
        c.execute("CREATE TABLE q(text TEXT, also TEXT, other TEXT)")
        c.executemany("INSERT INTO q VALUES (?, ?, ?)",
                      [("coat", "rain", None), ("coat", None, "hat\ngown"),
                       ("hat", "straw", "")])
        rows = c.execute("SELECT q.rowid, s.product_id FROM q, "
                         "anthem_search(?, q.text, 4, 50, q.also, q.other) AS s "
                         "ORDER BY q.rowid, s.rank", (self.h,)).fetchall()
        for rowid, (text, also, other) in enumerate(
                c.execute("SELECT * FROM q ORDER BY rowid").fetchall(), 1):
            self.assertEqual([r[1] for r in rows if r[0] == rowid],
                             [r[0] for r in self.search(text, 4, k1=50, and_=also,
                                                        or_=other)])


# ---- 2, 3. the example of docs/sqlite.md ------------------------------------

class TestDoc(Base):

    def setUp(self):
        self.blocks = doc_blocks()
        for name in ("train", "setup", "rerank", "join", "compose", "python"):
            self.assertIn(name, self.blocks, "docs/sqlite.md lost its %s block" % name)
        self.conn = sqlite3.connect(":memory:")
        cwd = os.getcwd()
        os.chdir(Scratch.dir)  # the doc's model paths are relative
        try:
            self.params = run_setup_block(self.conn, localise(self.blocks["setup"]))
        finally:
            os.chdir(cwd)
        self.h = self.params["h"]
        self.assertIsInstance(self.h, int)
        self.query = self.params["query"]

    def test_products_loaded(self):
        self.assertEqual(self.conn.execute(
            "SELECT product_id, title FROM products ORDER BY rowid").fetchall(),
            catalog())

    def rerank_expected(self):
        cand = [r[0] for r in self.conn.execute(
            "SELECT p.product_id FROM products_fts JOIN products AS p "
            "ON p.rowid = products_fts.rowid WHERE products_fts MATCH ? "
            "ORDER BY bm25(products_fts) LIMIT 50",
            (fts_expression(self.query),))]
        full = self.full_distances(self.query)
        return cand, sorted(((pid, full[pid]) for pid in cand),
                            key=lambda t: t[1])[:10]

    def test_rerank(self):
        rows = self.conn.execute(self.blocks["rerank"], self.params).fetchall()
        cand, want = self.rerank_expected()
        self.assertGreater(len(cand), 10, "the doc's query should find more "
                           "BM25 candidates than it shows")
        self.assertEqual(len(rows), 10)
        self.assertTrue(set(r[0] for r in rows) <= set(cand))
        self.assertEqual([r[1] for r in rows], sorted(r[1] for r in rows))
        self.assertSameRanking([(r[0], r[1]) for r in rows], want, "rerank")
        titles = dict(catalog())
        for r in rows:
            self.assertEqual(r[3], titles[r[0]])
            self.assertGreater(r[2], 0)  # -bm25

    def test_join(self):
        rows = self.conn.execute(self.blocks["join"], self.params).fetchall()
        want = cli_search(Scratch.model, Scratch.index, self.query, 10)
        self.assertEqual([r[0] for r in rows], list(range(1, 11)))
        self.assertSameRanking([(r[1], r[2]) for r in rows],
                               [(w[0], w[2]) for w in want], "join")
        titles = dict(catalog())
        self.assertEqual([r[3] for r in rows], [titles[r[1]] for r in rows])

    def test_compose(self):
        """The doc's composed query is `anthem search --and waterproof
        --or poncho --or slicker --k 5 --k1 200 coat`."""
        rows = self.conn.execute(self.blocks["compose"], self.params).fetchall()
        want = cli_search(Scratch.model, Scratch.index, "coat", 5, 200,
                          ["waterproof"], ["poncho", "slicker"])
        self.assertEqual([r[0] for r in rows], list(range(1, 6)))
        self.assertSameRanking([(r[1], r[2]) for r in rows],
                               [(w[0], w[2]) for w in want], "compose")
        titles = dict(catalog())
        self.assertEqual([r[3] for r in rows], [titles[r[1]] for r in rows])
        # it composes: not the plain query's rows
        self.assertNotEqual([r[1] for r in rows],
                            [w[0] for w in cli_search(Scratch.model, Scratch.index,
                                                      "coat", 5)])

    def test_python_block(self):
        out = subprocess.run([sys.executable, "-c", localise(self.blocks["python"])],
                             cwd=Scratch.dir, check=True, capture_output=True,
                             text=True).stdout.splitlines()
        want = cli_search(Scratch.model, Scratch.index, "rain coat", 5)
        self.assertEqual([line.split()[1] for line in out], [w[0] for w in want])

    @unittest.skipUnless(shutil.which("sqlite3"), "no sqlite3 shell")
    def test_shell(self):
        """The doc's blocks in the sqlite3 shell give the same rows."""
        script = (localise(self.blocks["setup"]) + "\nSELECT '--rerank--';\n" +
                  self.blocks["rerank"] + "\nSELECT '--join--';\n" +
                  self.blocks["join"] + "\nSELECT '--compose--';\n" +
                  self.blocks["compose"])
        res = subprocess.run(["sqlite3", "-bail"], input=script, cwd=Scratch.dir,
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stderr, "")
        out = res.stdout.split("--rerank--\n")[1]
        rerank, out = out.split("--join--\n")
        join, compose = out.split("--compose--\n")
        for text, sql in ((rerank, "rerank"), (join, "join"), (compose, "compose")):
            got = [line.split("\t") for line in text.splitlines()]
            want = self.conn.execute(self.blocks[sql], self.params).fetchall()
            self.assertEqual(len(got), len(want), sql)
            for g, w in zip(got, want):
                self.assertEqual(len(g), len(w))
                for gv, wv in zip(g, w):
                    if isinstance(wv, float):
                        self.assertTrue(math.isclose(float(gv), wv, abs_tol=1e-9))
                    else:
                        self.assertEqual(gv, str(wv))


# ---- 4. bad arguments, handles, connections ------------------------------------

ERRORS = [
    # (sql, args, part of the message)
    ("SELECT anthem_open(?, ?)", ("/nonexistent/x.model", "y"), "No such file"),
    ("SELECT anthem_open(?, ?)", (None, None), "must be text"),
    ("SELECT anthem_open(?, ?)", (1, 2), "must be text"),
    ("SELECT anthem_open(?, ?)", (b"\x00\x01", "y"), "must be text"),
    ("SELECT anthem_open(?, ?)", ("@MODEL", None), "must be text"),
    ("SELECT anthem_open(?, ?)", ("@MODEL", "@MODEL"), "anthem_index_load"),
    ("SELECT anthem_open(?, ?)", ("@INDEX", "@INDEX"), "anthem_model_load"),
    ("SELECT anthem_open(?, ?)", ("@OTHER", "@INDEX"), "anthem_index_load"),
    ("SELECT anthem_open(?, ?)", ("", ""), "anthem_model_load"),
    ("SELECT anthem_close(?)", (None,), "handle"),
    ("SELECT anthem_close(?)", (999,), "no open handle 999"),
    ("SELECT anthem_close(?)", ("abc",), "handle"),
    ("SELECT anthem_close(?)", (1.5,), "handle"),
    ("SELECT anthem_close(?)", (-1,), "no open handle -1"),
    ("SELECT anthem_close(?)", (1 << 62,), "no open handle"),
    ("SELECT anthem_score(?, 'q', 'id')", (None,), "handle"),
    ("SELECT anthem_score(?, 'q', 'id')", (0,), "no open handle 0"),
    ("SELECT anthem_score(?, 'q', 'id')", (b"\x01",), "handle"),
    ("SELECT anthem_score(@H, ?, '02666079')", (b"\xff\xfe",), "must be text"),
    ("SELECT anthem_score(@H, 'q', ?)", (b"02666079",), "must be text"),
    ("SELECT * FROM anthem_search(@H, 'coat', ?)", (-1,), "k must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', ?)", (-(1 << 63),), "k must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', ?)", (2.5,), "k must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', ?)", ("ten",), "k must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', ?)", (None,), "k must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', ?)", (b"\x05",), "k must be"),
    ("SELECT * FROM anthem_search(@H, ?, 3)", (b"coat",), "must be text"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, ?)", (0,), "k1 must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, ?)", (-5,), "k1 must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, ?)", (1.5,), "k1 must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, ?)", ("many",), "k1 must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, ?)", (b"\x05",), "k1 must be"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, 10, ?)", (b"hat",),
     "and_queries must be text"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, 10, NULL, ?)", (b"hat",),
     "or_queries must be text"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, 10, ?)", ("\n".join("abcdefghijklmnopq"),),
     "and_queries holds 17 query texts (one a line), at most 16"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, 10, NULL, ?)",
     ("\n".join(["hat"] * 40),), "or_queries holds 40 query texts"),
    # a NUL would cut the text where the library reads it (issue 13,
    # defect 17): refused, as the Python binding refuses it
    ("SELECT * FROM anthem_search(@H, ?, 3)", ("coat\x00hat",),
     "the query contains a NUL character"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, 10, ?)", ("hat\x00x",),
     "and_queries contains a NUL character"),
    ("SELECT * FROM anthem_search(@H, 'coat', 3, 10, NULL, ?)", ("\x00",),
     "or_queries contains a NUL character"),
    ("SELECT anthem_score(@H, ?, '02666079')", ("coat\x00",),
     "the query contains a NUL character"),
    ("SELECT anthem_open(?, ?)", ("@MODEL\x00x", "@INDEX"),
     "a file name contains a NUL character"),
    ("SELECT * FROM anthem_search(?, 'coat', 3)", (None,), "handle"),
    ("SELECT * FROM anthem_search(?, 'coat', 3)", (12345,), "no open handle"),
    ("SELECT * FROM anthem_search(?, 'coat', 3)", ("x",), "handle"),
    ("SELECT * FROM anthem_search(?)", (1,), "pass a handle and a query"),
    ("SELECT * FROM anthem_search", (), "pass a handle and a query"),
    ("SELECT * FROM anthem_search(1, 2, 3, 4, 5, 6, 7)", (), "too many arguments"),
    ("SELECT anthem_search(1, 'q', 3)", (), "no such function"),
    ("SELECT anthem_score(1, 'q')", (), "wrong number of arguments"),
    ("SELECT anthem_open('a')", (), "wrong number of arguments"),
    ("CREATE VIRTUAL TABLE t USING anthem_search", (), "no such module"),
]


class TestErrors(Base):

    def subst(self, args):
        names = {"@MODEL": Scratch.model, "@INDEX": Scratch.index,
                 "@OTHER": Scratch.other}
        return tuple(names.get(a, a) if isinstance(a, str) else a for a in args)

    def subst_nul(self, args):
        # "@MODEL\x00x": the model's path, then a NUL
        out = []
        for a in self.subst(args):
            if isinstance(a, str) and a.startswith("@MODEL\x00"):
                a = Scratch.model + a[len("@MODEL"):]
            out.append(a)
        return tuple(out)

    def test_errors(self):
        for sql, args, message in ERRORS:
            sql = sql.replace("@H", str(self.h))
            with self.subTest(sql=sql, args=args):
                with self.assertRaises(sqlite3.Error) as cm:
                    self.conn.execute(sql, self.subst_nul(args)).fetchall()
                self.assertIn(message, str(cm.exception))
        # the connection still works, the handle too
        self.assertEqual(len(self.search("coat", 3)), 3)

    def test_library_messages(self):
        with self.assertRaises(sqlite3.Error) as cm:
            self.conn.execute("SELECT anthem_open(?, ?)",
                              (Scratch.other, Scratch.index))
        self.assertIn("anthem_index_load", str(cm.exception))
        # odd queries: a result or an error, never a crash
        for q in ("", " ", "\t\n", "x" * 100000, "ü" * 1000, "\U0001F600 emoji",
                  "a\x00b", "'; DROP TABLE x; --"):
            for sql in ("SELECT anthem_score(?1, ?2, '02666079')",
                        "SELECT count(*) FROM anthem_search(?1, ?2, 5)",
                        "SELECT count(*) FROM anthem_search(?1, 'coat', 5, 10, ?2, ?2)"):
                try:
                    self.conn.execute(sql, (self.h, q)).fetchall()
                except sqlite3.Error:
                    pass

    def test_handles(self):
        c = self.conn
        h2 = c.execute("SELECT anthem_open(?, ?)",
                       (Scratch.model, Scratch.index)).fetchone()[0]
        self.assertEqual(h2, self.h + 1)
        self.assertEqual(self.search("coat", 4, h2), self.search("coat", 4))
        self.assertEqual(c.execute("SELECT anthem_close(?)", (h2,)).fetchone()[0], 1)
        for sql in ("SELECT anthem_close(?)", "SELECT anthem_score(?, 'q', 'x')",
                    "SELECT * FROM anthem_search(?, 'coat', 3)"):
            with self.assertRaises(sqlite3.Error):
                c.execute(sql, (h2,)).fetchall()
        # numbers are not reused
        h3 = c.execute("SELECT anthem_open(?, ?)",
                       (Scratch.model, Scratch.index)).fetchone()[0]
        self.assertEqual(h3, h2 + 1)
        # closing a handle in the middle of its own search
        rows = c.execute(
            "SELECT s.rank, s.title, CASE WHEN s.rank = 1 THEN anthem_close(?) END "
            "FROM anthem_search(?, 'coat', 5) AS s", (h3, h3)).fetchall()
        self.assertEqual([r[0] for r in rows], [1, 2, 3, 4, 5])
        self.assertEqual([r[1] for r in rows], [r[1] for r in self.search("coat", 5)])
        with self.assertRaises(sqlite3.Error):
            c.execute("SELECT anthem_close(?)", (h3,))

    def test_connections(self):
        other = load(sqlite3.connect(":memory:"))
        try:
            with self.assertRaises(sqlite3.Error):  # handles are per connection
                other.execute("SELECT * FROM anthem_search(?, 'coat', 3)",
                              (self.h,)).fetchall()
            h = other.execute("SELECT anthem_open(?, ?)",
                              (Scratch.model, Scratch.index)).fetchone()[0]
            self.assertEqual(h, 1)
            # loading twice into one connection: a fresh registry, old
            # handles freed with the replaced functions
            load(other)
            with self.assertRaises(sqlite3.Error):
                other.execute("SELECT anthem_score(?, 'q', 'x')", (h,))
        finally:
            other.close()

    def test_direct_only(self):
        if sqlite3.sqlite_version_info < (3, 31, 0):
            self.skipTest("SQLITE_DIRECTONLY needs SQLite 3.31")
        c = self.conn
        c.execute("CREATE VIEW v AS SELECT anthem_open('%s', '%s') AS h"
                  % (Scratch.model, Scratch.index))
        with self.assertRaises(sqlite3.Error) as cm:
            c.execute("SELECT * FROM v").fetchall()
        self.assertIn("unsafe use of anthem_open", str(cm.exception))
        c.execute("CREATE TABLE t(x)")
        c.execute("CREATE TRIGGER tr AFTER INSERT ON t BEGIN "
                  "SELECT anthem_close(NEW.x); END")
        with self.assertRaises(sqlite3.Error):
            c.execute("INSERT INTO t VALUES (?)", (self.h,))
        self.assertEqual(len(self.search("coat", 2)), 2)  # still open


# ---- memcheck ----------------------------------------------------------------

@unittest.skipUnless(shutil.which("valgrind") and shutil.which("sqlite3"),
                     "no valgrind or no sqlite3 shell")
class TestValgrind(unittest.TestCase):

    def test_memcheck(self):
        """The doc's session, error cases, a handle closed mid-search and
        handles left open at exit: no memory errors, no leaks."""
        blocks = doc_blocks()
        lines = [localise(blocks["setup"]), blocks["rerank"], blocks["join"],
                 blocks["compose"]]
        h = "(SELECT value FROM temp.sqlite_parameters WHERE key = ':h')"
        for sql, args, _ in ERRORS:
            sql = sql.replace("@H", h)
            for a in args:
                if isinstance(a, bytes):
                    lit = "x'%s'" % a.hex()
                elif isinstance(a, str):
                    lit = "'%s'" % {"@MODEL": Scratch.model, "@INDEX": Scratch.index,
                                    "@OTHER": Scratch.other}.get(a, a).replace("'", "''")
                else:
                    lit = "NULL" if a is None else repr(a)
                sql = sql.replace("?", lit, 1)
            lines.append(sql + ";")
        lines += [
            "SELECT anthem_open('%s', '%s');" % (Scratch.model, Scratch.index),
            "SELECT s.rank, CASE WHEN s.rank = 1 THEN anthem_close(2) END, "
            "s.product_id, s.title FROM anthem_search(2, 'coat', 3) AS s;",
            "SELECT anthem_open('%s', '%s');" % (Scratch.model, Scratch.index),
            "SELECT count(*) FROM anthem_search(3, 'coat', 100000);",
            "SELECT anthem_score(3, 'coat', product_id) FROM products LIMIT 5;",
        ]
        # The shell dlclose()s the extension when the connection closes,
        # which would unmap libanthem and BLIS and turn BLIS's global state
        # into "definitely lost" blocks; preloading the module keeps them
        # mapped (still reachable), so what is reported is ours.
        env = dict(os.environ, LD_PRELOAD=MODULE)
        res = subprocess.run(
            ["valgrind", "--error-exitcode=99", "--leak-check=full",
             "--errors-for-leak-kinds=definite,indirect",
             "--show-leak-kinds=definite,indirect", "--track-origins=yes",
             "--quiet", "sqlite3"],
            input="\n".join(lines) + "\n", cwd=Scratch.dir, env=env, capture_output=True,
            text=True, timeout=540)
        self.assertNotEqual(res.returncode, 99, res.stderr[-4000:])
        self.assertNotRegex(res.stderr, r"==\d+== ", res.stderr[-4000:])
        self.assertGreaterEqual(res.stdout.count("\t"), 20, res.stdout)


def main():
    global MODULE, FIXTURE, CLI
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    MODULE = os.path.abspath(sys.argv[1])
    FIXTURE = os.path.abspath(sys.argv[2])
    CLI = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(MODULE))), "tools", "anthem")
    for path in (MODULE, CLI, os.path.join(FIXTURE, "catalog.tsv")):
        if not os.path.exists(path):
            sys.exit("test_sqlite.py: %s is missing" % path)
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        print("test_sqlite.py: %s's sqlite3 module cannot load extensions; "
              "skipped" % sys.executable)
        sys.exit(77)  # meson: skipped
    print("SQLite %s, module %s" % (sqlite3.sqlite_version, MODULE))
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[4:])


if __name__ == "__main__":
    main()
