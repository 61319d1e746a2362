"""anthem.Error and its subclasses, built from a status code and the
library's per-thread message (anthem_last_error)."""

import enum

from . import _lib

lib = _lib.lib


class Status(enum.IntEnum):
    """The ANTHEM_E* codes of include/anthem/error.h (numbers are ABI)."""
    OK = 0
    EINVAL = -1
    ENOMEM = -2
    EIO = -3
    EFORMAT = -4
    EVERSION = -5
    ECHECKSUM = -6
    ETRUNCATED = -7
    EMISMATCH = -8
    ERANGE = -9
    ENOTFOUND = -10
    ECANCELED = -11


def strerror(code):
    """anthem_strerror(code): the library's description of a status code."""
    return lib.anthem_strerror(int(code)).decode("utf-8", "replace")


def last_error():
    """anthem_last_error(): the calling thread's last failure message."""
    return lib.anthem_last_error().decode("utf-8", "replace")


def clear_error():
    """anthem_clear_error(): forget the calling thread's last message."""
    lib.anthem_clear_error()


class Error(Exception):
    """A libanthem call failed.

    code    -- the negative ANTHEM_E* status (int)
    name    -- anthem_strerror(code), e.g. "not found"
    message -- what failed and where (anthem_last_error(), or the binding's
               own message for a check made before calling C)
    """

    def __init__(self, code, message=None, name=None):
        self.code = int(code)
        self.name = name if name is not None else strerror(self.code)
        self.message = message if message is not None else ""
        try:
            self.status = Status(self.code)
        except ValueError:
            self.status = None
        super().__init__(self.code, self.message)

    def __str__(self):
        label = self.status.name if self.status is not None else str(self.code)
        if self.message:
            return "%s [%s: %s]" % (self.message, label, self.name)
        return "%s [%s]" % (self.name, label)

    def __reduce__(self):
        return (self.__class__, (self.code, self.message, self.name))


class InvalidArgumentError(Error, ValueError):
    """ANTHEM_EINVAL: an argument is invalid (NULL, NaN, ...)."""


class OutOfMemoryError(Error, MemoryError):
    """ANTHEM_ENOMEM."""


class InputOutputError(Error):
    """ANTHEM_EIO: reading or writing a file failed."""


class FormatError(Error):
    """ANTHEM_EFORMAT: a file or buffer is malformed."""


class VersionError(Error):
    """ANTHEM_EVERSION: a file is of a newer format version."""


class ChecksumError(Error):
    """ANTHEM_ECHECKSUM: a file's checksum does not match."""


class TruncatedError(Error):
    """ANTHEM_ETRUNCATED: a file or buffer ends too early."""


class MismatchError(Error, ValueError):
    """ANTHEM_EMISMATCH: operands do not fit together (dimensions, ...)."""


class RangeError(Error, ValueError):
    """ANTHEM_ERANGE: a value or index is out of range."""


class NotFoundError(Error):
    """ANTHEM_ENOTFOUND: a named thing (file, product id) does not exist."""


class CanceledError(Error):
    """ANTHEM_ECANCELED: a progress callback asked to stop."""


_BY_CODE = {
    Status.EINVAL: InvalidArgumentError,
    Status.ENOMEM: OutOfMemoryError,
    Status.EIO: InputOutputError,
    Status.EFORMAT: FormatError,
    Status.EVERSION: VersionError,
    Status.ECHECKSUM: ChecksumError,
    Status.ETRUNCATED: TruncatedError,
    Status.EMISMATCH: MismatchError,
    Status.ERANGE: RangeError,
    Status.ENOTFOUND: NotFoundError,
    Status.ECANCELED: CanceledError,
}


def error(code, message=None):
    """The exception for a status code.  Without a message, the calling
    thread's anthem_last_error() is used: call this right after the failing
    call, on the same thread (ctypes runs the call on the calling thread)."""
    if message is None:
        message = last_error()
    return _BY_CODE.get(int(code), Error)(code, message)


def check(rc):
    """Raise for a non-zero status returned by a libanthem function."""
    if rc != 0:
        raise error(rc)
    return rc
