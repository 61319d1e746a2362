#!/usr/bin/env python3
"""Build libanthem's WordNet retrieval data set from the WordNet 3.0 noun database.

Every noun synset becomes a product whose title is its lemmas and definition; every
lemma of a hypernym ancestor becomes a query whose relevant products are the synsets
below it, graded by distance (3 = direct parent, 2 = grandparent, 1 = further up),
and the synsets the query names itself (grade 3).
The rules and their reasons are in docs/data.md.

Standard library only (python3 >= 3.9); the output is byte-for-byte the same on
every run with the same input and arguments.
"""

import argparse
import hashlib
import os
import re
import sys
import time

TOOL = "tools/wordnet_data.py"

# WordNet marks adjective position with (a), (p) or (ip) after a lemma in data.adj;
# strip them wherever they appear so the tool also reads files that carry them.
ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")
# An example sentence starts with a double quote at the start of the gloss or after
# ';', ':' or ',' ("a flesh-eating mammal; "terrestrial carnivores have ...").
EXAMPLE_START = re.compile(r'(?:^|[;:,])\s*"')
OFFSET = re.compile(r"[0-9]{8}")
HYPERNYM_SYMBOLS = ("@", "@i")


class DataError(Exception):
    """Malformed input or an unusable argument; the message names file:line."""


class Synset:
    __slots__ = ("offset", "lemmas", "gloss", "parents", "line")

    def __init__(self, offset, lemmas, gloss, parents, line):
        self.offset = offset    # 8-digit string, the product id
        self.lemmas = lemmas    # display forms: underscores -> spaces, markers stripped
        self.gloss = gloss      # full gloss text
        self.parents = parents  # offsets of @ and @i targets, in file order, no repeats
        self.line = line        # line number in data.noun, for messages


def progress(msg, t0):
    sys.stderr.write("wordnet_data: %-44s %6.1f s\n" % (msg, time.monotonic() - t0))
    sys.stderr.flush()


def clean_lemma(word):
    return ADJ_MARKER.sub("", word).replace("_", " ")


def definition(gloss):
    """The gloss up to its first example sentence (the whole gloss if it has none)."""
    m = EXAMPLE_START.search(gloss)
    text = gloss[: m.start()] if m else gloss
    text = text.rstrip(" ;:,")
    return text if text else gloss.strip()


def parse_data_file(path):
    """Parse a WordNet data.noun file into {offset: Synset}."""
    synsets = {}
    hypernym_lines = []  # (source offset, target offset, line) to check afterwards
    try:
        f = open(path, "rb")
    except OSError as e:
        raise DataError("%s: cannot open: %s" % (path, e.strerror))
    with f:
        for lineno, raw in enumerate(f, 1):
            where = "%s:%d" % (path, lineno)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError("%s: not UTF-8 (byte %d)" % (where, e.start))
            if line.startswith("  "):  # license header
                continue
            line = line.rstrip("\r\n")
            if not line.strip():
                raise DataError("%s: empty line" % where)
            tok = line.split(" ")
            # Fields: offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt (ptr)* | gloss
            # with w_cnt two hex digits, p_cnt three decimal digits, each pointer
            # 'symbol offset pos source/target'.
            if len(tok) < 6:
                raise DataError("%s: too few fields for a synset line" % where)
            offset, lex_filenum, ss_type, w_cnt = tok[0], tok[1], tok[2], tok[3]
            if not OFFSET.fullmatch(offset):
                raise DataError("%s: synset offset %r is not 8 digits" % (where, offset))
            if not re.fullmatch(r"[0-9]{2}", lex_filenum):
                raise DataError("%s: lex_filenum %r is not 2 digits" % (where, lex_filenum))
            if ss_type != "n":
                raise DataError("%s: ss_type %r is not 'n' (is this data.noun?)" % (where, ss_type))
            if not re.fullmatch(r"[0-9a-fA-F]{2}", w_cnt):
                raise DataError("%s: w_cnt %r is not 2 hex digits" % (where, w_cnt))
            nwords = int(w_cnt, 16)
            if nwords == 0:
                raise DataError("%s: synset %s has no words" % (where, offset))
            pos = 4
            lemmas = []
            for _ in range(nwords):
                if pos + 1 >= len(tok):
                    raise DataError("%s: line ends inside the word list (w_cnt %s)" % (where, w_cnt))
                word, lex_id = tok[pos], tok[pos + 1]
                if not word or not re.fullmatch(r"[0-9a-fA-F]", lex_id):
                    raise DataError("%s: bad word/lex_id pair %r %r" % (where, word, lex_id))
                lemma = clean_lemma(word)
                if not lemma.strip():
                    raise DataError("%s: empty lemma %r" % (where, word))
                if lemma not in lemmas:
                    lemmas.append(lemma)
                pos += 2
            if pos >= len(tok) or not re.fullmatch(r"[0-9]{3}", tok[pos]):
                raise DataError("%s: p_cnt %r is not 3 digits" % (where, tok[pos] if pos < len(tok) else ""))
            nptrs = int(tok[pos])
            pos += 1
            parents = []
            for _ in range(nptrs):
                if pos + 3 >= len(tok):
                    raise DataError("%s: line ends inside the pointer list (p_cnt %d)" % (where, nptrs))
                sym, target, tpos, st = tok[pos], tok[pos + 1], tok[pos + 2], tok[pos + 3]
                if not OFFSET.fullmatch(target) or tpos not in ("n", "v", "a", "s", "r") \
                        or not re.fullmatch(r"[0-9a-fA-F]{4}", st):
                    raise DataError("%s: malformed pointer %r" % (where, " ".join(tok[pos:pos + 4])))
                if sym in HYPERNYM_SYMBOLS:
                    if tpos != "n":
                        raise DataError("%s: hypernym pointer to pos %r, expected 'n'" % (where, tpos))
                    if target == offset:
                        raise DataError("%s: synset %s is its own hypernym" % (where, offset))
                    if target not in parents:
                        parents.append(target)
                        hypernym_lines.append((offset, target, lineno))
                pos += 4
            if pos >= len(tok) or tok[pos] != "|":
                raise DataError("%s: expected '|' before the gloss after %d pointers" % (where, nptrs))
            gloss = " ".join(tok[pos + 1:]).strip()
            if "\t" in gloss or "\t" in "".join(lemmas):
                raise DataError("%s: tab character in a lemma or gloss" % where)
            if offset in synsets:
                raise DataError("%s: synset %s already defined at line %d"
                                % (where, offset, synsets[offset].line))
            synsets[offset] = Synset(offset, lemmas, gloss, parents, lineno)
    if not synsets:
        raise DataError("%s: no synsets found" % path)
    for src, target, lineno in hypernym_lines:
        if target not in synsets:
            raise DataError("%s:%d: synset %s: hypernym %s is not in the file"
                            % (path, lineno, src, target))
    return synsets


def describe(s):
    text = ", ".join(s.lemmas) + ": " + definition(s.gloss)
    return s.offset + " (" + (text if len(text) <= 70 else text[:67] + "...") + ")"


def resolve_root(root, synsets, wordnet_dir):
    """An 8-digit offset, 'lemma.n.NN' (the NN-th sense in index.noun), or a lemma
    that names exactly one noun synset."""
    if OFFSET.fullmatch(root):
        if root not in synsets:
            raise DataError("--root %s: no noun synset with that offset" % root)
        return root
    m = re.fullmatch(r"(.+)\.n\.([0-9]+)", root)
    if m:
        key = m.group(1).lower().replace(" ", "_")
        sense = int(m.group(2))
        path = os.path.join(wordnet_dir, "index.noun")
        try:
            f = open(path, "r", encoding="utf-8")
        except OSError as e:
            raise DataError("%s: cannot open: %s" % (path, e.strerror))
        with f:
            for lineno, line in enumerate(f, 1):
                if line.startswith("  "):
                    continue
                tok = line.split()
                if not tok or tok[0] != key:
                    continue
                try:
                    count = int(tok[2])
                    offsets = tok[len(tok) - count:]
                except (IndexError, ValueError):
                    raise DataError("%s:%d: malformed index line" % (path, lineno))
                if not 1 <= sense <= count:
                    raise DataError("--root %s: %r has %d noun senses" % (root, key, count))
                off = offsets[sense - 1]
                if off not in synsets:
                    raise DataError("%s:%d: sense %d points to %s, not in data.noun"
                                    % (path, lineno, sense, off))
                return off
        raise DataError("--root %s: %r is not in %s" % (root, key, path))
    key = root.lower().replace("_", " ")
    found = sorted(o for o, s in synsets.items() if key in (l.lower() for l in s.lemmas))
    if not found:
        raise DataError("--root %s: no noun synset has that lemma" % root)
    if len(found) > 1:
        raise DataError("--root %s: %d noun synsets have that lemma; give an offset or "
                        "LEMMA.n.NN:\n  %s" % (root, len(found),
                                               "\n  ".join(describe(synsets[o]) for o in found)))
    return found[0]


def subtree(root, synsets):
    """The root and everything below it through reversed @ and @i pointers."""
    children = {}
    for s in synsets.values():
        for p in s.parents:
            children.setdefault(p, []).append(s.offset)
    seen = {root}
    stack = [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


def ancestors(products, synsets, path):
    """{offset: {ancestor: shortest distance}} over parents inside `products`."""
    anc = {}
    state = {}  # 1 = on the DFS stack, 2 = done
    for start in sorted(products):
        if start in anc:
            continue
        stack = [(start, iter([p for p in synsets[start].parents if p in products]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is not None:
                st = state.get(nxt)
                if st == 1:
                    s = synsets[nxt]
                    raise DataError("%s:%d: hypernym cycle through synset %s" % (path, s.line, nxt))
                if st is None:
                    state[nxt] = 1
                    stack.append((nxt, iter([p for p in synsets[nxt].parents if p in products])))
                continue
            stack.pop()
            dist = {}
            for p in synsets[node].parents:
                if p not in products:
                    continue
                dist[p] = 1
            for p in synsets[node].parents:
                if p not in products:
                    continue
                for a, d in anc[p].items():
                    if dist.get(a, d + 2) > d + 1:
                        dist[a] = d + 1
            anc[node] = dist
            state[node] = 2
    return anc


def grade_of(distance):
    return 3 if distance == 1 else 2 if distance == 2 else 1


def is_test(query, seed, test_frac):
    h = hashlib.sha256(("%d\t%s" % (seed, query)).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64 < test_frac


def write_atomic(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    os.replace(tmp, path)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(args):
    t0 = time.monotonic()
    data_path = os.path.join(args.wordnet, "data.noun")
    synsets = parse_data_file(data_path)
    progress("read %d noun synsets" % len(synsets), t0)

    if args.root is not None:
        root = resolve_root(args.root, synsets, args.wordnet)
        products = subtree(root, synsets)
        progress("root %s: %d synsets in its subtree" % (root, len(products)), t0)
    else:
        root = None
        products = set(synsets)

    anc = ancestors(products, synsets, data_path)
    n_edges = sum(len(d) for d in anc.values())
    progress("hypernym closure: %d edges" % n_edges, t0)

    # query text -> {product: best grade}; a text reached through several ancestor
    # synsets or several paths keeps its highest grade (shortest distance).
    qlemmas = {}
    for o in products:
        ql = []
        for l in synsets[o].lemmas:
            q = l.lower()
            if q not in ql:
                ql.append(q)
        qlemmas[o] = ql
    judged = {}
    for o in products:
        for a, d in anc[o].items():
            g = grade_of(d)
            for q in qlemmas[a]:
                rel = judged.get(q)
                if rel is None:
                    rel = judged[q] = {}
                if rel.get(o, 0) < g:
                    rel[o] = g
    # The synsets a query names are relevant to it too, at the top grade: a
    # search for "hat" should find the hat itself, not only its kinds (without
    # this every system that matches the title is penalised at rank 1).
    # Only queries that already exist get this, so that leaf lemmas do not
    # become queries of their own.
    for o in sorted(products):
        for q in qlemmas[o]:
            rel = judged.get(q)
            if rel is not None:
                rel[o] = 3
    limit = args.max_frac * len(products)
    kept = sorted(q for q, rel in judged.items() if len(rel) <= limit)
    dropped = sorted((q for q, rel in judged.items() if len(rel) > limit),
                     key=lambda q: (-len(judged[q]), q))
    # Queries with exactly the same judgements (mostly synonyms: lemmas of one synset,
    # "hose" and "hosiery") go to the same side, decided by the first of them in sorted
    # order; split one by one, half the test queries would repeat a training query's
    # answers under another name.
    group_key = {}
    for q in kept:  # sorted, so the first query seen is the group's key
        group_key.setdefault(tuple(sorted(judged[q].items())), q)
    side = {}
    for q in kept:
        side[q] = is_test(group_key[tuple(sorted(judged[q].items()))], args.seed, args.test_frac)
    test_q = [q for q in kept if side[q]]
    train_q = [q for q in kept if not side[q]]
    n_groups = len(group_key)
    progress("queries: %d kept, %d dropped (> %g relevant)" % (len(kept), len(dropped), limit), t0)

    cmd = "--max-frac %g --test-frac %g --seed %d" % (args.max_frac, args.test_frac, args.seed)
    if root is not None:
        cmd = "--root %s " % root + cmd
    origin = "generated by %s %s from WordNet data.noun sha256 %s" % (
        TOOL, cmd, file_sha256(data_path)[:16])

    os.makedirs(args.out, exist_ok=True)
    order = sorted(products)

    lines = ["# product_id\ttitle (lemmas: definition); %s\n" % origin]
    for o in order:
        s = synsets[o]
        lines.append("%s\t%s: %s\n" % (o, ", ".join(s.lemmas), definition(s.gloss)))
    write_atomic(os.path.join(args.out, "catalog.tsv"), lines)

    grades = {}
    for name, qs in (("train", train_q), ("test", test_q)):
        lines = ["# query\tproduct_id\tgrade; %s split; %s\n" % (name, origin)]
        count = {1: 0, 2: 0, 3: 0}
        for q in qs:
            rel = judged[q]
            for o in sorted(rel):
                lines.append("%s\t%s\t%d\n" % (q, o, rel[o]))
                count[rel[o]] += 1
        grades[name] = count
        write_atomic(os.path.join(args.out, name + ".tsv"), lines)

    lines = ["# child_id\tancestor_id (transitive closure of @ and @i); %s\n" % origin]
    for o in order:
        for a in sorted(anc[o]):
            lines.append("%s\t%s\n" % (o, a))
    write_atomic(os.path.join(args.out, "closure.tsv"), lines)

    depth = max((max(d.values()) for d in anc.values() if d), default=0)
    rels = [len(judged[q]) for q in kept]
    stats = [
        "# %s\n" % origin,
        "root\t%s\n" % (describe(synsets[root]) if root else "all noun synsets"),
        "products\t%d\n" % len(products),
        "closure_edges\t%d\n" % n_edges,
        "max_depth\t%d\n" % depth,
        "query_texts\t%d\n" % len(judged),
        "dropped_queries\t%d\n" % len(dropped),
        "dropped_limit\t%g\n" % limit,
        "dropped_largest\t%s\n" % ", ".join("%s (%d)" % (q, len(judged[q])) for q in dropped[:5]),
        "query_groups\t%d\n" % n_groups,
        "queries_train\t%d\n" % len(train_q),
        "queries_test\t%d\n" % len(test_q),
    ]
    for name in ("train", "test"):
        c = grades[name]
        stats.append("judgements_%s\t%d\n" % (name, sum(c.values())))
        for g in (3, 2, 1):
            stats.append("judgements_%s_grade%d\t%d\n" % (name, g, c[g]))
    if rels:
        rels.sort()
        stats.append("relevant_per_query_mean\t%.2f\n" % (sum(rels) / len(rels)))
        stats.append("relevant_per_query_median\t%d\n" % rels[len(rels) // 2])
        stats.append("relevant_per_query_max\t%d\n" % rels[-1])
    write_atomic(os.path.join(args.out, "stats.txt"), stats)
    progress("wrote %s" % args.out, t0)


def fraction(lo_open):
    def parse(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a number" % text)
        if not (x > 0 if lo_open else x >= 0) or x > 1:
            raise argparse.ArgumentTypeError("%r is not in %s0, 1]" % (text, "(" if lo_open else "["))
        return x
    return parse


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="wordnet_data.py",
        description="Build the WordNet noun retrieval data set (catalog.tsv, train.tsv, "
                    "test.tsv, closure.tsv, stats.txt) described in docs/data.md.")
    ap.add_argument("--wordnet", required=True, metavar="DIR",
                    help="WordNet 3.0 database directory holding data.noun (and index.noun "
                         "for --root LEMMA.n.NN), e.g. /usr/share/wordnet")
    ap.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    ap.add_argument("--root", metavar="SYNSET",
                    help="keep only this synset and its hyponym closure (via @ and @i): an "
                         "8-digit offset (01861778), LEMMA.n.NN (mammal.n.01), or a lemma "
                         "naming exactly one noun synset")
    ap.add_argument("--max-frac", type=fraction(True), default=0.01, metavar="F",
                    help="drop queries with more than F x (number of products) relevant "
                         "products (default 0.01)")
    ap.add_argument("--test-frac", type=fraction(False), default=0.2, metavar="F",
                    help="fraction of queries sent to test.tsv (default 0.2)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the train/test split (default 1)")
    args = ap.parse_args(argv)
    try:
        build(args)
    except DataError as e:
        sys.stderr.write("wordnet_data: error: %s\n" % e)
        return 1
    except OSError as e:
        sys.stderr.write("wordnet_data: error: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
