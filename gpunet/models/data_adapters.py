"""Generators, iterators and Sequences as inputs of ``fit`` / ``evaluate`` / ``predict``.

Arrays take the fast path in ``data.py`` (copied to the device once, batches gathered on the
device). Everything else goes through ``StreamData`` here: a background thread pulls host
batches from the source while the model computes on the previous one, checks and casts them,
copies each to the device once (``backend.asarray``) and hands them over through a bounded
queue, in order.

Which sources, and what an epoch is:

- **Sequence** (``gpunet.utils.Sequence`` / ``PyDataset``, or any object with ``__len__``,
  ``__getitem__`` and ``on_epoch_end``, such as ``ImageDataGenerator.flow()``): an epoch is
  ``len(seq)`` batches (or ``steps``), visited in a new random order when ``shuffle`` is on;
  ``on_epoch_end()`` is called after every complete pass. ``workers`` threads call
  ``__getitem__`` concurrently (order kept), ``workers=0`` fetches on the calling thread.
- **Iterator / generator** (consumed once): with ``steps`` every epoch draws the next
  ``steps`` batches; without, the one epoch runs until it is exhausted, so ``fit`` with more
  than one epoch needs ``steps_per_epoch`` (a ``ValueError`` says so before training starts:
  an endless generator would otherwise train forever). One thread calls ``next()``; with
  ``workers > 1`` (a ``fit`` argument here) a pool converts and copies the batches, in order.
- **Other iterables** (an object whose ``__iter__`` starts a fresh pass, e.g. a class with a
  generator method ``__iter__``): every epoch calls ``iter()`` again, and runs until it ends
  (or for ``steps`` batches).

Models with several inputs or outputs take batches whose ``x``, ``y`` and ``sample_weight``
are lists (in input / output order) or dicts keyed by input / output name, as for arrays;
``predict`` also takes ``[x_a, x_b]`` batches. ``class_weight`` is then Keras 2's
``{output_name: {class: weight}}``.

A source that ends before ``steps`` batches gives Keras's warning "Your input ran out of data"
and, in ``fit``, stops training after that epoch. (An endless generator given for one epoch
without ``steps_per_epoch`` runs forever, as in Keras.) A pass never pulls more than ``steps``
batches from a generator; when training stops early, up to ``max_queue_size + 1`` batches
already pulled are dropped. Errors raised by the source reach the caller with their original
traceback; the threads always stop when the call returns or raises (``closes_streams``).
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from gpunet.backend import Backend
from gpunet.models.data import (
    _host,
    class_weights_to_sample_weights,
    device_dtype,
    is_text,
    text_allowed,
)

__all__ = ["StreamData", "closes_streams", "eval_stream", "fit_stream", "is_sequence", "is_stream",
           "pipeline_options", "validation_stream"]

_END = object()
_JOIN_TIMEOUT = 5.0
_PIPELINE_KWARGS = ("workers", "use_multiprocessing", "max_queue_size")


# -- what counts as a stream -------------------------------------------------------------------
def _is_array_like(x: Any) -> bool:
    return (isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, set, frozenset))
            or hasattr(x, "__array__") or hasattr(x, "__cuda_array_interface__")
            or getattr(x, "_gpunet_tensor", False))


def is_sequence(x: Any) -> bool:
    """True for Sequence-like objects: ``__len__``, ``__getitem__`` and ``on_epoch_end``."""
    return (not _is_array_like(x) and hasattr(x, "__getitem__") and hasattr(x, "__len__")
            and callable(getattr(x, "on_epoch_end", None)))


def is_stream(x: Any) -> bool:
    """True when ``x`` is a Sequence, an iterator/generator, or another non-array iterable."""
    return x is not None and not _is_array_like(x) and (is_sequence(x) or hasattr(x, "__iter__"))


def _describe(x: Any) -> str:
    if isinstance(x, types.GeneratorType):
        return f"the generator `{x.__name__}`"
    if is_sequence(x):
        return f"the Sequence `{type(x).__name__}`"
    return f"the {'iterator' if isinstance(x, Iterator) else 'iterable'} `{type(x).__name__}`"


def pipeline_options(kwargs: dict) -> dict:
    """Pops Keras 2's ``workers`` / ``use_multiprocessing`` / ``max_queue_size`` from kwargs."""
    opts = {k: kwargs.pop(k) for k in _PIPELINE_KWARGS if k in kwargs}
    w = opts.get("workers")
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 0):
        raise ValueError(f"`workers` must be a non-negative integer. Received: workers={w!r}")
    q = opts.get("max_queue_size")
    if q is not None and (isinstance(q, bool) or not isinstance(q, int) or q < 1):
        raise ValueError(f"`max_queue_size` must be a positive integer. Received: "
                         f"max_queue_size={q!r}")
    return opts


# -- closing every stream a call opened --------------------------------------------------------
_scopes = threading.local()


def closes_streams(fn: Callable) -> Callable:
    """Decorator: every ``StreamData`` created while ``fn`` runs is closed when it returns or
    raises (an exception, early stopping, KeyboardInterrupt), so no thread outlives the call."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stack = _scopes.__dict__.setdefault("stack", [])
        opened: list = []
        stack.append(opened)
        try:
            return fn(*args, **kwargs)
        finally:
            stack.pop()
            for s in opened:
                s.close()

    return wrapper


# -- the background producer -------------------------------------------------------------------
class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Producer:
    """A thread running ``tasks`` (callables, in order) into a bounded queue.

    With a pool, each task is submitted to it and the queue holds the futures, in order, so
    ``workers`` tasks run at once and results still come out in order.
    """

    def __init__(self, tasks: Iterator, max_queue_size: int, workers: int) -> None:
        self._tasks = tasks
        self._q: queue.Queue = queue.Queue(maxsize=max_queue_size)
        self._stop = threading.Event()
        self._pool = (ThreadPoolExecutor(workers, thread_name_prefix="gpunet-data-worker")
                      if workers > 1 else None)
        self._thread = threading.Thread(target=self._run, name="gpunet-data", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        if isinstance(item, Future):
            item.cancel()
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():  # checked before pulling: close() pulls no more
                task = next(self._tasks, None)
                if task is None:
                    self._put(_END)
                    return
                item = self._pool.submit(task) if self._pool is not None else task()
                if not self._put(item):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._put(_Failure(e))

    def get(self) -> Any:
        """The next prepared batch, or ``_END``; re-raises the source's error."""
        while True:
            try:
                item = self._q.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._q.empty():
                    raise RuntimeError("The data-loading thread stopped unexpectedly.") from None
        if isinstance(item, Future):
            return item.result()
        if isinstance(item, _Failure):
            exc, item.exc = item.exc, None
            raise exc
        return item

    def close(self) -> None:
        self._stop.set()
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Future):
                item.cancel()
        self._thread.join(_JOIN_TIMEOUT)
        if self._thread.is_alive():
            warnings.warn("The data-loading thread is still inside a call to the input "
                          "(generator / Sequence); it exits as soon as that call returns.",
                          stacklevel=3)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


# -- the adapter -------------------------------------------------------------------------------
class StreamData:
    """Batches from a generator, iterator, iterable or Sequence, prepared in the background.

    Args:
        backend: where the batches go.
        source: the generator / iterator / iterable / Sequence.
        purpose: ``"fit"``, ``"validation"``, ``"evaluate"`` or ``"predict"`` (predict
            takes ``x`` or a tuple starting with ``x``; the others need ``(x, y)`` or
            ``(x, y, sample_weight)``).
        steps: batches per epoch (default: ``len(seq)``, or until an iterator ends).
        shuffle: Sequences only: visit the batch indices in a new random order each epoch.
        class_weight: ``{class: weight}`` turned into per-sample weights, batch by batch.
        options: ``workers`` / ``max_queue_size`` / ``use_multiprocessing`` overriding the
            Sequence's own (defaults 1, 10, False).
        on_ran_out: called when the source ends before ``steps`` batches.
        arrange: for models with several inputs or outputs: ``arrange(x, y, w)`` returns
            ``(xs, ys, ws)``, lists in the model's input / output order (class weights
            applied); batches then hold lists of device arrays.

    ``epoch()`` yields device batches ``(x, y, sample_weight)`` for one epoch; ``close()``
    stops the background thread (``closes_streams`` calls it for you).
    """

    def __init__(self, backend: Backend, source: Any, purpose: str = "fit",
                 steps: int | None = None, shuffle: Any = False,
                 class_weight: dict | None = None, options: dict | None = None,
                 on_ran_out: Callable[[], None] | None = None,
                 arrange: Callable | None = None) -> None:
        arg = {"fit": "steps_per_epoch", "validation": "validation_steps"}.get(purpose, "steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                                  or steps < 1):
            raise ValueError(f"`{arg}` must be a positive integer or None. Received: "
                             f"{arg}={steps!r}")
        self.b = backend
        self.source = source
        self.purpose = purpose
        self.desc = _describe(source)
        self.class_weight = class_weight
        # set by fit / evaluate: checks a host batch of targets (sparse labels are integers)
        self.check_targets: Callable[[Any, str], None] | None = None
        self.allow_text = text_allowed()  # string features for a model that takes them
        self.on_ran_out = on_ran_out
        self.arrange = arrange
        self.kind = ("sequence" if is_sequence(source) else
                     "iterator" if isinstance(source, Iterator) else "iterable")
        self.shuffle = bool(shuffle) and self.kind == "sequence"
        if self.kind == "sequence":
            self.length = len(source)
            if self.length < 1:
                raise ValueError(f"{self.desc} is empty: len() returned {self.length}.")
        else:
            self.length = None
        self.steps = steps if steps is not None else self.length
        opts = dict(options or {})
        self.workers = int(opts.get("workers", getattr(source, "workers", 1)))
        self.max_queue_size = max(1, int(opts.get("max_queue_size",
                                                  getattr(source, "max_queue_size", 10))))
        if opts.get("use_multiprocessing", getattr(source, "use_multiprocessing", False)):
            warnings.warn("`use_multiprocessing=True` is not supported: gpunet prepares "
                          "batches with threads (`workers`).", stacklevel=3)
        self.ran_out = False
        self.passes = 0
        self.last_count = 0
        self._it = iter(source) if self.kind == "iterator" else None
        self._ref: tuple | None = None
        self._producer: _Producer | None = None
        self._primed: tuple | None = None
        self._closed = False
        # CuPy: the worker threads copy on the caller's current stream, so each copy is
        # ordered before the kernels that use the batch and memory is reused on one stream.
        cuda = getattr(backend.xp, "cuda", None)
        self._stream = cuda.get_current_stream() if cuda is not None else None
        stack = getattr(_scopes, "stack", None)
        if stack:
            stack[-1].append(self)

    # -- turning one raw batch into device arrays (runs on the worker threads) ---------------
    def _where(self, pos: int, idx: int | None) -> str:
        at = f"batch {pos}" + (f" (index {idx})" if idx is not None and idx != pos else "")
        return f"{at} from {self.desc}"

    def _array(self, a: Any, name: str, kind: str, where: str) -> Any:
        if a is None:
            raise ValueError(f"`{name}` in {where} is None.")
        try:
            a = _host(a)
        except (TypeError, ValueError) as e:
            raise type(e)(f"`{name}` in {where}: {e}") from None
        if a.ndim == 0:
            raise ValueError(f"`{name}` in {where} must have a batch dimension; received a "
                             f"scalar.")
        if kind == "x" and self.allow_text and is_text(a):  # host strings, for text layers
            return np.asarray(a, dtype=object)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"Argument `{name}` ({where}) must hold numbers; received an array "
                            f"of dtype {a.dtype}.")
        if kind == "y" and self.check_targets is not None and isinstance(a, np.ndarray):
            self.check_targets(a, where)  # on the host, before the copy: no device sync
        dt = device_dtype(a, kind)
        if isinstance(a, np.ndarray):
            a = np.asarray(a, dtype=dt)  # cast on the host, then one copy to the device
        return self.b.asarray(a, dtype=dt)

    def _prepare(self, raw: Any, pos: int, idx: int | None) -> tuple:
        if self._stream is None:
            return self._convert(raw, pos, idx)
        with self._stream:
            return self._convert(raw, pos, idx)

    def _convert(self, raw: Any, pos: int, idx: int | None) -> tuple:
        where = self._where(pos, idx)
        if isinstance(raw, list):
            raw = tuple(raw)
        if self.purpose == "predict":
            x = raw[0] if isinstance(raw, tuple) and 1 <= len(raw) <= 3 else raw
            if self.arrange is not None:
                if isinstance(raw, tuple) and getattr(self.arrange, "n_inputs", 1) > 1 and \
                        not isinstance(raw[0], (list, tuple, dict)):
                    x = list(raw)  # [x_a, x_b] of a several-input model, not (x, y)
                return self._convert_multi(x, None, None, pos, idx, where)
            return pos, idx, self._array(x, "x", "x", where), None, None
        if not isinstance(raw, tuple) or len(raw) not in (2, 3):
            got = (f"a tuple of {len(raw)} elements" if isinstance(raw, tuple) else
                   f"{type(raw).__name__}" + (f" of shape {raw.shape}"
                                              if hasattr(raw, "shape") else ""))
            raise ValueError(f"{where[0].upper()}{where[1:]}: expected a tuple (x, y) or "
                             f"(x, y, sample_weight); received {got}.")
        x, y = raw[0], raw[1]
        w = raw[2] if len(raw) == 3 else None
        if y is None:
            raise ValueError(f"{where[0].upper()}{where[1:]}: the targets `y` are None; "
                             "training and evaluation need (x, y) batches.")
        if self.arrange is not None:
            return self._convert_multi(x, y, w, pos, idx, where)
        x = self._array(x, "x", "x", where)
        yh = _host(y) if self.class_weight is not None else None
        y = self._array(y, "y", "y", where)
        if w is not None:
            w = self._array(w, "sample_weight", "w", where)
        if self.class_weight is not None:
            cw = class_weights_to_sample_weights(yh, self.class_weight)
            if w is not None:
                cw = cw * self.b.to_numpy(w).reshape(len(cw), -1)[:, 0].astype(cw.dtype)
            w = self.b.asarray(cw)
        n = x.shape[0]
        for name, a in (("y", y), ("sample_weight", w)):
            if a is not None and a.shape[0] != n:
                raise ValueError(f"{where[0].upper()}{where[1:]}: x has {n} samples but "
                                 f"{name} has {a.shape[0]} (shapes: x {tuple(x.shape)}, "
                                 f"{name} {tuple(a.shape)}).")
        return pos, idx, x, y, w

    def _convert_multi(self, x: Any, y: Any, w: Any, pos: int, idx: int | None,
                       where: str) -> tuple:
        """A batch of a model with several inputs / outputs: lists of device arrays."""
        try:
            xs, ys, ws = self.arrange(x, y, w)
        except ValueError as e:
            raise ValueError(f"{where[0].upper()}{where[1:]}: {e}") from None

        def conv(arrs, name, kind):
            if arrs is None:
                return None
            return [None if a is None and kind != "x" else
                    self._array(a, f"{name}[{i}]", kind, where) for i, a in enumerate(arrs)]

        xs, ys, ws = conv(xs, "x", "x"), conv(ys, "y", "y"), conv(ws, "sample_weight", "w")
        n = xs[0].shape[0]
        for name, arrs in (("x", xs), ("y", ys), ("sample_weight", ws)):
            for i, a in enumerate(arrs or []):
                if a is not None and a.shape[0] != n:
                    raise ValueError(f"{where[0].upper()}{where[1:]}: x[0] has {n} samples but "
                                     f"{name}[{i}] has {a.shape[0]}.")
        if getattr(self.arrange, "single", False):  # one input, one output: plain arrays
            return pos, idx, xs[0], None if ys is None else ys[0], None if ws is None else ws[0]
        return pos, idx, xs, ys, ws

    # -- tasks for one pass ------------------------------------------------------------------
    def _tasks(self) -> Iterator:
        if self.kind == "sequence":
            order = (np.random.permutation(self.length) if self.shuffle
                     else np.arange(self.length))
            if self.steps is not None:
                order = order[:self.steps]
            seq = self.source

            def fetch(pos: int, idx: int) -> tuple:
                return self._prepare(seq[idx], pos, idx)

            return (functools.partial(fetch, pos, int(idx)) for pos, idx in enumerate(order))
        it = self._it if self.kind == "iterator" else iter(self.source)
        return self._pull(it)

    def _pull(self, it: Iterator) -> Iterator:
        for pos in itertools.count() if self.steps is None else range(self.steps):
            try:
                raw = next(it)
            except StopIteration:
                return
            yield functools.partial(self._prepare, raw, pos, None)

    def _check(self, pos: int, idx: int | None, x: Any, y: Any, w: Any) -> None:
        arrays = (("x", x), ("y", y), ("sample_weight", w))
        tail = tuple(_shape(a, 1) for _, a in arrays)
        if self._ref is None:
            self._ref = (tail, pos, idx, tuple(_shape(a) for _, a in arrays))
            return
        if tail == self._ref[0]:
            return
        ref_tail, rpos, ridx, ref_full = self._ref
        diffs = []
        for (name, a), rt, rf in zip(arrays, ref_tail, ref_full):
            if _shape(a, 1) != rt:
                diffs.append(f"`{name}` of shape {_shape(a)} (earlier: {rf})")
        raise ValueError(f"Inconsistent batch shapes: {self._where(pos, idx)} has "
                         f"{', '.join(diffs)}; the earlier shapes are those of "
                         f"{self._where(rpos, ridx).split(' from ')[0]}. Every batch must "
                         "have the same shape apart from the batch size (first dimension).")

    # -- one pass ----------------------------------------------------------------------------
    def _pass(self) -> Iterator:
        if self.kind == "sequence" and hasattr(self.source, "on_epoch_begin") \
                and self.purpose == "fit":
            self.source.on_epoch_begin()
        tasks = self._tasks()
        producer = None
        if self.workers > 0:
            producer = self._producer = _Producer(tasks, self.max_queue_size, self.workers)
        n = 0
        try:
            while self.steps is None or n < self.steps:
                if producer is not None:
                    item = producer.get()
                else:
                    task = next(tasks, None)
                    item = _END if task is None else task()
                if item is _END:
                    break
                pos, idx, x, y, w = item
                self._check(pos, idx, x, y, w)
                yield x, y, w
                n += 1
        finally:
            if producer is not None:
                producer.close()
                self._producer = None
        self.last_count = n
        self.passes += 1
        if n == 0 and self.passes == 1:
            raise ValueError(f"{self.desc[0].upper()}{self.desc[1:]} yielded no batches "
                             "(an exhausted generator?).")
        if self.steps is not None and n < self.steps or n == 0:
            self._ran_out(n)
        if self.kind == "sequence":
            self.source.on_epoch_end()

    def _ran_out(self, n: int) -> None:
        self.ran_out = True
        if self.purpose == "fit":
            warnings.warn(
                "Your input ran out of data; interrupting training. Make sure that your "
                "dataset or generator can generate at least `steps_per_epoch * epochs` "
                f"batches (steps_per_epoch={self.steps}; this epoch got {n}).", stacklevel=6)
            if self.on_ran_out is not None:
                self.on_ran_out()
        else:
            arg = "validation_steps" if self.purpose == "validation" else "steps"
            warnings.warn(f"Your input ran out of data: {self.desc} gave {n} batches where "
                          f"{arg}={self.steps} were asked for.", stacklevel=6)

    def peek(self) -> tuple:
        """Starts the first epoch early and returns the shape of its first ``x`` batch."""
        gen = self._pass()
        first = next(gen)  # an empty first pass raises ValueError inside _pass
        self._primed = (first, gen)
        x = first[0]
        return tuple((x[0] if isinstance(x, list) else x).shape)

    def epoch(self) -> Iterator:
        """Yields the device batches ``(x, y, sample_weight)`` of one epoch."""
        if self._closed:
            raise RuntimeError(f"This input pipeline over {self.desc} was closed.")
        if self._primed is not None:
            first, gen = self._primed
            self._primed = None
            return itertools.chain((first,), gen)
        return self._pass()

    def close(self) -> None:
        """Stops the background thread (if any); the source is left as it is."""
        self._closed = True
        if self._primed is not None:
            self._primed[1].close()
            self._primed = None
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def __enter__(self) -> StreamData:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _shape(a: Any, start: int = 0) -> Any:
    """``a.shape[start:]`` as a tuple (a tuple of them for a list of arrays; None for None)."""
    if a is None:
        return None
    if isinstance(a, list):
        return tuple(_shape(e, start) for e in a)
    return tuple(a.shape[start:])


# -- fit's rules -------------------------------------------------------------------------------
def fit_stream(backend: Backend, x: Any, y: Any, sample_weight: Any, class_weight: Any,
               validation_split: float, shuffle: Any, steps_per_epoch: int | None,
               n_epochs: int, options: dict, on_ran_out: Callable[[], None],
               arrange: Callable | None = None) -> StreamData:
    """The training ``StreamData`` of ``fit``, after Keras's argument checks."""
    desc = _describe(x)
    if y is not None:
        raise ValueError(f"`y` must not be given when `x` is {desc}: the targets come from "
                         "it, as (x, y) or (x, y, sample_weight) batches.")
    if sample_weight is not None:
        raise ValueError(f"`sample_weight` must not be given when `x` is {desc}: yield "
                         "(x, y, sample_weight) batches instead.")
    if validation_split:
        raise ValueError(f"`validation_split` is only supported for array inputs (NumPy or "
                         f"CuPy arrays, lists); `x` is {desc}. Pass `validation_data` instead.")
    if (steps_per_epoch is None and n_epochs > 1 and not is_sequence(x)
            and isinstance(x, Iterator)):
        raise ValueError(
            f"`x` is {desc}, which can be consumed only once, and epochs leave {n_epochs} "
            "epochs to run: pass `steps_per_epoch` (the generator must then yield at least "
            "steps_per_epoch * epochs batches, e.g. loop forever), or use a "
            "`gpunet.utils.Sequence`. Without `steps_per_epoch` a generator feeds one epoch "
            "that lasts until it is exhausted.")
    return StreamData(backend, x, "fit", steps_per_epoch, shuffle,
                      None if arrange is not None else class_weight, options, on_ran_out,
                      arrange)


def validation_stream(backend: Backend, data: Any, validation_steps: int | None,
                      n_runs: int, options: dict, arrange: Callable | None = None
                      ) -> StreamData:
    """The validation ``StreamData`` of ``fit``."""
    if validation_steps is None and n_runs > 1 and not is_sequence(data) \
            and isinstance(data, Iterator):
        raise ValueError(
            f"`validation_data` is {_describe(data)}, which can be consumed only once, but "
            f"validation runs {n_runs} times: pass `validation_steps` (batches per "
            "validation), or use a `gpunet.utils.Sequence`.")
    return StreamData(backend, data, "validation", validation_steps, False, None, options,
                      arrange=arrange)


def eval_stream(backend: Backend, x: Any, y: Any, sample_weight: Any, purpose: str,
                steps: int | None, options: dict, arrange: Callable | None = None
                ) -> StreamData:
    """The ``StreamData`` of ``evaluate`` (``purpose="evaluate"``) or ``predict``."""
    if y is not None or sample_weight is not None:
        arg = "y" if y is not None else "sample_weight"
        raise ValueError(f"`{arg}` must not be given when `x` is {_describe(x)}: yield "
                         "(x, y) or (x, y, sample_weight) batches instead.")
    return StreamData(backend, x, purpose, steps, False, None, options, arrange=arrange)
