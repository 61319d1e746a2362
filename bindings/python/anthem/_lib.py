"""The one place that finds libanthem.so and declares its C API to ctypes.

Every function of include/anthem/*.h is declared here with argtypes and
restype, under a comment that repeats its C prototype word for word
(tests/test_loader.py compares the comments with the headers, and the
names with lib/anthem.sym, so the two cannot drift apart silently).

The library is found in this order:
  1. the ANTHEM_LIBRARY environment variable (a file, or a directory that
     holds libanthem.so); if it is set, nothing else is tried;
  2. the build tree, only when this package is imported from a checkout
     (bindings/python/anthem, not an installed copy): build/lib/libanthem.so
     in any directory above it, so a checkout works with nothing installed;
  3. the directory `pkg-config --variable=libdir anthem` names (the prefix
     libanthem was installed to, e.g. /usr/local/lib, which the system
     loader may not search);
  4. the system loader: ctypes.util.find_library('anthem'), then
     'libanthem.so.0'.
"""

import ctypes
import ctypes.util
import os
import subprocess
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double,
                    c_float, c_int, c_size_t, c_uint, c_uint64, c_void_p)

from ._version import __version__

# The library version this binding was written against: the package's own
# version (anthem/_version.py, which pyproject.toml reads), kept equal to
# the library's (tests/install-test.sh compares it with pkg-config's).  A
# library of another major version is refused at import.  While the major
# version is 0 the minor version may also change the ABI (semantic
# versioning), so a 0.x library must also be at least 0.MINOR_REQUIRED.
MAJOR_REQUIRED, MINOR_REQUIRED = (int(x) for x in __version__.split(".")[:2])


class LibraryNotFound(ImportError):
    """libanthem.so could not be found or loaded, or has the wrong version."""


def _build_tree_candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    # Only from a checkout: an installed copy (site-packages of a venv that
    # happens to live inside a checkout) must not pick up a build tree.
    if not os.path.isfile(os.path.join(os.path.dirname(here),
                                       "pyproject.toml")):
        return
    seen = set()
    d = here
    while d not in seen:
        seen.add(d)
        yield os.path.join(d, "build", "lib", "libanthem.so")
        d = os.path.dirname(d)


def _pkg_config_libdir():
    """The libdir of anthem.pc, or None (no pkg-config, no anthem.pc)."""
    try:
        r = subprocess.run(["pkg-config", "--variable=libdir", "anthem"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    d = r.stdout.strip()
    return d if r.returncode == 0 and d else None


def _find_and_load():
    env = os.environ.get("ANTHEM_LIBRARY")
    if env:
        path = env
        if os.path.isdir(path):
            path = os.path.join(path, "libanthem.so")
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            raise LibraryNotFound(
                "ANTHEM_LIBRARY=%r: cannot load %s: %s" % (env, path, e)) from e
    tried = []
    for path in _build_tree_candidates():
        if os.path.exists(path):
            try:
                return ctypes.CDLL(path), path
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
    libdir = _pkg_config_libdir()
    if libdir:
        for name in ("libanthem.so", "libanthem.so.0"):
            path = os.path.join(libdir, name)
            if os.path.exists(path):
                try:
                    return ctypes.CDLL(path), path
                except OSError as e:
                    tried.append("%s (%s)" % (path, e))
                break
        else:
            tried.append("pkg-config's libdir %s (no libanthem.so)" % libdir)
    names = []
    found = ctypes.util.find_library("anthem")
    if found:
        names.append(found)
    names.append("libanthem.so.0")
    for name in names:
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
    raise LibraryNotFound(
        "libanthem.so not found: set ANTHEM_LIBRARY to its path, build the "
        "checkout (ninja -C build), or install the library (meson install; "
        "PKG_CONFIG_PATH finds its anthem.pc); tried: "
        + "; ".join(tried or ["nothing"]))


lib, path = _find_and_load()

# ---- opaque handles: typed pointers, so that passing a catalogue where a
# model is expected is a ctypes.ArgumentError, not a crash -----------------


class anthem_vectors(Structure):
    pass


class anthem_hyperboloid(Structure):
    pass


class anthem_model(Structure):
    pass


class anthem_explanation(Structure):
    pass


class anthem_catalog(Structure):
    pass


class anthem_judgments(Structure):
    pass


class anthem_trainer(Structure):
    pass


class anthem_index(Structure):
    pass


VectorsP = POINTER(anthem_vectors)
HyperboloidP = POINTER(anthem_hyperboloid)
ModelP = POINTER(anthem_model)
ExplanationP = POINTER(anthem_explanation)
CatalogP = POINTER(anthem_catalog)
JudgmentsP = POINTER(anthem_judgments)
TrainerP = POINTER(anthem_trainer)
IndexP = POINTER(anthem_index)

FloatP = POINTER(c_float)
SizeP = POINTER(c_size_t)

# ---- structs with struct_size: mirrors of the headers, field by field ------


class anthem_model_config(Structure):
    # include/anthem/model.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("geometry", c_int),              # anthem_geometry
        ("dim", c_size_t),
        ("curvature", c_float),
        ("buckets", c_size_t),
        ("gamma", c_float),
        ("seed", c_uint64),
        ("hash_seed", c_uint64),
        ("max_query_trigrams", c_size_t),
        ("max_title_trigrams", c_size_t),
        ("tie_embeddings", c_int),
        ("lexical_buckets", c_size_t),
        ("tokenizer", c_int),             # anthem_tokenizer
        ("title_buckets", c_size_t),
        ("product_token", c_int),
    ]


class anthem_train_progress(Structure):
    # include/anthem/train.h
    _fields_ = [
        ("epoch", c_size_t),
        ("epochs", c_size_t),
        ("step", c_size_t),
        ("steps", c_size_t),
        ("loss", c_double),
        ("valid_loss", c_double),
        ("examples_per_sec", c_double),
        ("epoch_done", c_int),
        ("stopped_early", c_int),
        ("lexical_weight", c_double),
    ]


# typedef int (*anthem_progress_fn)(const anthem_train_progress *p, void *user);
anthem_progress_fn = CFUNCTYPE(c_int, POINTER(anthem_train_progress), c_void_p)


# The data-parallel seam (docs/distributed.md): bound at this low level
# only, with no Trainer method yet (docs/python.md).
# int (*allreduce_sum)(float *buf, size_t n, void *user);
anthem_allreduce_fn = CFUNCTYPE(c_int, POINTER(c_float), c_size_t, c_void_p)
# int (*allgather)(const void *send, size_t len, void *recv, const size_t *lens, void *user);
anthem_allgather_fn = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p,
                                POINTER(c_size_t), c_void_p)


class anthem_train_comm(Structure):
    # include/anthem/train.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("user", c_void_p),
        ("rank", c_int),
        ("size", c_int),
        ("allreduce_sum", anthem_allreduce_fn),
        ("allgather", anthem_allgather_fn),
    ]


class anthem_train_options(Structure):
    # include/anthem/train.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("epochs", c_size_t),
        ("epoch_examples", c_size_t),
        ("batch", c_size_t),
        ("negatives", c_size_t),
        ("hard_negatives", c_size_t),
        ("hard_pool", c_size_t),
        ("lr", c_float),
        ("lr_decay", c_float),
        ("warmup", c_size_t),
        ("threads", c_size_t),
        ("seed", c_uint64),
        ("valid_frac", c_float),
        ("patience", c_size_t),
        ("checkpoint", c_char_p),
        ("progress", anthem_progress_fn),
        ("progress_user", c_void_p),
        ("logit_scale", c_float),
        ("pseudo_queries", c_size_t),
        ("float64_tables", c_int),
        ("riemannian_adam", c_int),
    ]


class anthem_category_options(Structure):
    # include/anthem/data.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("max_frac", c_float),
        ("test_frac", c_float),
        ("seed", c_uint64),
    ]


class anthem_metrics(Structure):
    # include/anthem/eval.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("ndcg3", c_double),
        ("ndcg5", c_double),
        ("ndcg10", c_double),
        ("map", c_double),
        ("mrr", c_double),
        ("queries", c_size_t),
        ("skipped", c_size_t),
        ("recall_k1", c_double),
        ("k1", c_size_t),
    ]


class anthem_eval_options(Structure):
    # include/anthem/eval.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("k1", c_size_t),
        ("threads", c_size_t),
        ("max_queries", c_size_t),
        ("index", IndexP),                # const struct anthem_index *
        ("stage1", c_int),
        ("ef", c_size_t),
        ("stage2_elements", c_size_t),
        ("prefilter", c_size_t),
    ]


class anthem_hit(Structure):
    # include/anthem/search.h
    _fields_ = [
        ("index", c_size_t),
        ("distance", c_float),
    ]


class anthem_search_options(Structure):
    # include/anthem/search.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("k", c_size_t),
        ("k1", c_size_t),
        ("threads", c_size_t),
        ("and_queries", POINTER(c_char_p)),   # const char *const *
        ("n_and", c_size_t),
        ("or_queries", POINTER(c_char_p)),    # const char *const *
        ("n_or", c_size_t),
        ("allow", SizeP),                     # const size_t *
        ("n_allow", c_size_t),
        ("allow_bits", POINTER(c_uint64)),    # const uint64_t *
        ("stage1_only", c_int),
        ("cancel", POINTER(c_int)),           # const volatile int *
        ("timeout_ms", c_uint64),
        ("stage1", c_int),
        ("ef", c_size_t),
        ("stage2_elements", c_size_t),
        ("prefilter", c_size_t),
    ]


# void (*ann_progress)(size_t done, size_t total, void *user);
anthem_ann_progress_fn = CFUNCTYPE(None, c_size_t, c_size_t, c_void_p)


class anthem_index_options(Structure):
    # include/anthem/search.h
    _fields_ = [
        ("struct_size", c_size_t),
        ("threads", c_size_t),
        ("ann", c_int),
        ("ann_degree", c_size_t),
        ("ann_ef", c_size_t),
        ("ann_seed", c_uint64),
        ("points", c_int),                # anthem_point_format
        ("ann_progress", anthem_ann_progress_fn),
        ("ann_progress_user", c_void_p),
    ]


# ---- functions ----------------------------------------------------------------

PROTOTYPES = {}


def _proto(name, restype, *argtypes):
    try:
        fn = getattr(lib, name)
    except AttributeError:
        # a library built before this function existed (same version
        # number while the API of 0.1 is still moving)
        raise LibraryNotFound("%s has no %s: the library is older than this "
                              "binding (rebuild it)" % (path, name)) from None
    fn.restype = restype
    fn.argtypes = list(argtypes)
    PROTOTYPES[name] = fn
    return fn


# common.h

# size_t anthem_max_dim(void);
_proto("anthem_max_dim", c_size_t)

# error.h

# const char *anthem_strerror(int status);
_proto("anthem_strerror", c_char_p, c_int)
# const char *anthem_last_error(void);
_proto("anthem_last_error", c_char_p)
# void anthem_clear_error(void);
_proto("anthem_clear_error", None)

# version.h

# unsigned anthem_version_number(void);
_proto("anthem_version_number", c_uint)
# const char *anthem_version_string(void);
_proto("anthem_version_string", c_char_p)

# vectors.h

# int anthem_vectors_copy(anthem_vectors **out, size_t count, size_t dim, const float *data);
_proto("anthem_vectors_copy", c_int, POINTER(VectorsP), c_size_t, c_size_t, FloatP)
# int anthem_vectors_wrap(anthem_vectors **out, size_t count, size_t dim, const float *data);
_proto("anthem_vectors_wrap", c_int, POINTER(VectorsP), c_size_t, c_size_t, FloatP)
# void anthem_vectors_free(anthem_vectors *v);
_proto("anthem_vectors_free", None, VectorsP)
# size_t anthem_vectors_count(const anthem_vectors *v);
_proto("anthem_vectors_count", c_size_t, VectorsP)
# size_t anthem_vectors_dim(const anthem_vectors *v);
_proto("anthem_vectors_dim", c_size_t, VectorsP)
# const float *anthem_vectors_data(const anthem_vectors *v);
_proto("anthem_vectors_data", FloatP, VectorsP)

# hyperboloid.h

# int anthem_hyperboloid_create(anthem_hyperboloid **out, anthem_geometry geometry, float curvature, size_t dim, const float *centre, const float *limit);
_proto("anthem_hyperboloid_create", c_int, POINTER(HyperboloidP), c_int,
       c_float, c_size_t, FloatP, FloatP)
# void anthem_hyperboloid_free(anthem_hyperboloid *h);
_proto("anthem_hyperboloid_free", None, HyperboloidP)
# size_t anthem_hyperboloid_dim(const anthem_hyperboloid *h);
_proto("anthem_hyperboloid_dim", c_size_t, HyperboloidP)
# anthem_geometry anthem_hyperboloid_geometry(const anthem_hyperboloid *h);
_proto("anthem_hyperboloid_geometry", c_int, HyperboloidP)
# float anthem_hyperboloid_curvature(const anthem_hyperboloid *h);
_proto("anthem_hyperboloid_curvature", c_float, HyperboloidP)
# size_t anthem_hyperboloid_branch_count(const anthem_hyperboloid *h);
_proto("anthem_hyperboloid_branch_count", c_size_t, HyperboloidP)
# size_t anthem_hyperboloid_term_count(const anthem_hyperboloid *h, size_t branch);
_proto("anthem_hyperboloid_term_count", c_size_t, HyperboloidP, c_size_t)
# int anthem_hyperboloid_get(const anthem_hyperboloid *h, size_t branch, size_t term, float *centre, float *limit);
_proto("anthem_hyperboloid_get", c_int, HyperboloidP, c_size_t, c_size_t,
       FloatP, FloatP)
# int anthem_hyperboloid_intersect(anthem_hyperboloid **out, const anthem_hyperboloid *a, const anthem_hyperboloid *b);
_proto("anthem_hyperboloid_intersect", c_int, POINTER(HyperboloidP),
       HyperboloidP, HyperboloidP)
# int anthem_hyperboloid_union(anthem_hyperboloid **out, const anthem_hyperboloid *a, const anthem_hyperboloid *b);
_proto("anthem_hyperboloid_union", c_int, POINTER(HyperboloidP),
       HyperboloidP, HyperboloidP)
# int anthem_hyperboloid_distance(const anthem_hyperboloid *h, const float *point, size_t dim, float gamma, float *out);
_proto("anthem_hyperboloid_distance", c_int, HyperboloidP, FloatP, c_size_t,
       c_float, FloatP)
# int anthem_hyperboloid_distances(const anthem_hyperboloid *h, const anthem_vectors *points, float gamma, float *out);
_proto("anthem_hyperboloid_distances", c_int, HyperboloidP, VectorsP, c_float,
       FloatP)
# int anthem_hyperboloid_contains(const anthem_hyperboloid *h, const float *point, size_t dim, int *inside);
_proto("anthem_hyperboloid_contains", c_int, HyperboloidP, FloatP, c_size_t,
       POINTER(c_int))

# model.h

# int anthem_model_config_init_size(anthem_model_config *cfg, size_t size);
_proto("anthem_model_config_init_size", c_int, POINTER(anthem_model_config), c_size_t)
# int anthem_model_create(anthem_model **out, const anthem_model_config *cfg);
_proto("anthem_model_create", c_int, POINTER(ModelP),
       POINTER(anthem_model_config))
# void anthem_model_free(anthem_model *m);
_proto("anthem_model_free", None, ModelP)
# int anthem_model_get_config(const anthem_model *m, anthem_model_config *cfg);
_proto("anthem_model_get_config", c_int, ModelP, POINTER(anthem_model_config))
# size_t anthem_model_dim(const anthem_model *m);
_proto("anthem_model_dim", c_size_t, ModelP)
# float anthem_model_gamma(const anthem_model *m);
_proto("anthem_model_gamma", c_float, ModelP)
# float anthem_model_lexical_weight(const anthem_model *m);
_proto("anthem_model_lexical_weight", c_float, ModelP)
# anthem_geometry anthem_model_geometry(const anthem_model *m);
_proto("anthem_model_geometry", c_int, ModelP)
# int anthem_model_score(const anthem_model *m, const char *query, const char *title, float *distance);
_proto("anthem_model_score", c_int, ModelP, c_char_p, c_char_p, FloatP)
# int anthem_model_embed_query(const anthem_model *m, const char *query, anthem_hyperboloid **out);
_proto("anthem_model_embed_query", c_int, ModelP, c_char_p,
       POINTER(HyperboloidP))
# int anthem_model_embed_products(const anthem_model *m, const char *const *titles, size_t n, float *out);
_proto("anthem_model_embed_products", c_int, ModelP, POINTER(c_char_p),
       c_size_t, FloatP)
# int anthem_model_explain(const anthem_model *m, const char *query, const char *title, anthem_explanation **out);
_proto("anthem_model_explain", c_int, ModelP, c_char_p, c_char_p,
       POINTER(ExplanationP))
# void anthem_explanation_free(anthem_explanation *e);
_proto("anthem_explanation_free", None, ExplanationP)
# size_t anthem_explanation_rows(const anthem_explanation *e);
_proto("anthem_explanation_rows", c_size_t, ExplanationP)
# size_t anthem_explanation_cols(const anthem_explanation *e);
_proto("anthem_explanation_cols", c_size_t, ExplanationP)
# const char *anthem_explanation_row_label(const anthem_explanation *e, size_t row);
_proto("anthem_explanation_row_label", c_char_p, ExplanationP, c_size_t)
# const char *anthem_explanation_col_label(const anthem_explanation *e, size_t col);
_proto("anthem_explanation_col_label", c_char_p, ExplanationP, c_size_t)
# const float *anthem_explanation_weights(const anthem_explanation *e);
_proto("anthem_explanation_weights", FloatP, ExplanationP)
# float anthem_explanation_distance(const anthem_explanation *e);
_proto("anthem_explanation_distance", c_float, ExplanationP)

# io.h

# int anthem_model_load(anthem_model **out, const char *path);
_proto("anthem_model_load", c_int, POINTER(ModelP), c_char_p)
# int anthem_model_load_buffer(anthem_model **out, const void *buf, size_t len);
_proto("anthem_model_load_buffer", c_int, POINTER(ModelP), c_void_p, c_size_t)
# int anthem_model_save(const anthem_model *m, const char *path);
_proto("anthem_model_save", c_int, ModelP, c_char_p)
# int anthem_model_read_config(const char *path, anthem_model_config *cfg);
_proto("anthem_model_read_config", c_int, c_char_p,
       POINTER(anthem_model_config))
# uint64_t anthem_model_fingerprint(const anthem_model *m);
_proto("anthem_model_fingerprint", c_uint64, ModelP)
# int anthem_model_is_mapped(const anthem_model *m);
_proto("anthem_model_is_mapped", c_int, ModelP)

# data.h

# int anthem_catalog_load(anthem_catalog **out, const char *path, unsigned flags);
_proto("anthem_catalog_load", c_int, POINTER(CatalogP), c_char_p, c_uint)
# void anthem_catalog_free(anthem_catalog *c);
_proto("anthem_catalog_free", None, CatalogP)
# size_t anthem_catalog_count(const anthem_catalog *c);
_proto("anthem_catalog_count", c_size_t, CatalogP)
# const char *anthem_catalog_id(const anthem_catalog *c, size_t i);
_proto("anthem_catalog_id", c_char_p, CatalogP, c_size_t)
# const char *anthem_catalog_title(const anthem_catalog *c, size_t i);
_proto("anthem_catalog_title", c_char_p, CatalogP, c_size_t)
# int anthem_catalog_find(const anthem_catalog *c, const char *id, size_t *index);
_proto("anthem_catalog_find", c_int, CatalogP, c_char_p, SizeP)
# size_t anthem_catalog_skipped(const anthem_catalog *c);
_proto("anthem_catalog_skipped", c_size_t, CatalogP)
# int anthem_judgments_load(anthem_judgments **out, const char *path, const anthem_catalog *c, unsigned flags);
_proto("anthem_judgments_load", c_int, POINTER(JudgmentsP), c_char_p,
       CatalogP, c_uint)
# void anthem_judgments_free(anthem_judgments *j);
_proto("anthem_judgments_free", None, JudgmentsP)
# size_t anthem_judgments_query_count(const anthem_judgments *j);
_proto("anthem_judgments_query_count", c_size_t, JudgmentsP)
# const char *anthem_judgments_query(const anthem_judgments *j, size_t q);
_proto("anthem_judgments_query", c_char_p, JudgmentsP, c_size_t)
# int anthem_judgments_get(const anthem_judgments *j, size_t q, const size_t **products, const int **grades, size_t *n);
_proto("anthem_judgments_get", c_int, JudgmentsP, c_size_t, POINTER(SizeP),
       POINTER(POINTER(c_int)), SizeP)
# size_t anthem_judgments_skipped(const anthem_judgments *j);
_proto("anthem_judgments_skipped", c_size_t, JudgmentsP)
# const char *anthem_catalog_categories(const anthem_catalog *c, size_t i);
_proto("anthem_catalog_categories", c_char_p, CatalogP, c_size_t)
# size_t anthem_catalog_categorised(const anthem_catalog *c);
_proto("anthem_catalog_categorised", c_size_t, CatalogP)
# size_t anthem_judgments_count(const anthem_judgments *j);
_proto("anthem_judgments_count", c_size_t, JudgmentsP)
# int anthem_judgments_save(const anthem_judgments *j, const char *path);
_proto("anthem_judgments_save", c_int, JudgmentsP, c_char_p)
# int anthem_category_options_init_size(anthem_category_options *o, size_t size);
_proto("anthem_category_options_init_size", c_int,
       POINTER(anthem_category_options), c_size_t)
# int anthem_judgments_from_categories(anthem_judgments **train, anthem_judgments **test, const anthem_catalog *c, const anthem_category_options *o);
_proto("anthem_judgments_from_categories", c_int, POINTER(JudgmentsP),
       POINTER(JudgmentsP), CatalogP, POINTER(anthem_category_options))

# eval.h

# int anthem_metrics_init_size(anthem_metrics *m, size_t size);
_proto("anthem_metrics_init_size", c_int, POINTER(anthem_metrics), c_size_t)
# int anthem_eval_options_init_size(anthem_eval_options *o, size_t size);
_proto("anthem_eval_options_init_size", c_int, POINTER(anthem_eval_options), c_size_t)
# int anthem_evaluate(const anthem_model *m, const anthem_catalog *c, const anthem_judgments *j, const anthem_eval_options *o, anthem_metrics *out);
_proto("anthem_evaluate", c_int, ModelP, CatalogP, JudgmentsP,
       POINTER(anthem_eval_options), POINTER(anthem_metrics))
# int anthem_evaluate_ranking(const char *path, const anthem_catalog *c, const anthem_judgments *j, anthem_metrics *out);
_proto("anthem_evaluate_ranking", c_int, c_char_p, CatalogP, JudgmentsP,
       POINTER(anthem_metrics))

# train.h

# int anthem_train_options_init_size(anthem_train_options *o, size_t size);
_proto("anthem_train_options_init_size", c_int, POINTER(anthem_train_options), c_size_t)
# int anthem_trainer_create(anthem_trainer **out, const anthem_model_config *cfg, const anthem_catalog *c, const anthem_judgments *j, const anthem_train_options *o);
_proto("anthem_trainer_create", c_int, POINTER(TrainerP),
       POINTER(anthem_model_config), CatalogP, JudgmentsP,
       POINTER(anthem_train_options))
# int anthem_trainer_resume(anthem_trainer **out, const char *checkpoint, const anthem_catalog *c, const anthem_judgments *j, const anthem_train_options *o);
_proto("anthem_trainer_resume", c_int, POINTER(TrainerP), c_char_p, CatalogP,
       JudgmentsP, POINTER(anthem_train_options))
# int anthem_trainer_run(anthem_trainer *t);
_proto("anthem_trainer_run", c_int, TrainerP)
# const anthem_model *anthem_trainer_model(const anthem_trainer *t);
_proto("anthem_trainer_model", ModelP, TrainerP)
# size_t anthem_trainer_epoch(const anthem_trainer *t);
_proto("anthem_trainer_epoch", c_size_t, TrainerP)
# int anthem_trainer_checkpoint(const anthem_trainer *t, const char *path);
_proto("anthem_trainer_checkpoint", c_int, TrainerP, c_char_p)
# int anthem_trainer_set_comm(anthem_trainer *t, const anthem_train_comm *comm);
_proto("anthem_trainer_set_comm", c_int, TrainerP, POINTER(anthem_train_comm))
# void anthem_trainer_free(anthem_trainer *t);
_proto("anthem_trainer_free", None, TrainerP)

# search.h

# int anthem_index_build(anthem_index **out, const anthem_model *m, const anthem_catalog *c, size_t threads);
_proto("anthem_index_build", c_int, POINTER(IndexP), ModelP, CatalogP,
       c_size_t)
# int anthem_index_options_init_size(anthem_index_options *o, size_t size);
_proto("anthem_index_options_init_size", c_int, POINTER(anthem_index_options),
       c_size_t)
# int anthem_index_build_ex(anthem_index **out, const anthem_model *m, const anthem_catalog *c, const anthem_index_options *o);
_proto("anthem_index_build_ex", c_int, POINTER(IndexP), ModelP, CatalogP,
       POINTER(anthem_index_options))
# int anthem_index_has_ann(const anthem_index *ix);
_proto("anthem_index_has_ann", c_int, IndexP)
# int anthem_index_points(const anthem_index *ix);
_proto("anthem_index_points", c_int, IndexP)
# int anthem_index_ann_params(const anthem_index *ix, size_t *degree,
#                             size_t *ef_construction, uint64_t *seed);
_proto("anthem_index_ann_params", c_int, IndexP, SizeP, SizeP,
       POINTER(c_uint64))
# unsigned anthem_index_format_version(const anthem_index *ix);
_proto("anthem_index_format_version", c_uint, IndexP)
# int anthem_index_save(const anthem_index *ix, const char *path);
_proto("anthem_index_save", c_int, IndexP, c_char_p)
# int anthem_index_load(anthem_index **out, const char *path, const anthem_model *m);
_proto("anthem_index_load", c_int, POINTER(IndexP), c_char_p, ModelP)
# void anthem_index_free(anthem_index *ix);
_proto("anthem_index_free", None, IndexP)
# size_t anthem_index_count(const anthem_index *ix);
_proto("anthem_index_count", c_size_t, IndexP)
# size_t anthem_index_dim(const anthem_index *ix);
_proto("anthem_index_dim", c_size_t, IndexP)
# const char *anthem_index_id(const anthem_index *ix, size_t i);
_proto("anthem_index_id", c_char_p, IndexP, c_size_t)
# const char *anthem_index_title(const anthem_index *ix, size_t i);
_proto("anthem_index_title", c_char_p, IndexP, c_size_t)
# const anthem_vectors *anthem_index_vectors(const anthem_index *ix);
_proto("anthem_index_vectors", VectorsP, IndexP)
# uint64_t anthem_index_model_fingerprint(const anthem_index *ix);
_proto("anthem_index_model_fingerprint", c_uint64, IndexP)
# int anthem_index_scan(const anthem_index *ix, const anthem_hyperboloid *h, float gamma, size_t k, anthem_hit *out, size_t *n);
_proto("anthem_index_scan", c_int, IndexP, HyperboloidP, c_float, c_size_t,
       POINTER(anthem_hit), SizeP)
# int anthem_index_scan_threads(const anthem_index *ix, const anthem_hyperboloid *h, float gamma, size_t k, size_t threads, anthem_hit *out, size_t *n);
_proto("anthem_index_scan_threads", c_int, IndexP, HyperboloidP, c_float,
       c_size_t, c_size_t, POINTER(anthem_hit), SizeP)
# int anthem_search_options_init_size(anthem_search_options *o, size_t size);
_proto("anthem_search_options_init_size", c_int,
       POINTER(anthem_search_options), c_size_t)
# int anthem_search_ex(const anthem_model *m, const anthem_index *ix, const char *query, const anthem_search_options *opts, anthem_hit *out, size_t *n);
_proto("anthem_search_ex", c_int, ModelP, IndexP, c_char_p,
       POINTER(anthem_search_options), POINTER(anthem_hit), SizeP)
# int anthem_search_batch(const anthem_model *m, const anthem_index *ix, const char *const *queries, size_t nq, const anthem_search_options *opts, anthem_hit *out, size_t *counts);
_proto("anthem_search_batch", c_int, ModelP, IndexP, POINTER(c_char_p),
       c_size_t, POINTER(anthem_search_options), POINTER(anthem_hit), SizeP)
# int anthem_search(const anthem_model *m, const anthem_index *ix, const char *query, size_t k, size_t k1, anthem_hit *out, size_t *n);
_proto("anthem_search", c_int, ModelP, IndexP, c_char_p, c_size_t, c_size_t,
       POINTER(anthem_hit), SizeP)
# int anthem_index_find(const anthem_index *ix, const char *product_id, size_t *pos);
_proto("anthem_index_find", c_int, IndexP, c_char_p, SizeP)
# int anthem_rerank(const anthem_model *m, const anthem_index *ix, const char *query, const size_t *positions, size_t n, anthem_hit *out);
_proto("anthem_rerank", c_int, ModelP, IndexP, c_char_p, SizeP, c_size_t,
       POINTER(anthem_hit))
# int anthem_rerank_ids(const anthem_model *m, const anthem_index *ix, const char *query, const char *const *ids, size_t n, anthem_hit *out, size_t *n_out);
_proto("anthem_rerank_ids", c_int, ModelP, IndexP, c_char_p, POINTER(c_char_p),
       c_size_t, POINTER(anthem_hit), SizeP)
# int anthem_score(const anthem_model *m, const anthem_index *ix, const char *query, const size_t *candidates, size_t n, float *distances);
_proto("anthem_score", c_int, ModelP, IndexP, c_char_p, SizeP, c_size_t,
       FloatP)


# ---- version check ------------------------------------------------------------

version_number = lib.anthem_version_number()
version_string = lib.anthem_version_string().decode("ascii", "replace")
_major, _minor = version_number // 10000, version_number // 100 % 100
if _major != MAJOR_REQUIRED or (_major == 0 and _minor < MINOR_REQUIRED):
    raise LibraryNotFound(
        "%s is libanthem %s; this binding was written for %d.%d (same major "
        "version%s)" % (path, version_string, MAJOR_REQUIRED, MINOR_REQUIRED,
                        ", minor at least %d while the major version is 0"
                        % MINOR_REQUIRED if MAJOR_REQUIRED == 0 else ""))


# ---- struct_size checks and the *_init calls ---------------------------------
#
# anthem_*_init_size(p, size) writes the library's defaults into at most
# size bytes at p and sets struct_size to how much it wrote; the library
# reads no more of the struct than struct_size says.  Each mirror is checked
# once against the library: a probe into a padded buffer tells the size of
# the library's struct, and a library whose struct is smaller than the
# mirror (older than the headers) is refused; a larger one (newer) is fine.

_PAD = 512


def _padded(struct_type):
    return type("_padded_" + struct_type.__name__, (Structure,), {
        "_fields_": [("s", struct_type), ("_pad", ctypes.c_char * _PAD)]})


# the size of each struct in the library, by struct type (from the probe)
LIB_STRUCT_SIZE = {}


def init_struct(struct_type, init_fn):
    """A struct of struct_type filled with the library's defaults by
    init_fn, with struct_size set to this binding's size of it."""
    ours = ctypes.sizeof(struct_type)
    if struct_type not in LIB_STRUCT_SIZE:
        probe = _padded(struct_type)()
        if init_fn(ctypes.byref(probe.s), ours + _PAD) != 0:
            raise LibraryNotFound("%s: %s_init_size failed"
                                  % (path, struct_type.__name__))
        lib_size = LIB_STRUCT_SIZE[struct_type] = probe.s.struct_size
        if lib_size < ours or lib_size >= ours + _PAD:
            raise LibraryNotFound(
                "%s: %s has struct_size %d in the library, %d in this binding "
                "(library and binding versions do not match)"
                % (path, struct_type.__name__, lib_size, ours))
    s = struct_type()
    init_fn(ctypes.byref(s), ours)  # cannot fail: ours >= lib_size > 0
    return s


def model_config():
    return init_struct(anthem_model_config, lib.anthem_model_config_init_size)


def train_options():
    return init_struct(anthem_train_options, lib.anthem_train_options_init_size)


def category_options():
    return init_struct(anthem_category_options,
                       lib.anthem_category_options_init_size)


def eval_options():
    return init_struct(anthem_eval_options, lib.anthem_eval_options_init_size)


def metrics():
    return init_struct(anthem_metrics, lib.anthem_metrics_init_size)


def search_options():
    return init_struct(anthem_search_options,
                       lib.anthem_search_options_init_size)


def index_options():
    return init_struct(anthem_index_options,
                       lib.anthem_index_options_init_size)


# Check every mirror against the library once, at import.
for _f in (model_config, train_options, eval_options, metrics,
           search_options, index_options):
    _f()
del _f
