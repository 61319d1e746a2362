"""Learning a model from judgements (anthem_trainer)."""

import sys
from collections import namedtuple
from ctypes import byref, c_size_t, c_uint64

from . import _lib
from ._errors import Status, check, error
from ._handle import Handle, count_arg, encode_path, using
from ._lib import TrainerP, anthem_progress_fn, lib
from .data import Catalog, Judgments
from .model import Model, make_config

# The fields of anthem_train_options a caller may set ("checkpoint" is a
# path; progress and progress_user belong to the binding).
OPTION_FIELDS = tuple(name for name, _ in _lib.anthem_train_options._fields_
                      if name not in ("struct_size", "progress",
                                      "progress_user"))

_UNSIGNED = frozenset(
    name for name, ctype in _lib.anthem_train_options._fields_
    if ctype in (c_size_t, c_uint64))

Progress = namedtuple("Progress", "epoch epochs step steps loss valid_loss "
                      "examples_per_sec epoch_done stopped_early "
                      "lexical_weight")
Progress.__doc__ = """What a progress callback is told (anthem_train_progress):
epoch (1-based) of epochs, step of steps in this epoch, loss (mean so far
in this epoch), valid_loss (NaN before the first held-out measure),
examples_per_sec, epoch_done and stopped_early (bools), lexical_weight
(w of the lexical term as the last epoch chose it; NaN without the term)."""


def default_options():
    """anthem_train_options_init's defaults as a dict."""
    o = _lib.train_options()
    d = {name: getattr(o, name) for name in OPTION_FIELDS}
    d["checkpoint"] = None
    return d


class _Callback:
    """The state the C trampoline reaches: the Python callable to call and
    the exception it raised.  Kept apart from the Trainer so that the
    trampoline does not hold the Trainer in a reference cycle."""

    __slots__ = ("fn", "exc", "closed")

    def __init__(self):
        self.fn = None
        self.exc = None
        self.closed = False  # the trainer was closed: stop training


def _trampoline(state):
    # int (*anthem_progress_fn)(const anthem_train_progress *p, void *user);
    # An exception must not unwind through C: it is caught here, training is
    # told to stop (non-zero), and Trainer.run raises it after C returns.
    def progress(p, user):
        if state.closed:
            return 1
        fn = state.fn
        if fn is None or state.exc is not None:
            return 0 if state.exc is None else 1
        try:
            q = p.contents
            stop = fn(Progress(q.epoch, q.epochs, q.step, q.steps, q.loss,
                               q.valid_loss, q.examples_per_sec,
                               bool(q.epoch_done), bool(q.stopped_early),
                               q.lexical_weight))
            return 1 if stop else 0
        except BaseException:
            state.exc = sys.exc_info()[1]
            return 1
    return anthem_progress_fn(progress)


def _make_options(options, callback):
    """(anthem_train_options, keepalive) from a dict of option fields."""
    o = _lib.train_options()
    keep = []
    for key, value in dict(options or {}).items():
        if key not in OPTION_FIELDS:
            raise error(Status.EINVAL, "unknown train option %r (known: %s)"
                        % (key, ", ".join(OPTION_FIELDS)))
        if key == "checkpoint":
            value = None if value is None else encode_path(value, key)
            keep.append(value)
        elif key in _UNSIGNED:
            value = count_arg(value, key)
        try:
            setattr(o, key, value)
        except TypeError as e:
            raise error(Status.EINVAL, "train option %r: %s"
                        % (key, e)) from None
    o.progress = callback
    o.progress_user = None
    return o, keep


class Trainer(Handle):
    """A trainer for a new model (anthem_trainer).

    Trainer(catalog, judgments, config=None, options=None, progress=None)
      config   -- model config dict (see Model), e.g. {"dim": 32}
      options  -- train options dict: epochs, epoch_examples, batch,
                  negatives, hard_negatives, hard_pool, lr, lr_decay,
                  warmup, threads, seed, valid_frac, patience, checkpoint
      progress -- callable(Progress) -> truthy to stop; may also be given
                  to run()
    Trainer.resume(checkpoint, catalog, judgments, options, progress)
    continues from a checkpoint file.

    run() trains; .model is the best model so far (borrowed: valid until
    the next run() or close(); save it or Model.load it to keep it)."""

    _free = lib.anthem_trainer_free
    _kind = "Trainer"

    def __init__(self, catalog, judgments, config=None, options=None,
                 progress=None, **config_fields):
        cfg = make_config(config, **config_fields)
        self._setup(catalog, judgments, options, progress)
        out = TrainerP()
        with using(catalog, judgments) as (c, j):
            check(lib.anthem_trainer_create(byref(out), byref(cfg), c, j,
                                            byref(self._options)))
            Handle.__init__(self, out)
            # the C trainer reads both until it is freed
            self._depend(catalog, judgments)

    def _setup(self, catalog, judgments, options, progress):
        if not isinstance(catalog, Catalog) or \
                not isinstance(judgments, Judgments):
            raise error(Status.EINVAL, "a Trainer needs an anthem.Catalog "
                        "and anthem.Judgments")
        judgments.check_catalog(catalog)
        self._state = _Callback()
        self._state.fn = progress
        # the C trainer keeps the options (and so these pointers) until it
        # is freed: the callback object and the checkpoint bytes live here
        self._callback = _trampoline(self._state)
        self._options, self._keep = _make_options(options, self._callback)
        self.catalog, self.judgments = catalog, judgments

    @classmethod
    def resume(cls, checkpoint, catalog, judgments, options=None,
               progress=None):
        """A trainer continuing from a checkpoint written with the same data
        and options (MismatchError if the data differ)."""
        self = cls.__new__(cls)
        self._setup(catalog, judgments, options, progress)
        out = TrainerP()
        with using(catalog, judgments) as (c, j):
            check(lib.anthem_trainer_resume(byref(out),
                                            encode_path(checkpoint), c, j,
                                            byref(self._options)))
            Handle.__init__(self, out)
            self._depend(catalog, judgments)
        return self

    def run(self, progress=None):
        """Train until the planned epochs are done or the held-out loss
        stops improving.  progress (if given) replaces the callable given
        at creation.  An exception raised by the callable stops training
        and is raised here; a truthy return stops it with CanceledError.
        Either way the trainer keeps its best model so far.

        close() from the callable (or another thread) stops training: run
        returns at the next progress report and the trainer is freed
        then.  run() from the callable is refused (EINVAL)."""
        if self._running:
            raise error(Status.EINVAL, "Trainer.run is already running "
                        "(called from its own progress callback?)")
        with using(self) as (h,):
            self._invalidate_views()  # the borrowed model: valid until run
            if progress is not None:
                self._state.fn = progress
            self._state.exc = None
            self._running = True
            try:
                rc = lib.anthem_trainer_run(h)
            finally:
                self._running = False
        exc, self._state.exc = self._state.exc, None
        if exc is not None:
            raise exc
        if self._state.closed:
            return  # closed while running: stopped as asked
        check(rc)

    _running = False

    def close(self):
        """Free the trainer (and let go of its Catalog and Judgments).  From
        its own progress callback: training stops and the trainer is freed
        when run() returns."""
        state = getattr(self, "_state", None)
        if state is not None and not self.closed:
            state.closed = True
        Handle.close(self)

    @property
    def model(self):
        """The best model so far, borrowed from the trainer."""
        return Model._wrap(lib.anthem_trainer_model(self._h), owner=self)

    @property
    def epoch(self):
        """Epochs completed."""
        return lib.anthem_trainer_epoch(self._h)

    def checkpoint(self, path):
        """Write the full training state (atomically)."""
        with using(self) as (h,):
            check(lib.anthem_trainer_checkpoint(h, encode_path(path)))

    def __repr__(self):
        if self.closed:
            return "<anthem.Trainer closed>"
        return "<anthem.Trainer epoch=%d>" % self.epoch


__all__ = ["Trainer", "Progress", "default_options"]
