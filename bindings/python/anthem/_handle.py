"""The base of every class that wraps an opaque libanthem handle."""

import ctypes
import os
import threading
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


SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


def count_arg(value, what, limit=SIZE_MAX):
    """A non-negative int for a size_t (or uint64_t) argument: ctypes would
    silently wrap a negative one to a huge size, and one past the type's
    range (2**64) to a small one (position 0, dim 0)."""
    try:
        value = int(value.__index__())
    except (AttributeError, TypeError):
        raise error(Status.EINVAL, "%s must be an int, not %s"
                    % (what, type(value).__name__)) from None
    if value < 0:
        raise error(Status.ERANGE, "%s is %d, must be >= 0" % (what, value))
    if value > limit:
        raise error(Status.ERANGE, "%s is %d, must be at most %d"
                    % (what, value, limit))
    return value


def int_arg(value, what):
    """An int for a C int argument, refused outside its range (ctypes
    would keep the low 32 bits)."""
    try:
        value = int(value.__index__())
    except (AttributeError, TypeError):
        raise error(Status.EINVAL, "%s must be an int, not %s"
                    % (what, type(value).__name__)) from None
    if not INT_MIN <= value <= INT_MAX:
        raise error(Status.ERANGE, "%s is %d, must be %d to %d"
                    % (what, value, INT_MIN, INT_MAX))
    return value


# Guards the pin counts and the deferred frees: another thread may close an
# object while a call uses it.
_lock = threading.RLock()


def _root(handle):
    while handle._owner is not None:
        handle = handle._owner
    return handle


class Handle:
    """An owned or borrowed pointer to a library object.

    An owned handle is released by close(), by leaving a `with` block, or,
    as a backstop, when the object is garbage-collected.  A borrowed handle
    (a trainer's model, an index's vectors) keeps its owner alive and
    becomes unusable when the owner is closed (or, for a trainer's model,
    run again).

    Lifetimes (docs/python.md): an object that others use stays alive
    while they do.  A call pins the objects it passes to C (using(), for the
    length of the call) and an object that keeps a pointer to another (a
    Trainer its Catalog and Judgments, Judgments their Catalog) pins it
    until it is itself freed (_depend).  close() of a pinned object makes
    it unusable at once (its methods raise) and frees it when the last pin
    goes: never under a call that is using it."""

    _free = None          # the anthem_*_free function
    _kind = "handle"
    # class defaults, so that close() and __del__ work on an object whose
    # __init__ raised before Handle.__init__ ran
    _ptr = None
    _owner = None
    _views = frozenset()
    _pins = 0
    _deferred = None      # a closed owned pointer waiting for its pins
    _deps = ()

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

    # ---- pins ------------------------------------------------------------

    def _pin(self):
        """The pointer, and the owning object kept from being freed until
        _unpin (EINVAL if closed)."""
        with _lock:
            ptr = self._h
            root = _root(self)
            root._pins += 1
            return ptr, root

    @staticmethod
    def _unpin(root):
        with _lock:
            root._pins -= 1
            if root._pins == 0 and root._deferred is not None:
                ptr, root._deferred = root._deferred, None
                root._release(ptr)

    def _depend(self, *others):
        """Pin others until this object is freed (it keeps their
        pointers)."""
        roots = []
        try:
            for other in others:
                roots.append(other._pin()[1])
        except BaseException:
            for r in roots:
                Handle._unpin(r)
            raise
        self._deps = tuple(self._deps) + tuple(roots)

    def _release(self, ptr):
        """Free the owned pointer, then let go of what it used."""
        type(self)._free(ptr)
        deps, self._deps = self._deps, ()
        for r in deps:
            Handle._unpin(r)

    def close(self):
        """Release the handle (a no-op when already closed).  Borrowed
        objects obtained from it become unusable.  While a call or another
        object uses it, the memory is freed when they are done."""
        with _lock:
            ptr, self._ptr = self._ptr, None
            self._invalidate_views()
            owned = ptr and self._owner is None and self._free is not None
            self._owner = None
            if not owned:
                return
            if self._pins:
                self._deferred = ptr
            else:
                self._release(ptr)

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


class using:
    """with using(a, b, ...) as (pa, pb, ...): the objects' pointers,
    pinned for the block (None stays None)."""

    def __init__(self, *handles):
        self._handles = handles
        self._roots = []

    def __enter__(self):
        ptrs = []
        try:
            for h in self._handles:
                if h is None:
                    ptrs.append(None)
                    continue
                ptr, root = h._pin()
                self._roots.append(root)
                ptrs.append(ptr)
        except BaseException:
            self.__exit__()
            raise
        return ptrs

    def __exit__(self, *exc):
        roots, self._roots = self._roots, []
        for r in roots:
            Handle._unpin(r)
        return False
