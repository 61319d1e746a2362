#!/usr/bin/env python3
"""Regenerate the seed corpora of tests/fuzz/corpus/ (docs/reliability.md).

usage: tests/fuzz/make_seeds.py [--anthem build/tools/anthem] [--out DIR]

Model and index seeds are real files written by the `anthem` tool from the
WordNet fixture (small: 256 buckets, dim 4, or smaller); the TSV seeds are
cut from the fixture; text seeds are queries and titles; hyperboloid seeds
are programs in the byte code of fuzz_hyperboloid.c.  Training is
deterministic (--seed 1, one thread), so the files are the same each time
for one library version.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(TOP, "tests", "data", "wordnet-fixture")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def container_checksum(data):
    """docs/format.md's checksum of every byte before the last 8."""
    n = len(data) - 8
    h = 0xcbf29ce484222325
    body = data[:n]
    full = n - n % 8
    for i in range(0, full, 8):
        h = ((h ^ struct.unpack_from("<Q", body, i)[0]) * 0x100000001b3) % 2**64
    if full < n:
        w = body[full:] + bytes(8 - (n - full))
        h = ((h ^ struct.unpack("<Q", w)[0]) * 0x100000001b3) % 2**64
    return ((h ^ n) * 0x100000001b3) % 2**64


def corrupt_graph(data):
    """An index file whose "ann.graph" gives node 3 a neighbour past the
    last product, the checksum made right again (docs/format.md's layout)."""
    def bad(data, base, rows, cols):
        struct.pack_into("<I", data, base + (3 * cols + 1) * 4, rows + 5)
    return corrupt(data, b"ann.graph", bad)


def corrupt_find(data):
    """An index file whose id table ("find.slots") is full, every slot
    naming product 0: no empty slot ends a lookup."""
    def bad(data, base, rows, cols):
        for i in range(rows * cols):
            struct.pack_into("<I", data, base + 4 * i, 1)
    return corrupt(data, b"find.slots", bad)


def corrupt(data, tensor, bad):
    """bad(data, offset, rows, cols) applied to the tensor's words in
    place, the checksum made right again."""
    data = bytearray(data)
    nkv, nt, _, table, base = struct.unpack_from("<QQQQQ", data, 24)
    off = table
    for _ in range(nt):
        (ln,) = struct.unpack_from("<I", data, off)
        name = bytes(data[off + 4: off + 4 + ln])
        off += 4 + ln
        _, rows, cols, at = struct.unpack_from("<IQQQ", data, off)
        off += 4 + 24
        if name == tensor:
            bad(data, base + at, rows, cols)
    struct.pack_into("<Q", data, len(data) - 8, container_checksum(data))
    return bytes(data)


# ---- model and index -----------------------------------------------------------

def containers(anthem, out, tmp):
    cat = os.path.join(FIXTURE, "catalog.tsv")
    train = os.path.join(FIXTURE, "train.tsv")
    models = {
        "hyperbolic-d4-b256": ["--dim", "4", "--buckets", "256"],
        "euclidean-d4-b256": ["--geometry", "euclidean", "--dim", "4",
                              "--buckets", "256"],
        "vector-d4-b256": ["--geometry", "vector", "--dim", "4",
                           "--buckets", "256"],
        "euclidean-d2-b32": ["--geometry", "euclidean", "--dim", "2",
                             "--buckets", "32"],
        "hyperbolic-d1-b16-cuts": ["--dim", "1", "--buckets", "16",
                                   "--query-trigrams", "4",
                                   "--title-trigrams", "8"],
        "hyperbolic-d2-b32-lexical": ["--dim", "2", "--buckets", "32",
                                      "--lexical-buckets", "64"],
    }
    for name, opts in models.items():
        path = os.path.join(tmp, name + ".model")
        run(anthem, "train", "--catalog", cat, "--judgments", train,
            "--out", path, "--epochs", "1", "--epoch-examples", "32",
            "--seed", "1", "--threads", "1", *opts)
        write(os.path.join(out, "model", name + ".anthem"), read(path))
    lines = read(cat).splitlines(keepends=True)
    cat12 = os.path.join(tmp, "cat12.tsv")
    cat4 = os.path.join(tmp, "cat4.tsv")
    write(cat12, b"".join(lines[:12]))
    # short titles keep the index small
    write(cat4, b"".join(l[:60].rstrip(b"\n") + b"\n" for l in lines[1:4]))
    for model, catalogue, name in (
            ("hyperbolic-d4-b256", cat12, "hyperbolic-d4-11"),
            ("euclidean-d2-b32", cat4, "euclidean-d2-3"),
            ("hyperbolic-d1-b16-cuts", cat4, "hyperbolic-d1-3")):
        path = os.path.join(tmp, name + ".index")
        run(anthem, "index", "--model", os.path.join(tmp, model + ".model"),
            "--catalog", catalogue, "--out", path, "--threads", "1")
        write(os.path.join(out, "index", name + ".anthem"), read(path))
    # with the approximate index (docs/format.md, "ann.*"): a graph of
    # degree 4 and int8 or float32 points
    for points in ("int8", "float32"):
        path = os.path.join(tmp, "ann-" + points + ".index")
        run(anthem, "index", "--model",
            os.path.join(tmp, "hyperbolic-d4-b256.model"), "--catalog", cat12,
            "--out", path, "--threads", "1", "--ann", "--ann-degree", "4",
            "--ann-ef", "8", "--points", points)
        write(os.path.join(out, "index", "hyperbolic-d4-11-ann-" + points +
                           ".anthem"), read(path))
    # the scan's int8 points without a graph (docs/format.md, "scan.*",
    # version 4)
    path = os.path.join(tmp, "int8.index")
    run(anthem, "index", "--model",
        os.path.join(tmp, "hyperbolic-d4-b256.model"), "--catalog", cat12,
        "--out", path, "--threads", "1", "--points", "int8")
    write(os.path.join(out, "index", "hyperbolic-d4-11-int8.anthem"),
          read(path))
    path = os.path.join(tmp, "ann-float32.index")
    # the same with a corrupted graph (a neighbour past the last product)
    # and a right checksum: refused at load by the graph's own check
    write(os.path.join(out, "index", "hyperbolic-d4-11-ann-badgraph.anthem"),
          corrupt_graph(read(path)))
    # an id table whose every slot is full (a right checksum): loads, and
    # every lookup must still end
    write(os.path.join(out, "index", "hyperbolic-d4-11-badfind.anthem"),
          corrupt_find(read(os.path.join(tmp, "hyperbolic-d4-11.index"))))
    # an empty catalogue gives an index of no products
    empty = os.path.join(tmp, "empty.tsv")
    write(empty, b"# nothing\n")
    path = os.path.join(tmp, "empty.index")
    run(anthem, "index", "--model",
        os.path.join(tmp, "hyperbolic-d1-b16-cuts.model"), "--catalog", empty,
        "--out", path, "--threads", "1")
    write(os.path.join(out, "index", "empty.anthem"), read(path))


# ---- checkpoints and rankings --------------------------------------------------

# The tiny data of fuzz_checkpoint.c, byte for byte: a checkpoint records
# the fingerprint of its training data, and resume refuses other data.
CHECKPOINT_CATALOG = (b"p1\tred wool hat\np2\tblue cotton scarf\n"
                      b"p3\tgreen silk tie\np4\tblack leather belt\n"
                      b"p5\twhite linen shirt\np6\tgrey wool coat\n"
                      b"p7\tbrown felt hat\np8\tyellow rain coat\n")
CHECKPOINT_JUDGMENTS = (b"hat\tp1\t3\nhat\tp7\t2\nscarf\tp2\t3\n"
                        b"coat\tp6\t3\ncoat\tp8\t2\ntie\tp3\t3\n"
                        b"belt\tp4\t3\nshirt\tp5\t3\n")


def checkpoints(anthem, out, tmp):
    cat = os.path.join(tmp, "ck-catalog.tsv")
    jud = os.path.join(tmp, "ck-judgments.tsv")
    write(cat, CHECKPOINT_CATALOG)
    write(jud, CHECKPOINT_JUDGMENTS)
    # fuzz_checkpoint.c resumes with these options
    common = ["--epochs", "2", "--epoch-examples", "8", "--batch", "4",
              "--threads", "1", "--seed", "1"]
    for name, opts in (
            ("hyperbolic-d4-b64", ["--dim", "4", "--buckets", "64"]),
            ("euclidean-d2-b32", ["--geometry", "euclidean", "--dim", "2",
                                  "--buckets", "32"]),
            ("hyperbolic-d2-b32-lexical", ["--dim", "2", "--buckets", "32",
                                           "--lexical-buckets", "64"])):
        ck = os.path.join(tmp, name + ".ck")
        # one epoch of two: the resumed trainer has one left to run
        run(anthem, "train", "--catalog", cat, "--judgments", jud,
            "--out", os.path.join(tmp, name + ".model"), "--checkpoint", ck,
            *common[:1], "1", *common[2:], *opts)
        write(os.path.join(out, "checkpoint", name + ".anthem"), read(ck))


def rankings(out):
    # against fuzz_ranking.c's catalogue (p1..p5) and judgements
    seeds = {
        "good": b"hat\tp1\t1\t0.9\nhat\tp5\t2\t0.5\nscarf\tp2\t1\n"
                b"coat\tp5\t1\ntie\tp4\t1\ntie\tp3\t2\n",
        "odd": b"hat\tp1\t 1\nhat\tp1\t1\nhat\tnope\t2\n\tp1\t1\n"
               b"coat\tp5\t0\ncoat\tp5\t18446744073709551616\n"
               b"tie\tp3\t1\tNaN\n# comment\nscarf\tp2\t1\0x\n",
        "crlf": b"hat\tp1\t1\r\nscarf\tp2\t1\r\n",
        "empty": b"",
    }
    for name, data in seeds.items():
        write(os.path.join(out, "ranking", name), data)


# ---- TSV -------------------------------------------------------------------------

def tsv(out):
    cat = read(os.path.join(FIXTURE, "catalog.tsv")).splitlines(keepends=True)
    part, size = [], 0
    for line in cat:
        if size + len(line) > 3000:
            break
        part.append(line)
        size += len(line)
    ids = {l.split(b"\t")[0] for l in part if not l.startswith(b"#")}
    for split in ("train", "test"):
        jud = read(os.path.join(FIXTURE, split + ".tsv")).splitlines(
            keepends=True)
        kept = [jud[0]] + [l for l in jud[1:] if l.split(b"\t")[1] in ids]
        write(os.path.join(out, "tsv", "fixture-" + split),
              b"".join(part) + b"\0" + b"".join(kept)[:3000])
    small = {
        "minimal": b"p1\tred shoe\np2\tblue hat\n\0red\tp1\t3\nred\tp2\t0\n",
        "crlf-comments": b"# c\r\n\r\np1\ttitle one\r\np2\ttwo\r\n\0"
                         b"# q\r\nq one\tp2\t2\r\nq one\tp2\t1\r\nq two\tp1\t0",
        "bad-lines": b"p1\tok\n\tempty id\np1\tdup\nnotab\np2\ta\tb\n"
                     b"p3\t\xff\xfe\n\0q\tp1\t4\nq\tnope\t1\n\tp1\t1\n"
                     b"q\tp1\t1x\nq\tp1\n",
        "utf8": "p\u00e9\tcaf\u00e9 cr\u00e8me \u2014 \U0001f600\n\0"
                "caf\u00e9\tp\u00e9\t2\n".encode(),
        "no-judgments": b"a\tb\nc\td",
        "grades": b"x\tt\n\0q\tx\t0\nq\tx\t3\nr\tx\t-0\ns\tx\t+2\n"
                  b"t\tx\t 1\nu\tx\t99999999999999999999\n",
        # a byte order mark before each file; a NUL inside a judgement line
        "bom-nul": b"\xef\xbb\xbfa\tA\r\nb\tB\r\n\0\xef\xbb\xbfq\ta\t1\r\n"
                   b"q\tb\t2\0junk\r\nq\tb\t 2\n",
    }
    for name, data in small.items():
        write(os.path.join(out, "tsv", name), data)


# ---- text ---------------------------------------------------------------------------

def text(out):
    seeds = {
        "query": b"musical instrument",
        "query-title": b"\x00headgear\x00niqab: a veil worn by some Muslim "
                       b"women to cover the face",
        "spaces": b"\x01  Red   SHOE \t\r\n  ",
        "empty": b"",
        "one": b"\x02a",
        "utf8": "\x03caf\u00e9 \u2014 na\u00efve \U0001f600 \u4e2d\u6587"
                .encode(),
        "long-title": b"\x00q\x00" + b" ".join(
            b"word%d" % i for i in range(300)),
        "bytes": bytes([3]) + bytes(range(1, 256)),
    }
    for name, data in seeds.items():
        write(os.path.join(out, "text", name), data)


# ---- hyperboloid programs ------------------------------------------------------------

def small(x):
    """one byte that fval(raw = 0) reads as x (in [-1, 1))"""
    return struct.pack("b", max(-128, min(127, round(x * 128))))


def raw(x):
    return struct.pack("<f", x)


def create(slot, geometry, dim, curvature, centre, limit, rawmode=False,
           neg=False):
    # curvature: mode byte 2k means k/32
    prog = bytes([0, slot, geometry, dim, int(curvature * 32) * 2])
    mode = (3 if rawmode else 0) | (4 if neg else 0)
    prog += bytes([mode])
    f = raw if rawmode else small
    return prog + b"".join(f(x) for x in centre) + b"".join(
        f(x) for x in limit)


def combine(union, dst, a, b):
    return bytes([2 if union else 1, dst, a, b])


def distance(slot, point, gamma=0.5):
    return (bytes([3, slot, 0x80, 0]) + b"".join(small(x) for x in point)
            + bytes([int(gamma * 32) * 2]))


def contains(slot, point):
    return bytes([4, slot, 0x80, 0]) + b"".join(small(x) for x in point)


def readback(slot):
    return bytes([5, slot])


def distances(slot, points, gamma=0.5, wrap=0):
    return (bytes([6, slot, len(points), 0x80, 0])
            + b"".join(small(x) for p in points for x in p)
            + bytes([int(gamma * 32) * 2, wrap]))


def free(slot):
    return bytes([7, slot])


def hyperboloid(out):
    p = {}
    # the ball: two boxes, AND, OR, distances
    p["ball-and-or"] = (
        create(0, 0, 2, 1.0, [0.1, 0.2], [0.2, 0.1])
        + create(1, 0, 2, 1.0, [0.2, 0.1], [0.1, 0.3])
        + combine(False, 2, 0, 1) + combine(True, 3, 0, 1)
        + combine(True, 4, 2, 3) + distance(2, [0.15, 0.15])
        + contains(3, [0.15, 0.15]) + readback(4)
        + distances(4, [[0.0, 0.0], [0.3, -0.2], [0.9, 0.0]]))
    # flat space: disjoint boxes make an empty intersection
    p["flat-empty"] = (
        create(0, 1, 3, 0.0, [0, 0, 0], [0.1, 0.1, 0.1])
        + create(1, 1, 3, 0.0, [0.5, 0.5, 0.5], [0.1, 0.1, 0.1])
        + combine(False, 2, 0, 1) + readback(2) + distance(2, [0, 0, 0])
        + contains(2, [0, 0, 0]) + combine(True, 3, 2, 0)
        + combine(False, 4, 3, 3) + readback(4)
        + distances(3, [[0, 0, 0], [0.5, 0.5, 0.5]], wrap=1))
    # vector geometry: points, limit 0
    p["vector"] = (
        create(0, 2, 4, 0.0, [0.1, -0.2, 0.3, -0.4], [0, 0, 0, 0])
        + create(1, 2, 4, 0.0, [0.5, 0.5, 0.5, 0.5], [0, 0, 0, 0])
        + combine(True, 2, 0, 1) + distance(2, [0, 0, 0, 0], 0.0)
        + readback(2))
    # refusals: mismatched dims and geometries, bad values
    p["mismatch"] = (
        create(0, 0, 2, 1.0, [0.1, 0.1], [0.1, 0.1])
        + create(1, 0, 3, 1.0, [0.1, 0.1, 0.1], [0.1, 0.1, 0.1])
        + create(2, 1, 2, 0.0, [0.1, 0.1], [0.1, 0.1])
        + create(3, 0, 2, 0.5, [0.1, 0.1], [0.1, 0.1])
        + combine(False, 4, 0, 1) + combine(True, 4, 0, 2)
        + combine(True, 4, 0, 3) + combine(False, 4, 0, 7)
        + create(5, 3, 2, 1.0, [0, 0], [0, 0])
        + create(5, 0, 0, 1.0, [], []) + create(5, 0, 2, 0.0, [0, 0], [0, 0])
        + create(5, 1, 2, 0.0, [0.1, 0.1], [-0.1, 0.1], neg=True)
        + create(5, 0, 2, 1.0, [0.9, 0.9], [0, 0]))
    # raw floats: NaN, infinities, huge values, denormals
    nan, inf = float("nan"), float("inf")
    p["raw-floats"] = (
        create(0, 1, 4, 0.0, [nan, 0, 0, 0], [0, 0, 0, 0], rawmode=True)
        + create(0, 1, 4, 0.0, [3e38, -3e38, 1e-45, 0],
                 [3e38, 3e38, 1e-45, 0], rawmode=True)
        + create(1, 1, 4, 0.0, [inf, 0, 0, 0], [0, 0, 0, 0], rawmode=True)
        + create(1, 1, 4, 0.0, [-3e38, 3e38, 0, 1], [3e38, 1e38, 5, 1],
                 rawmode=True)
        + combine(False, 2, 0, 1) + readback(2)
        + bytes([3, 2, 0x80, 1]) + raw(3e38) + raw(-3e38) + raw(0) + raw(1)
        + bytes([1]) + raw(1e38)
        + bytes([3, 0, 0x80, 1]) + raw(nan) + raw(0) + raw(0) + raw(0)
        + bytes([1]) + raw(-1.0))
    # many branches: repeated unions, then AND of unions (term limit)
    grow = create(0, 0, 2, 1.0, [0.1, 0.1], [0.05, 0.05])
    for _ in range(7):
        grow += combine(True, 0, 0, 0)
    p["ball-grow"] = (grow + combine(False, 1, 0, 0) + combine(False, 2, 1, 1)
                      + distance(1, [0.1, 0.1]) + readback(1) + free(1)
                      + readback(1))
    for name, data in p.items():
        write(os.path.join(out, "hyperboloid", name), data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anthem",
                    default=os.path.join(TOP, "build", "tools", "anthem"))
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--only", action="append", metavar="TARGET",
                    help="remake only this target's seeds (repeatable)")
    a = ap.parse_args()
    if not os.access(a.anthem, os.X_OK):
        sys.exit("make_seeds.py: %s is not there: build first (ninja -C build)"
                 % a.anthem)
    targets = ["model", "index", "tsv", "text", "hyperboloid", "checkpoint",
               "ranking"]
    if a.only:
        targets = a.only
    for t in targets:
        shutil.rmtree(os.path.join(a.out, t), ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        if "model" in targets or "index" in targets:
            containers(a.anthem, a.out, tmp)
        if "checkpoint" in targets:
            checkpoints(a.anthem, a.out, tmp)
    for t, make in (("ranking", rankings), ("tsv", tsv), ("text", text),
                    ("hyperboloid", hyperboloid)):
        if t in targets:
            make(a.out)


if __name__ == "__main__":
    main()
