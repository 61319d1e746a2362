"""The ANTHEM network (anthem_model) and its explanations."""

import ctypes
from ctypes import byref, c_char_p, c_float

from . import _arrays, _lib
from ._errors import Status, check, error
from ._handle import Handle, count_arg, encode, encode_path, int_arg
from ._lib import ExplanationP, HyperboloidP, ModelP, lib
from .geometry import Geometry, _hyperboloid, geometry_arg

# The fields of anthem_model_config a caller may set, in header order.
CONFIG_FIELDS = tuple(name for name, _ in _lib.anthem_model_config._fields_
                      if name != "struct_size")


_UNSIGNED = frozenset(
    name for name, ctype in _lib.anthem_model_config._fields_
    if ctype in (ctypes.c_size_t, ctypes.c_uint64))
_INT = frozenset(
    name for name, ctype in _lib.anthem_model_config._fields_
    if ctype is ctypes.c_int)


# anthem_tokenizer by value (docs/network.md, step 1)
TOKENIZERS = ("bytes-v1", "unicode-v1")


def make_config(config=None, **fields):
    """An anthem_model_config: anthem_model_config_init's defaults, then
    the entries of the dict `config`, then the keyword fields."""
    values = dict(config or {})
    values.update(fields)
    cfg = _lib.model_config()
    for key, value in values.items():
        if key not in CONFIG_FIELDS:
            raise error(Status.EINVAL, "unknown model config field %r "
                        "(known: %s)" % (key, ", ".join(CONFIG_FIELDS)))
        if key == "geometry":
            value = geometry_arg(value)
        elif key == "tokenizer" and isinstance(value, str):
            if value not in TOKENIZERS:
                raise error(Status.EINVAL, "tokenizer %r is not one of %s"
                            % (value, ", ".join(TOKENIZERS)))
            value = TOKENIZERS.index(value)
        elif key in _UNSIGNED:
            value = count_arg(value, key)
        elif key in _INT:
            value = int_arg(value, key)
        try:
            setattr(cfg, key, value)
        except TypeError as e:
            raise error(Status.EINVAL, "model config field %r: %s"
                        % (key, e)) from None
    return cfg


def config_dict(cfg):
    """A model config struct as a dict of its fields."""
    d = {name: getattr(cfg, name) for name in CONFIG_FIELDS}
    d["geometry"] = geometry_arg(d["geometry"])
    d["tie_embeddings"] = bool(d["tie_embeddings"])
    t = d["tokenizer"]
    d["tokenizer"] = TOKENIZERS[t] if 0 <= t < len(TOKENIZERS) else t
    return d


def default_config():
    """anthem_model_config_init's defaults as a dict."""
    return config_dict(_lib.model_config())


class Explanation:
    """The attention grid of a (query, title) pair (anthem_explanation),
    copied out of the library: rows are query trigrams, cols title
    trigrams, weights[row][col] the attention (each row sums to 1)."""

    __slots__ = ("rows", "cols", "weights", "distance")

    def __init__(self, rows, cols, weights, distance):
        self.rows = rows
        self.cols = cols
        self.weights = weights
        self.distance = distance

    def __repr__(self):
        return "<anthem.Explanation %d x %d distance=%g>" % (
            len(self.rows), len(self.cols), self.distance)


def _label(raw):
    # a unicode-v1 trigram is three whole characters; a bytes-v1 one may
    # hold part of a UTF-8 character (docs/network.md, step 1)
    return raw.decode("utf-8", "backslashreplace")


class Model(Handle):
    """An ANTHEM model: configuration and weights.

    Model(config=None, **fields) creates one with fresh weights from
    anthem_model_config_init's defaults, a dict and/or keyword fields
    (geometry, dim, curvature, buckets, gamma, seed, hash_seed,
    max_query_trigrams, max_title_trigrams, tie_embeddings,
    lexical_buckets, tokenizer: "unicode-v1" (default) or "bytes-v1").
    Model.load(path) and Model.load_buffer(data) read a model file.
    """

    _free = lib.anthem_model_free
    _kind = "Model"

    def __init__(self, config=None, **fields):
        cfg = make_config(config, **fields)
        out = ModelP()
        check(lib.anthem_model_create(byref(out), byref(cfg)))
        super().__init__(out)

    @classmethod
    def _wrap(cls, ptr, owner=None):
        m = cls.__new__(cls)
        Handle.__init__(m, ptr, owner)
        return m

    @classmethod
    def load(cls, path):
        """Load a .anthem model file (mapped, weights used in place)."""
        out = ModelP()
        check(lib.anthem_model_load(byref(out), encode_path(path)))
        return cls._wrap(out)

    @classmethod
    def load_buffer(cls, data):
        """Load a model from the bytes of a model file (copied)."""
        data = bytes(data)
        out = ModelP()
        check(lib.anthem_model_load_buffer(byref(out), data, len(data)))
        return cls._wrap(out)

    @staticmethod
    def read_config(path):
        """The configuration of a model file, without reading its weights
        (the checksum is not verified)."""
        cfg = _lib.model_config()
        check(lib.anthem_model_read_config(encode_path(path), byref(cfg)))
        return config_dict(cfg)

    def save(self, path):
        """Write the model file atomically."""
        check(lib.anthem_model_save(self._h, encode_path(path)))

    @property
    def config(self):
        """The configuration as a dict."""
        cfg = _lib.model_config()
        check(lib.anthem_model_get_config(self._h, byref(cfg)))
        return config_dict(cfg)

    def info(self):
        """The configuration plus what identifies the model: fingerprint
        (checksum of its file, 0 if created), mapped (weights used in place
        from a file), library version."""
        d = self.config
        d["fingerprint"] = self.fingerprint
        d["mapped"] = self.is_mapped
        d["library_version"] = _lib.version_string
        return d

    @property
    def dim(self):
        """Embedding dimension of the model."""
        return lib.anthem_model_dim(self._h)

    @property
    def geometry(self):
        """The model's Geometry (hyperbolic, euclidean or vector)."""
        return geometry_arg(lib.anthem_model_geometry(self._h))

    @property
    def gamma(self):
        return self.config["gamma"]

    @property
    def fingerprint(self):
        """The model file's 64-bit fingerprint; an index records the fingerprint
        of the model that built it."""
        return lib.anthem_model_fingerprint(self._h)

    @property
    def gamma(self):
        """The inside weight of the distance (what scans use)."""
        return lib.anthem_model_gamma(self._h)

    @property
    def lexical_weight(self):
        """w of the lexical term (docs/network.md step 8); NaN without it."""
        return lib.anthem_model_lexical_weight(self._h)

    @property
    def is_mapped(self):
        """True when the weights are used in place from a mapped file (load),
        False when they were copied or created."""
        return bool(lib.anthem_model_is_mapped(self._h))

    def score(self, query, title):
        """Distance of a product title to a query with the full model
        (stage 2); smaller is better."""
        out = c_float()
        check(lib.anthem_model_score(self._h, encode(query, "query"),
                                     encode(title, "title"), byref(out)))
        return out.value

    def embed_query(self, query):
        """The stage-1 Hyperboloid of a query."""
        h = self._h
        out = HyperboloidP()
        check(lib.anthem_model_embed_query(h, encode(query, "query"),
                                           byref(out)))
        cfg = _lib.model_config()
        check(lib.anthem_model_get_config(h, byref(cfg)))
        return _hyperboloid(out, cfg.gamma)

    def embed_products(self, titles):
        """Product points of titles: len(titles) x dim floats."""
        h = self._h
        if isinstance(titles, (str, bytes)):
            raise error(Status.EINVAL, "titles must be a sequence of "
                        "strings, not one string")
        enc = [encode(t, "titles[%d]" % i) for i, t in enumerate(titles)]
        n, d = len(enc), lib.anthem_model_dim(h)
        arr = (c_char_p * max(n, 1))(*enc)
        out, ptr = _arrays.empty(n, d)
        check(lib.anthem_model_embed_products(h, arr, n, ptr))
        return _arrays.result(out, n, d)

    def explain(self, query, title):
        """The attention grid of a (query, title) pair: an Explanation."""
        out = ExplanationP()
        check(lib.anthem_model_explain(self._h, encode(query, "query"),
                                       encode(title, "title"), byref(out)))
        try:
            r = lib.anthem_explanation_rows(out)
            c = lib.anthem_explanation_cols(out)
            rows = [_label(lib.anthem_explanation_row_label(out, i))
                    for i in range(r)]
            cols = [_label(lib.anthem_explanation_col_label(out, j))
                    for j in range(c)]
            weights = _arrays.copy_out(lib.anthem_explanation_weights(out),
                                       r, c)
            distance = lib.anthem_explanation_distance(out)
        finally:
            lib.anthem_explanation_free(out)
        return Explanation(rows, cols, weights, distance)

    def __repr__(self):
        if self.closed:
            return "<anthem.Model closed>"
        g = self.geometry
        return "<anthem.Model %s dim=%d>" % (
            g.name.lower() if isinstance(g, Geometry) else g, self.dim)


__all__ = ["Model", "Explanation", "default_config", "CONFIG_FIELDS"]
