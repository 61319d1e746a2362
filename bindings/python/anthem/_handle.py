"""The base of every class that wraps an opaque libanthem handle."""

import os
import weakref

from ._errors import Status, error


def encode(text, what):
    """UTF-8 bytes for a C string argument; NUL bytes are refused (C would
    silently cut the string there)."""
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(text, (bytes, bytearray)):
        data = bytes(text)
    else:
        raise error(Status.EINVAL, "%s must be a str, not %s"
                    % (what, type(text).__name__))
    if b"\0" in data:
        raise error(Status.EINVAL, "%s contains a NUL character" % what)
    return data


def encode_path(path, what="path"):
    try:
        data = os.fsencode(path)
    except TypeError:
        raise error(Status.EINVAL, "%s must be a str, bytes or os.PathLike, "
                    "not %s" % (what, type(path).__name__)) from None
    if b"\0" in data:
        raise error(Status.EINVAL, "%s contains a NUL character" % what)
    return data


def decode(data):
    return None if data is None else data.decode("utf-8", "replace")


def count_arg(value, what):
    """A non-negative int for a size_t argument (ctypes would silently wrap
    a negative one to a huge size)."""
    try:
        value = int(value.__index__())
    except (AttributeError, TypeError):
        raise error(Status.EINVAL, "%s must be an int, not %s"
                    % (what, type(value).__name__)) from None
    if value < 0:
        raise error(Status.ERANGE, "%s is %d, must be >= 0" % (what, value))
    return value


class Handle:
    """An owned or borrowed pointer to a library object.

    An owned handle is released by close(), by leaving a `with` block, or,
    as a backstop, when the object is garbage-collected.  A borrowed handle
    (a trainer's model, an index's vectors) keeps its owner alive and
    becomes unusable when the owner is closed (or, for a trainer's model,
    run again)."""

    _free = None          # the anthem_*_free function
    _kind = "handle"
    # class defaults, so that close() and __del__ work on an object whose
    # __init__ raised before Handle.__init__ ran
    _ptr = None
    _owner = None
    _views = frozenset()

    def __init__(self, ptr, owner=None):
        self._ptr = ptr
        self._owner = owner
        self._views = weakref.WeakSet()
        if owner is not None:
            owner._views.add(self)

    @property
    def _h(self):
        ptr = self._ptr
        if not ptr:
            raise error(Status.EINVAL, "this %s is closed" % self._kind)
        return ptr

    @property
    def closed(self):
        return not self._ptr

    def _invalidate_views(self):
        for view in list(self._views):
            view._ptr = None
            view._invalidate_views()
        self._views = weakref.WeakSet()

    def close(self):
        """Release the handle (a no-op when already closed).  Borrowed
        objects obtained from it become unusable."""
        ptr, self._ptr = self._ptr, None
        self._invalidate_views()
        if ptr and self._owner is None and self._free is not None:
            type(self)._free(ptr)
        self._owner = None

    def __enter__(self):
        self._h
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass
