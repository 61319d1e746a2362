"""Float arrays in and out: numpy float32 arrays without copies where numpy
is importable, plain lists (and array.array('f') buffers) where it is not.

Shapes are checked here, before any C call, so that a wrong-size array is
an anthem.MismatchError (a ValueError) and never a read past a buffer.
Set ANTHEM_NO_NUMPY=1 to use the list path even when numpy is installed.
"""

import ctypes
import os
from ctypes import c_float

from ._errors import Status, error
from ._lib import FloatP

np = None
if os.environ.get("ANTHEM_NO_NUMPY", "") in ("", "0"):
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - depends on the interpreter
        np = None

HAVE_NUMPY = np is not None


def mismatch(msg):
    return error(Status.EMISMATCH, msg)


def _float_buffer(obj):
    """A contiguous memoryview of C floats over obj's buffer, or None."""
    try:
        mv = memoryview(obj)
    except TypeError:
        return None
    if mv.format != "f" or not mv.c_contiguous:
        return None
    return mv.cast("B").cast("f") if mv.ndim != 1 else mv


def _ctypes_floats(values):
    return (c_float * max(len(values), 1))(*values)


def _np_floats(obj, what):
    try:
        return np.ascontiguousarray(obj, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise error(Status.EINVAL, "%s: not an array of numbers (%s)"
                    % (what, e)) from None


def _floats(values, what):
    try:
        return [float(x) for x in values]
    except (TypeError, ValueError) as e:
        raise error(Status.EINVAL, "%s: not an array of numbers (%s)"
                    % (what, e)) from None


def vector_in(obj, what, dim=None):
    """(keepalive, FloatP, n) for a 1-D array of floats; dim is checked."""
    if np is not None:
        arr = _np_floats(obj, what)
        if arr.ndim != 1:
            raise mismatch("%s must be 1-dimensional, not of shape %s"
                           % (what, arr.shape))
        n = arr.shape[0]
        keep, ptr = arr, arr.ctypes.data_as(FloatP)
    else:
        mv = _float_buffer(obj)
        if mv is not None:
            n = len(mv)
            keep = (c_float * max(n, 1)).from_buffer_copy(mv.tobytes() or
                                                          b"\0" * 4)
        else:
            values = _floats(obj, what)
            n = len(values)
            keep = _ctypes_floats(values)
        ptr = ctypes.cast(keep, FloatP)
    if dim is not None and n != dim:
        raise mismatch("%s has %d values, expected %d" % (what, n, dim))
    return keep, ptr, n


def matrix_in(obj, what, dim=None, borrow=False):
    """(keepalive, FloatP, count, dim) for count x dim floats, row-major.

    obj is 2-D (count rows of dim), or 1-D flat when dim is given.  With
    borrow=True the pointer refers to obj's own memory whenever it already
    is contiguous float32 (numpy array, array.array('f'), writable float
    buffer); otherwise to a converted copy, which keepalive holds."""
    if dim is not None and dim <= 0:
        # nothing to read: let the library refuse the dimension itself
        keep = (c_float * 1)()
        return keep, ctypes.cast(keep, FloatP), 0, 0
    if np is not None:
        arr = _np_floats(obj, what)
        if arr.ndim == 1 and arr.shape[0] == 0 and dim is not None:
            arr = arr.reshape(0, dim)
        if arr.ndim == 1 and dim is not None:
            if arr.shape[0] % dim:
                raise mismatch("%s has %d values, not a multiple of dim %d"
                               % (what, arr.shape[0], dim))
            arr = arr.reshape(-1, dim)
        if arr.ndim != 2:
            raise mismatch("%s must be count x dim, not of shape %s"
                           % (what, arr.shape))
        count, d = arr.shape
        if dim is not None and d != dim:
            raise mismatch("%s has rows of %d values, expected %d"
                           % (what, d, dim))
        return arr, arr.ctypes.data_as(FloatP), count, d
    mv = _float_buffer(obj)
    if mv is not None:
        if dim is None:
            raise mismatch("%s is a flat buffer: give dim" % what)
        n = len(mv)
        if n % dim:
            raise mismatch("%s has %d values, not a multiple of dim %d"
                           % (what, n, dim))
        if borrow and not mv.readonly and n > 0:
            keep = (c_float * n).from_buffer(obj)
        else:
            keep = (c_float * max(n, 1)).from_buffer_copy(
                mv.tobytes() or b"\0" * 4)
        return keep, ctypes.cast(keep, FloatP), n // dim, dim
    rows = list(obj)
    if rows and not isinstance(rows[0], (int, float)):
        flat = []
        for i, row in enumerate(rows):
            try:
                row = list(row)
            except TypeError:
                raise error(Status.EINVAL, "%s: row %d is not a sequence"
                            % (what, i)) from None
            row = _floats(row, "%s row %d" % (what, i))
            if dim is None:
                dim = len(row)
            if len(row) != dim:
                raise mismatch("%s row %d has %d values, expected %d"
                               % (what, i, len(row), dim))
            flat.extend(row)
    else:
        if dim is None:
            if rows:
                raise mismatch("%s is flat: give dim" % what)
            raise mismatch("%s is empty: give dim" % what)
        flat = _floats(rows, what)
        if len(flat) % dim:
            raise mismatch("%s has %d values, not a multiple of dim %d"
                           % (what, len(flat), dim))
    keep = _ctypes_floats(flat)
    return keep, ctypes.cast(keep, FloatP), len(flat) // dim, dim


def empty(n, d=None):
    """(buffer, FloatP) for n (or n x d) floats the C side will fill."""
    if np is not None:
        arr = np.empty((n, d) if d is not None else (n,), dtype=np.float32)
        return arr, arr.ctypes.data_as(FloatP)
    buf = (c_float * max(n * (d if d is not None else 1), 1))()
    return buf, ctypes.cast(buf, FloatP)


def result(buf, n, d=None):
    """What a buffer from empty() is returned as: the numpy array itself,
    or a list (of lists)."""
    if np is not None:
        return buf
    flat = buf[:n * (d if d is not None else 1)]
    if d is None:
        return flat
    return [flat[i * d:(i + 1) * d] for i in range(n)]


def copy_out(ptr, n, d=None):
    """A copy of n (or n x d) floats at a C pointer (may be NULL if empty)."""
    total = n * (d if d is not None else 1)
    if np is not None:
        if total == 0 or not ptr:
            arr = np.empty((n, d) if d is not None else (n,), np.float32)
        else:
            arr = np.ctypeslib.as_array(ptr, shape=(total,)).copy()
            if d is not None:
                arr = arr.reshape(n, d)
        return arr
    flat = ptr[:total] if total and ptr else []
    if d is None:
        return flat
    return [flat[i * d:(i + 1) * d] for i in range(n)]
