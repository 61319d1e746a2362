"""Independent PyTorch twin of the ANTHEM network as libanthem computes it.

Written from docs/network.md (and the formulas of lib/geometry/geometry.h),
not from the C code, so that comparing the two checks both against the spec.
Everything is computed in float64 so that the twin is a numerical oracle for
the C library (float32 storage, double inside reductions).

Public functions:
    load(dump_dir)                 -> Model (parameters as float64 leaf tensors
                                      with requires_grad=True)
    trigrams(model, text, kind)    -> list of bucket ids (kind "q" or "t")
    score(model, query, title)     -> (d1, d2) as 0-d float64 tensors
    loss(model, query, titles)     -> 0-d tensor, positive title first
    explanation(model, query, title) -> L x T grid (softmax over title trigrams)

Sources of the formulas:
  * Moebius addition, exp0/log0 and Moebius scalar multiplication:
    O.-E. Ganea, G. Becigneul, T. Hofmann, "Hyperbolic Neural Networks",
    NeurIPS 2018 (eqs. 2-6 with curvature c).
  * Gyro midpoint (weighted Einstein midpoint carried to the Poincare ball):
    A. A. Ungar, "A Gyrovector Space Approach to Hyperbolic Geometry", 2008;
    G. Bachmann, G. Becigneul, O.-E. Ganea, "Constant Curvature Graph
    Convolutional Networks", ICML 2020 (definition of the gyromidpoint).
  * Box ("hyperboloid") distance d_out + gamma * d_in: Query2Box
    (H. Ren, W. Hu, J. Leskovec, ICLR 2020) and its hyperbolic version HypE
    (N. Choudhary et al., WWW 2021); the DeepSets limit shrink of the
    intersection is HypE's.
"""

import math
import os
import unicodedata

import numpy as np
import torch

DTYPE = torch.float64

# Numerical guards, docs/network.md "Numerical guards".
BALL_EPS = 1e-5          # project to radius (1 - BALL_EPS) / sqrt(c)
ARTANH_CLAMP = 1.0 - 1e-12
TANH_CLAMP = 15.0
NORM_FLOOR = 1e-15
DENOM_FLOOR = 1e-15

MASK64 = (1 << 64) - 1

# Table rows are read with plain indexing (dense gradients: simple, and what
# the correctness check uses).  The speed mode of bench/train reads them
# with F.embedding(sparse=True) instead, so that a step's gradient of a
# 2^18-row table holds only the rows used, as the C trainer's does.
SPARSE_ROWS = False


def use_speed_mode(dtype=torch.float32):
    """Switch the module to the speed mode of bench/train: parameters in
    `dtype` (float32 by default, the C library's storage type) and sparse
    table gradients.  The artanh clamp 1 - 1e-12 rounds to 1 in float32,
    so there it becomes 1 - 2^-23, the largest float32 below 1 that keeps
    artanh finite (points are kept at radius (1 - 1e-5)/sqrt(c) anyway).
    The default (float64, dense) is the correctness mode of compare.py."""
    global DTYPE, ARTANH_CLAMP, SPARSE_ROWS
    DTYPE = dtype
    ARTANH_CLAMP = 1.0 - 1e-12 if dtype == torch.float64 else 1.0 - 2.0 ** -23
    SPARSE_ROWS = True


def rows(table, idx):
    """table[idx] (idx a LongTensor of any shape)."""
    if SPARSE_ROWS:
        return torch.nn.functional.embedding(idx, table, sparse=True)
    return table[idx]


# ---------------------------------------------------------------------------
# Step 1: trigrams and the bucket hash (64-bit arithmetic).  Two tokenizers
# (the model's "tokenizer", bytes-v1 when absent): bytes-v1 works on bytes,
# unicode-v1 on code points of the normalised text.
# ---------------------------------------------------------------------------

_WHITESPACE = b" \t\n\r\v\f"


def normalise(text):
    """bytes-v1: lower-case A-Z, map the six ASCII whitespace bytes to a
    space, collapse runs of spaces, strip.  Works on bytes; str is UTF-8
    encoded first."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    out = bytearray()
    for b in text:
        if 0x41 <= b <= 0x5A:                 # 'A'..'Z'
            b += 0x20
        elif b in _WHITESPACE:
            b = 0x20
        if b == 0x20 and (not out or out[-1] == 0x20):
            continue                          # drop leading / repeated spaces
        out.append(b)
    if out and out[-1] == 0x20:
        out.pop()                             # trailing space
    return bytes(out)


# Unicode's White_Space property (PropList.txt), all of it.
_WHITE_SPACE = frozenset([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0,
                          0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
                         + list(range(0x2000, 0x200B)))

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 14/15),
# which unicodedata does not expose: ranges, inclusive.
_IGNORABLE = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C),
              (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
              (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F),
              (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
              (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
              (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF)]


def _ignorable(ch):
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _IGNORABLE)


def normalise_unicode(text):
    """unicode-v1 (docs/network.md, step 1): ill-formed UTF-8 read as
    U+FFFD, default-ignorables dropped, NFKC with full case folding (the
    compatibility caseless form NFKC(casefold(NFKD(casefold(NFD(s)))))), any
    White_Space character a space (runs are collapsed by _collapse).
    Returns a str."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    s = "".join(ch for ch in text if not _ignorable(ch))
    s = unicodedata.normalize("NFD", s).casefold()
    s = unicodedata.normalize("NFKD", s).casefold()
    s = unicodedata.normalize("NFKC", s)
    s = "".join(" " if ord(ch) in _WHITE_SPACE else ch
                for ch in s if not _ignorable(ch))
    return s


def _collapse(s):
    out = []
    for ch in s:
        if ch == " " and (not out or out[-1] == " "):
            continue
        out.append(ch)
    if out and out[-1] == " ":
        out.pop()
    return "".join(out)


def trigram_strings(text, tokenizer="bytes-v1"):
    """The trigrams of '#' + normalised text + '#' ('##' for empty text), as
    the bytes that are hashed: three bytes (bytes-v1) or the UTF-8 of three
    code points (unicode-v1)."""
    if tokenizer == "unicode-v1":
        s = "#" + _collapse(normalise_unicode(text)) + "#"
        if len(s) < 3:
            return [s.encode("utf-8")]
        return [s[i:i + 3].encode("utf-8") for i in range(len(s) - 2)]
    if tokenizer != "bytes-v1":
        raise ValueError("tokenizer %r is unknown" % tokenizer)
    s = b"#" + normalise(text) + b"#"
    if len(s) < 3:
        return [s]
    return [s[i:i + 3] for i in range(len(s) - 2)]


def hash_trigram(tri, seed, buckets):
    """FNV-1a over the bytes then the splitmix64 finaliser, all mod 2^64."""
    h = (seed ^ 0xcbf29ce484222325) & MASK64
    for b in tri:
        h = ((h ^ b) * 0x100000001b3) & MASK64
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & MASK64
    h = h ^ (h >> 31)
    return h % buckets


def bucket_ids(text, seed, buckets, max_len, tokenizer="bytes-v1"):
    """Hash every trigram, deduplicate keeping first occurrence, cut."""
    seen = set()
    ids = []
    for tri in trigram_strings(text, tokenizer):
        b = hash_trigram(tri, seed, buckets)
        if b not in seen:
            seen.add(b)
            ids.append(b)
    return ids[:max_len]


def trigrams(model, text, kind):
    """Bucket ids of a query (kind 'q') or title (kind 't') for this model."""
    cfg = model.config
    if kind == "q":
        cut = cfg["max_query_trigrams"]
    elif kind == "t":
        cut = cfg["max_title_trigrams"]
    else:
        raise ValueError("kind must be 'q' or 't'")
    return bucket_ids(text, cfg["hash_seed"], cfg["buckets"], cut,
                      cfg.get("tokenizer", "bytes-v1"))


# ---------------------------------------------------------------------------
# Poincare ball of curvature -c (Ganea et al. 2018), rows are points
# ---------------------------------------------------------------------------

def _norm(x):
    """Euclidean norm over the last axis, floored at NORM_FLOOR.  Below the
    floor the gradient of the norm is zero, and the callers' ratios
    f(sqrt(c) n) / (sqrt(c) n) take their series value at 0 (which is 1)."""
    return torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(NORM_FLOOR)


def project(x, c):
    """Scale rows of norm above (1 - 1e-5)/sqrt(c) back onto that radius."""
    maxnorm = (1.0 - BALL_EPS) / math.sqrt(c)
    n = _norm(x)
    return torch.where(n > maxnorm, x / n * maxnorm, x)


def _artanh(z):
    return torch.atanh(z.clamp(max=ARTANH_CLAMP))


def _tanh(z):
    return torch.tanh(z.clamp(-TANH_CLAMP, TANH_CLAMP))


def exp0(v, c):
    """exp0(v) = tanh(sqrt(c)|v|) v / (sqrt(c)|v|)   (Ganea et al., eq. 13 at 0)."""
    sc = math.sqrt(c)
    n = _norm(v)
    return project(_tanh(sc * n) * v / (sc * n), c)


def log0(y, c):
    """log0(y) = artanh(sqrt(c)|y|) y / (sqrt(c)|y|)  (Ganea et al., eq. 13 at 0)."""
    sc = math.sqrt(c)
    n = _norm(y)
    return _artanh(sc * n) * y / (sc * n)


def mobius_add(x, y, c):
    """x (+) y = ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y)
                 / (1 + 2c<x,y> + c^2 |x|^2 |y|^2)       (Ganea et al., eq. 2)."""
    xy = (x * y).sum(-1, keepdim=True)
    x2 = (x * x).sum(-1, keepdim=True)
    y2 = (y * y).sum(-1, keepdim=True)
    num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    den = (1 + 2 * c * xy + c * c * x2 * y2).clamp_min(DENOM_FLOOR)
    return project(num / den, c)


def mobius_sub(x, y, c):
    """x (-) y = x (+) (-y)."""
    return mobius_add(x, -y, c)


def mobius_scalar(r, x, c):
    """r (x) x = exp0(r log0(x)) = tanh(r artanh(sqrt(c)|x|)) x / (sqrt(c)|x|)
    (Ganea et al., eq. 4)."""
    sc = math.sqrt(c)
    n = _norm(x)
    return project(_tanh(r * _artanh(sc * n)) * x / (sc * n), c)


def gyromean(w, x, c):
    """Weighted gyro midpoint (Ungar 2008; Bachmann et al. 2020):
        1/2 (x) ( sum_k w_k lambda_k x_k / sum_k w_k (lambda_k - 1) ),
        lambda_k = 2 / (1 - c|x_k|^2).
    w: (..., n), x: (..., n, d) -> (..., d)."""
    lam = 2.0 / (1.0 - c * (x * x).sum(-1))
    num = ((w * lam).unsqueeze(-1) * x).sum(-2)
    den = (w * (lam - 1.0)).sum(-1, keepdim=True)
    return project(mobius_scalar(0.5, num / den, c), c)


# ----- flat variants (euclidean and vector geometries) ---------------------

def flat_exp0(v, c):
    return v


def flat_log0(y, c):
    return y


def flat_add(x, y, c):
    return x + y


def flat_sub(x, y, c):
    return x - y


def flat_gyromean(w, x, c):
    """Weighted arithmetic mean sum w_k x_k / sum w_k.
    w: (..., n), x: (..., n, d) -> (..., d)."""
    return (w.unsqueeze(-1) * x).sum(-2) / w.sum(-1, keepdim=True)


class Space:
    """The geometry switch: one network, three spaces (network.md table)."""

    def __init__(self, geometry, c):
        self.geometry = geometry
        self.c = c
        if geometry == "hyperbolic":
            self.exp0, self.log0 = exp0, log0
            self.add, self.sub, self.mean = mobius_add, mobius_sub, gyromean
        elif geometry in ("euclidean", "vector"):
            self.exp0, self.log0 = flat_exp0, flat_log0
            self.add, self.sub, self.mean = flat_add, flat_sub, flat_gyromean
        else:
            raise ValueError("unknown geometry %r" % geometry)
        self.zero_limits = geometry == "vector"


def box_distance(space, v, centre, limit, gamma):
    """Distance of point v to the hyperboloid (centre, limit), Query2Box /
    HypE style, with the space's (+) and (-):
        qmin = c (-) l,  qmax = c (+) l
        d_out = | max(v (-) qmax, 0) + max(qmin (-) v, 0) |_1
        d_in  = | c (-) min(qmax, max(qmin, v)) |_1
        d = d_out + gamma d_in
    """
    c = space.c
    qmin = space.sub(centre, limit, c)
    qmax = space.add(centre, limit, c)
    zero = torch.zeros_like(v)
    d_out = (torch.maximum(space.sub(v, qmax, c), zero)
             + torch.maximum(space.sub(qmin, v, c), zero)).abs().sum(-1)
    inside = torch.minimum(qmax, torch.maximum(qmin, v))
    d_in = space.sub(centre, inside, c).abs().sum(-1)
    return d_out + gamma * d_in


# ---------------------------------------------------------------------------
# The model: parameters from a dump directory (network.md, appendix)
# ---------------------------------------------------------------------------

PARAM_NAMES = [
    "query_centre", "query_limit", "title_point",
    "inter_att_W", "inter_att_b", "inter_att_u",
    "query_att_W", "query_att_b", "query_att_u",
    "title_att_W", "title_att_b", "title_att_u",
    "cross_W",
    "inter_pre_W", "inter_pre_b", "inter_post_W", "inter_post_b",
]


def param_shapes(buckets, d, tie=0):
    """Shapes of the parameters; with tied tables title_point is empty and
    title trigrams use query_centre (docs/network.md, step 2)."""
    h = d
    return {
        "query_centre": (buckets, d), "query_limit": (buckets, d),
        "title_point": (0 if tie else buckets, d),
        "inter_att_W": (d, d), "inter_att_b": (d,), "inter_att_u": (d,),
        "query_att_W": (d, d), "query_att_b": (d,), "query_att_u": (d,),
        "title_att_W": (d, d), "title_att_b": (d,), "title_att_u": (d,),
        "cross_W": (d, d),
        "inter_pre_W": (h, d), "inter_pre_b": (h,),
        "inter_post_W": (d, h), "inter_post_b": (d,),
    }


def read_config(path):
    cfg = {}
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition(" ")
            cfg[key] = value.strip()
    out = dict(cfg)
    for k in ("dim", "buckets", "max_query_trigrams", "max_title_trigrams",
              "negatives", "hash_seed", "tie_embeddings"):
        if k in cfg:
            out[k] = int(cfg[k])
    for k in ("curvature", "gamma"):
        if k in cfg:
            out[k] = float(cfg[k])
    out.setdefault("max_query_trigrams", 28)
    out.setdefault("max_title_trigrams", 100)
    out.setdefault("tie_embeddings", 0)
    out.setdefault("tokenizer", "bytes-v1")
    out["logit_scale"] = float(cfg.get("logit_scale", 1.0))
    out["hash_seed"] = out["hash_seed"] & MASK64
    return out


def read_f32(path, shape):
    a = np.fromfile(path, dtype="<f4")
    n = int(np.prod(shape))
    if a.size != n:
        raise ValueError("%s: %d floats, expected %d for shape %s"
                         % (path, a.size, n, shape))
    return a.reshape(shape)


class Model:
    def __init__(self, config, params):
        self.config = config
        self.params = params          # name -> float64 leaf tensor
        self.space = Space(config["geometry"], config["curvature"])
        self.gamma = config["gamma"]
        self.d = config["dim"]

    def zero_grad(self):
        for p in self.params.values():
            p.grad = None


def load(dump_dir, requires_grad=True):
    """Parameters in the module's DTYPE (float64 unless use_speed_mode)."""
    cfg = read_config(os.path.join(dump_dir, "config.txt"))
    shapes = param_shapes(cfg["buckets"], cfg["dim"], cfg["tie_embeddings"])
    params = {}
    np_dtype = np.float64 if DTYPE == torch.float64 else np.float32
    for name in PARAM_NAMES:
        a = read_f32(os.path.join(dump_dir, name + ".f32"), shapes[name])
        t = torch.from_numpy(a.astype(np_dtype))
        params[name] = t.requires_grad_(requires_grad)
    return Model(cfg, params)


# ---------------------------------------------------------------------------
# Steps 2-6
# ---------------------------------------------------------------------------

def softplus(x):
    """log(1 + e^x), computed stably as logaddexp(x, 0)."""
    return torch.logaddexp(x, torch.zeros_like(x))


def att_score(x, p, prefix):
    """score(x) = u . tanh(x W^T + b) for the triple prefix_{W,b,u}."""
    W, b, u = p[prefix + "_W"], p[prefix + "_b"], p[prefix + "_u"]
    return torch.tanh(x @ W.T + b) @ u


def encode_query(model, q_ids):
    """Steps 2-3: the query elements (centres C (E,d), limits Lam (E,d)),
    the L trigram elements first, then the pairs i<j in lexicographic order."""
    p, sp, c = model.params, model.space, model.space.c
    idx = torch.tensor(q_ids, dtype=torch.long)
    C = sp.exp0(rows(p["query_centre"], idx), c)                 # (L, d)
    if sp.zero_limits:
        Lam = torch.zeros_like(C)
    else:
        Lam = sp.exp0(softplus(rows(p["query_limit"], idx)), c)
    L = len(q_ids)
    if L < 2:
        return C, Lam

    # pairs i < j in the order (0,1), (0,2), ..., (0,L-1), (1,2), ...
    I, J = torch.triu_indices(L, L, offset=1)
    a = att_score(sp.log0(C, c), p, "inter_att")                 # (L,)
    w = torch.softmax(torch.stack([a[I], a[J]], -1), -1)         # (npairs, 2)
    Cij = sp.mean(w, torch.stack([C[I], C[J]], 1), c)            # (npairs, d)
    if sp.zero_limits:
        Lij = torch.zeros_like(Cij)
    else:
        # HypE's DeepSets shrink of the limit
        H = torch.relu(sp.log0(Lam, c) @ p["inter_pre_W"].T + p["inter_pre_b"])
        shrink = torch.sigmoid(((H[I] + H[J]) / 2) @ p["inter_post_W"].T
                               + p["inter_post_b"])
        Lij = torch.minimum(Lam[I], Lam[J]) * shrink
    return torch.cat([C, Cij], 0), torch.cat([Lam, Lij], 0)


def encode_title(model, t_ids):
    """Steps 2 and 5: title trigram points P (T,d) and the product point v."""
    p, sp, c = model.params, model.space, model.space.c
    idx = torch.tensor(t_ids, dtype=torch.long)
    table = p["query_centre"] if model.config["tie_embeddings"] else p["title_point"]
    P = sp.exp0(rows(table, idx), c)
    rho = torch.softmax(att_score(sp.log0(P, c), p, "title_att"), 0)
    v = sp.mean(rho, P, c)
    return P, v


def cross_attention(model, C, P):
    """Step 4: A[e,k] = (log0(C_e) cross_W^T) . log0(P_k) / sqrt(d)."""
    sp, c = model.space, model.space.c
    return (sp.log0(C, c) @ model.params["cross_W"].T) @ sp.log0(P, c).T \
        / math.sqrt(model.d)


def final_boxes(model, C, Lam, P=None):
    """Step 6: stage-1 (c1, l1) and, if P is given, stage-2 (c2, l2)."""
    sp, c = model.space, model.space.c
    s = att_score(sp.log0(C, c), model.params, "query_att")       # (E,)
    alpha = torch.softmax(s, 0)
    c1 = sp.mean(alpha, C, c)
    l1 = (alpha.unsqueeze(-1) * Lam).sum(0)
    if P is None:
        return (c1, l1), None
    r = torch.logsumexp(cross_attention(model, C, P), 1)           # (E,)
    beta = torch.softmax(s + r, 0)
    c2 = sp.mean(beta, C, c)
    l2 = (beta.unsqueeze(-1) * Lam).sum(0)
    return (c1, l1), (c2, l2)


def score_ids(model, q_ids, t_ids, query_enc=None):
    C, Lam = query_enc if query_enc is not None else encode_query(model, q_ids)
    P, v = encode_title(model, t_ids)
    (c1, l1), (c2, l2) = final_boxes(model, C, Lam, P)
    d1 = box_distance(model.space, v, c1, l1, model.gamma)
    d2 = box_distance(model.space, v, c2, l2, model.gamma)
    return d1, d2


def score(model, query, title):
    """(d1, d2): stage-1 (scan) and stage-2 (model) distance, ascending = better."""
    return score_ids(model, trigrams(model, query, "q"), trigrams(model, title, "t"))


def scores_all(model, query, titles):
    """[(d1, d2) for each title], sharing the query encoding."""
    q_ids = trigrams(model, query, "q")
    enc = encode_query(model, q_ids)
    return [score_ids(model, q_ids, trigrams(model, t, "t"), enc) for t in titles]


def loss_from_scores(ds, scale=1.0):
    """Step 7: sum over stages of -log softmax(-s d)[0] (positive first)."""
    d1 = torch.stack([x[0] for x in ds])
    d2 = torch.stack([x[1] for x in ds])
    return (-torch.log_softmax(-scale * d1, 0)[0]
            - torch.log_softmax(-scale * d2, 0)[0])


def loss(model, query, titles):
    """Loss of one training example; titles[0] is the positive."""
    return loss_from_scores(scores_all(model, query, titles),
                            model.config["logit_scale"])


def explanation(model, query, title):
    """G[i,k] = softmax_k A[i,k] for the L query trigrams x T title trigrams."""
    q_ids = trigrams(model, query, "q")
    t_ids = trigrams(model, title, "t")
    C, _ = encode_query(model, q_ids)
    P, _ = encode_title(model, t_ids)
    A = cross_attention(model, C[:len(q_ids)], P)
    return torch.softmax(A, 1)


# ---------------------------------------------------------------------------
# The loss of a batch, computed with batched tensors (the speed mode)
# ---------------------------------------------------------------------------

def encode_titles(model, t_lists):
    """Step 2 and 5 for many titles at once: P (N, T, d) padded, its log0,
    the mask of real trigrams (N, T) and the product points v (N, d).
    Padding repeats a title's first trigram and gets weight exactly 0 from
    the masked softmax, so it changes neither values nor gradients."""
    p, sp, c = model.params, model.space, model.space.c
    idx, mask = padded(t_lists)
    table = p["query_centre"] if model.config["tie_embeddings"] else p["title_point"]
    P = sp.exp0(rows(table, idx), c)
    logP = sp.log0(P, c)
    a = att_score(logP, p, "title_att").masked_fill(~mask, float("-inf"))
    v = sp.mean(torch.softmax(a, -1), P, c)
    return P, logP, mask, v


def padded(lists):
    """LongTensor (N, max len) of the lists, each padded with its first id,
    and the mask of real entries."""
    m = max(len(x) for x in lists)
    idx = torch.tensor([x + [x[0]] * (m - len(x)) for x in lists],
                       dtype=torch.long)
    lens = torch.tensor([len(x) for x in lists])
    return idx, torch.arange(m).unsqueeze(0) < lens.unsqueeze(1)


def encode_queries(model, q_lists):
    """Steps 2-3 for many queries at once: element centres C and limits Lam
    (B, E, d) with E = Lmax + Lmax(Lmax-1)/2 (the Lmax trigram slots, then
    the pairs i < j of encode_query's order), and the mask (B, E) of the
    elements that exist (both trigrams of a pair real)."""
    p, sp, c = model.params, model.space, model.space.c
    idx, mask = padded(q_lists)
    C = sp.exp0(rows(p["query_centre"], idx), c)                 # (B, L, d)
    if sp.zero_limits:
        Lam = torch.zeros_like(C)
    else:
        Lam = sp.exp0(softplus(rows(p["query_limit"], idx)), c)
    L = idx.shape[1]
    if L < 2:
        return C, Lam, mask
    I, J = torch.triu_indices(L, L, offset=1)
    a = att_score(sp.log0(C, c), p, "inter_att")                 # (B, L)
    w = torch.softmax(torch.stack([a[:, I], a[:, J]], -1), -1)   # (B, P, 2)
    Cij = sp.mean(w, torch.stack([C[:, I], C[:, J]], 2), c)      # (B, P, d)
    if sp.zero_limits:
        Lij = torch.zeros_like(Cij)
    else:
        H = torch.relu(sp.log0(Lam, c) @ p["inter_pre_W"].T + p["inter_pre_b"])
        shrink = torch.sigmoid(((H[:, I] + H[:, J]) / 2) @ p["inter_post_W"].T
                               + p["inter_post_b"])
        Lij = torch.minimum(Lam[:, I], Lam[:, J]) * shrink
    # I < J, so J real means the pair is
    pmask = mask[:, J]
    return (torch.cat([C, Cij], 1), torch.cat([Lam, Lij], 1),
            torch.cat([mask, pmask], 1))


def loss_batch(model, examples):
    """Summed loss (step 7) of examples [(q_ids, [t_ids of the positive,
    negatives...]), ...]: the sum of loss() over them, for examples with
    equal numbers of products, computed as a PyTorch user would for speed:
    the whole batch in padded tensors (queries to the longest query of the
    batch, titles to the longest title), padding masked out of every
    softmax, so that it gets weight exactly 0 and no gradient."""
    sp, c, p = model.space, model.space.c, model.params
    B, n = len(examples), len(examples[0][1])
    P, logP, tmask, v = encode_titles(model, [t for _, ts in examples for t in ts])
    T, d = P.shape[1], model.d
    C, Lam, emask = encode_queries(model, [q for q, _ in examples])
    logC = sp.log0(C, c)                                          # (B, E, d)
    s = att_score(logC, p, "query_att").masked_fill(~emask, float("-inf"))
    alpha = torch.softmax(s, -1)                                  # (B, E)
    c1 = sp.mean(alpha, C, c)                                     # (B, d)
    l1 = (alpha.unsqueeze(-1) * Lam).sum(1)
    # step 4: A (B, n, E, T), title padding at -inf
    X = logC @ p["cross_W"].T
    A = torch.einsum("bed,bntd->bnet", X, logP.view(B, n, T, d)) / math.sqrt(d)
    A = A.masked_fill(~tmask.view(B, n, 1, T), float("-inf"))
    beta = torch.softmax(s.unsqueeze(1) + torch.logsumexp(A, -1), -1)  # (B, n, E)
    c2 = sp.mean(beta, C.unsqueeze(1).expand(-1, n, -1, -1), c)   # (B, n, d)
    l2 = beta @ Lam
    V = v.view(B, n, d)
    d1 = box_distance(sp, V, c1.unsqueeze(1), l1.unsqueeze(1), model.gamma)
    d2 = box_distance(sp, V, c2, l2, model.gamma)                 # (B, n)
    scale = model.config["logit_scale"]
    return -(torch.log_softmax(-scale * d1, -1)[:, 0]
             + torch.log_softmax(-scale * d2, -1)[:, 0]).sum()
