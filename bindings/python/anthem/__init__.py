"""Python binding of libanthem: hyperbolic hyperboloid embeddings for
product retrieval.

A thin ctypes layer over the C API (include/anthem/anthem.h); no compiled
extension.  See docs/python.md in the libanthem checkout.

    import anthem
    model = anthem.Model.load("wordnet.model")
    index = anthem.Index.load("wordnet.index", model)
    for hit in index.search(model, "musical instrument", k=10):
        print(hit.product_id, hit.title, hit.distance)

Every failing call raises anthem.Error (or a subclass: NotFoundError,
FormatError, ChecksumError, ...) with .code, .name and .message.
"""

from . import _lib
from ._arrays import HAVE_NUMPY
from ._errors import (CanceledError, ChecksumError, Error, FormatError,
                      InputOutputError, InvalidArgumentError, MismatchError,
                      NotFoundError, OutOfMemoryError, RangeError, Status,
                      TruncatedError, VersionError, clear_error, last_error,
                      strerror)
from ._lib import LibraryNotFound
from .data import Catalog, Judgments, evaluate, evaluate_ranking
from .geometry import DEFAULT_GAMMA, Geometry, Hyperboloid, Vectors
from .model import Explanation, Model, default_config
from .search import Batch, Hit, Index, score
from .train import Progress, Trainer, default_options

#: The binding's version, equal to the library version it was written for
#: (a loaded library of another major version is refused at import).
__version__ = _lib.__version__

#: The path (or name) libanthem was loaded from.
library_path = _lib.path


def version():
    """The loaded library's version string (anthem_version_string)."""
    return _lib.version_string


def version_number():
    """The loaded library's MAJOR * 10000 + MINOR * 100 + PATCH."""
    return _lib.version_number


def max_dim():
    """The largest dimension any handle accepts (anthem_max_dim)."""
    return _lib.lib.anthem_max_dim()


__all__ = [
    "Error", "InvalidArgumentError", "OutOfMemoryError", "InputOutputError",
    "FormatError", "VersionError", "ChecksumError", "TruncatedError",
    "MismatchError", "RangeError", "NotFoundError", "CanceledError",
    "Status", "strerror", "last_error", "clear_error", "LibraryNotFound",
    "Geometry", "Vectors", "Hyperboloid", "DEFAULT_GAMMA",
    "Model", "Explanation", "default_config",
    "Catalog", "Judgments", "evaluate", "evaluate_ranking",
    "Index", "Hit", "Batch", "score",
    "Trainer", "Progress", "default_options",
    "HAVE_NUMPY", "library_path", "version", "version_number", "max_dim",
]
