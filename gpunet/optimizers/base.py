"""``Optimizer`` base: slots in flat buffers, clipping, weight decay, EMA, schedules, state.

One ``step()`` follows Keras 3's order: unscale (``loss_scale_factor``), accumulate
(``gradient_accumulation_steps``), clip, decoupled weight decay, the optimizer's own update,
the weights' moving average (EMA), ``iterations += 1``, then variable constraints. Each stage
is one (or a few) in-place passes over a group's whole flat buffer. Where the variables live in
device memory the step count, learning rate and per-step scalars do too (device mode,
``gpunet.optimizers.device_step``).
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gpunet.autograd.flat import FlatGroup, pack
from gpunet.autograd.variable import Variable
from gpunet.backend.kernels import ema_update, weight_decay_update
from gpunet.optimizers.device_step import DeviceScalarsMixin
from gpunet.optimizers.scalars import HOST
from gpunet.optimizers.schedules import LearningRateSchedule
from gpunet.registry import register, snake_case

_KIND = "optimizer"


def _positive(name: str, value: Any, allow_zero: bool = True) -> Any:
    """``value`` if it is a finite number ``>= 0`` (``> 0`` without ``allow_zero``) or None."""
    if value is None:
        return None
    return check_range(name, value, 0.0, None, low_open=not allow_zero)


def check_range(name: str, value: Any, low: float | None = 0.0, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``float(value)`` if it is a finite number in the range, else ValueError naming it."""
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    what = (f"in {lo}, {hi}" if low is not None and high is not None else
            f"{'>' if low_open else '>='} {low:g}" if low is not None else
            f"{'<' if high_open else '<='} {high:g}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(value, str) or not math.isfinite(v) or \
            (low is not None and (v < low or (low_open and v == low))) or \
            (high is not None and (v > high or (high_open and v == high))):
        raise ValueError(f"Argument `{name}` must be a finite number {what}. "
                         f"Received: {name}={value!r}")
    return v


def _is_schedule(lr: Any) -> bool:
    return isinstance(lr, LearningRateSchedule) or (callable(lr) and hasattr(lr, "get_config"))


def _takes_step(fn: Any) -> bool:
    """Whether a plain callable learning rate wants the step as an argument."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
               for p in params)


class Optimizer(DeviceScalarsMixin):
    """Base class of optimizers. Subclasses set ``slot_names`` and define ``update_group``.

    Every variable the optimizer updates lives in a flat buffer (one per dtype), and each slot
    (momentum, velocity, ...) is one flat array of the same size, so a step is a few in-place
    passes over contiguous memory (one fused kernel on a GPU).

    On a GPU the step count ``iterations``, the learning rate (a built-in schedule evaluated at
    the step) and the bias corrections live and advance in device memory, so a step reads
    nothing back (``device_resident``; ``host_step_reason`` says why not, e.g. a Python
    callable as the learning rate). Reading ``iterations`` or ``learning_rate`` then copies the
    value to the host.

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` (called with ``iterations``) or a
            callable (called with no argument, or with ``iterations`` if it takes one).
        weight_decay: decoupled weight decay ``w -= lr·weight_decay·w`` before the update.
        clipnorm: clip each gradient tensor to this L2 norm.
        clipvalue: clip every gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients jointly to this global L2 norm (a non-finite
            global norm turns every gradient into NaN, as in Keras).
        use_ema: keep an exponential moving average of the weights.
        ema_momentum: ``avg = m·avg + (1-m)·w`` (the first step copies the weights).
        ema_overwrite_frequency: overwrite the weights with their average every this many
            steps; None leaves it to ``finalize_variable_values`` (``fit`` calls it at the end).
        loss_scale_factor: gradients are divided by it (``scale_loss`` multiplies the loss).
        gradient_accumulation_steps: update only every n-th step, with the mean gradient.
        name: the optimizer's name.
        lr: the Keras 2 spelling of ``learning_rate`` (deprecated, accepted with a warning).

    Only one of ``clipnorm``, ``clipvalue`` and ``global_clipnorm`` may be set.

    State (``get_slot_arrays``, Keras 3 order): per variable the EMA ``average`` and
    ``gradient_accumulator`` when used, then per variable the optimizer's ``slot_names``,
    then scalars such as Nadam's ``u_product``.

    Example:

    >>> opt = gpunet.optimizers.AdamW(1e-3, weight_decay=0.01, global_clipnorm=1.0,
    ...                               use_ema=True)
    >>> opt.exclude_from_weight_decay(var_names=["bias"])
    >>> opt.apply_gradients(zip(grads, model.trainable_weights))
    >>> opt.finalize_variable_values(model.trainable_weights)  # swap the averages in
    """

    slot_names: tuple[str, ...] = ()
    _n_scratch = 1
    _grad_reducer = None  # set by gpunet.distribute.DistributedOptimizer
    # set by ``fit``'s NaN guard for one step where ``supports_weight_backup()``: the flat
    # weight buffer's id -> the buffer that receives its values before the update; the update
    # sets ``guard_bad`` when a new weight is not finite (see gpunet.models.finite_guard)
    guard_backups: dict | None = None
    guard_bad = False

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        cls = type(self).__name__
        if "lr" in kwargs:
            warnings.warn(f"{cls}: the `lr` argument is deprecated, use `learning_rate` "
                          "instead.", DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop("lr")
        if kwargs.pop("decay", None) not in (None, 0, 0.0):
            warnings.warn(f"{cls}: the `decay` argument is no longer supported and is ignored; "
                          "use a learning-rate schedule instead.", stacklevel=3)
        for legacy in ("is_legacy_optimizer", "jit_compile"):
            kwargs.pop(legacy, None)
        if kwargs:
            raise TypeError(f"{cls}() got unexpected keyword arguments: {sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self._set_learning_rate(learning_rate)
        self.weight_decay = _positive("weight_decay", weight_decay)
        self.clipnorm = _positive("clipnorm", clipnorm, False)
        self.clipvalue = _positive("clipvalue", clipvalue, False)
        self.global_clipnorm = _positive("global_clipnorm", global_clipnorm, False)
        self.use_ema = bool(use_ema)
        self.ema_momentum = check_range("ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (
                isinstance(ema_overwrite_frequency, bool) or
                not isinstance(ema_overwrite_frequency, (int, np.integer)) or
                ema_overwrite_frequency < 1):
            raise ValueError("Argument `ema_overwrite_frequency` must be an integer >= 1 or "
                             f"None. Received: ema_overwrite_frequency={ema_overwrite_frequency!r}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = _positive("loss_scale_factor", loss_scale_factor, False)
        n = gradient_accumulation_steps
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or n < 2):
            raise ValueError("Argument `gradient_accumulation_steps` must be an integer >= 2 "
                             f"or None. Received: gradient_accumulation_steps={n!r}")
        self.gradient_accumulation_steps = n
        self.name = name or snake_case(cls)
        self._iterations = 0
        self._dev, self._m = None, HOST  # host mode until built on device memory
        self._groups: list[FlatGroup] = []
        self._variables: list[Variable] = []
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern | None = None

    # -- learning rate ----------------------------------------------------------------------
    def _set_learning_rate(self, value: Any) -> None:
        if isinstance(value, dict):
            from gpunet.registry import deserialize

            value = deserialize("schedule", value)
        if _is_schedule(value):
            kind = "schedule"
        elif callable(value):
            kind = "step" if _takes_step(value) else "call"
        else:
            value, kind = check_range("learning_rate", value, 0.0), "float"
        self._learning_rate, self._lr_kind = value, kind
        if kind == "float" and self._dev is not None:
            self._dev.lr[...] = value

    @property
    def iterations(self) -> int:
        """The number of steps taken (a host read of the device counter in device mode)."""
        d = self._dev
        return self._iterations if d is None else int(d.m.read(d.it))

    @iterations.setter
    def iterations(self, value: int) -> None:
        d = self._dev
        if d is None:
            self._iterations = int(value)
        else:
            d.it[...] = int(value)

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule is evaluated at ``iterations``)."""
        kind = self._lr_kind
        if kind == "float":
            return self._learning_rate
        if kind == "call":
            return float(self._learning_rate())
        return float(self._learning_rate(self._iterations if self._dev is None else
                                         self.iterations))

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if self._lr_kind == "schedule" and not callable(value):
            raise TypeError(f"Optimizer '{self.name}' was created with a learning-rate "
                            "schedule, so its learning rate cannot be set to a number; create "
                            "the optimizer with a float `learning_rate` to change it.")
        self._set_learning_rate(value)

    lr = learning_rate

    # -- building -----------------------------------------------------------------------------
    def build(self, variables: Sequence[Variable]) -> None:
        """Packs ``variables`` into flat buffers (if they are not already) and makes slots.

        Resets the state (slots, Nadam's ``u_product``...) but not ``iterations``.
        """
        variables = list(variables)
        if not variables:
            raise ValueError(f"Optimizer '{self.name}' cannot be built on an empty list of "
                             "variables.")
        self._groups = _groups_for(variables)
        self._variables = variables
        where = {id(v): (gi, a, b) for gi, g in enumerate(self._groups)
                 for v, (a, b) in zip(g.variables, g.spans)}
        self._where = where
        self._index = [(v,) + where[id(v)] for v in variables]
        self._base_slot_names = (("average",) if self.use_ema else ()) + \
            (("gradient_accumulator",) if self.gradient_accumulation_steps else ())
        self._slots, self._scratch = [], []
        for g in self._groups:
            slots = {n: self._init_slot(n, g) for n in self.slot_names}
            if self.use_ema:
                slots["average"] = g.data.copy()
            if self.gradient_accumulation_steps:
                slots["gradient_accumulator"] = g.backend.xp.zeros_like(g.data)
            self._slots.append(slots)
            numpy = g.backend.is_host
            self._scratch.append(tuple(np.empty_like(g.data) for _ in range(self._n_scratch))
                                 if numpy else (None,) * self._n_scratch)
        self._scalars = self._init_scalars()
        self._constrained = [v for v in variables if v.constraint is not None]
        self._build_decay_masks()
        self._place_scalars()

    def _init_slot(self, name: str, group: FlatGroup) -> Any:
        return group.backend.xp.zeros_like(group.data)

    def _init_scalars(self) -> dict[str, float]:
        """Scalar state saved with the slots (Nadam's ``u_product``)."""
        return {}

    @property
    def variables(self) -> list:
        """The model variables this optimizer was built on, in the order given to ``build``."""
        return list(self._variables)

    @property
    def built(self) -> bool:
        return bool(self._groups)

    # -- weight decay exclusion ---------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list: Sequence[Variable] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Excludes variables from weight decay.

        Args:
            var_list: variables to exclude.
            var_names: substrings (regular expressions); a variable whose ``name`` contains
                one (e.g. ``["bias"]``) is excluded.
        """
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(sorted(set(var_names)))) \
            if var_names else None
        if self._groups:
            self._build_decay_masks()

    def _use_weight_decay(self, v: Variable) -> bool:
        if id(v) in self._exclude_ids:
            return False
        p = self._exclude_pattern
        return not (p is not None and p.search(str(v.name)) is not None)

    def _build_decay_masks(self) -> None:
        """Per group: None (decay everything), False (nothing) or a 0/1 mask buffer."""
        self._decay_masks = []
        for g in self._groups:
            keep = [self._use_weight_decay(v) for v in g.variables]
            if all(keep):
                self._decay_masks.append(None)
            elif not any(keep):
                self._decay_masks.append(False)
            else:
                mask = np.zeros(g.size, dtype=g.data.dtype)
                for k, (a, b) in zip(keep, g.spans):
                    mask[a:b] = k
                self._decay_masks.append(g.backend.asarray(mask))

    # -- stepping -----------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars: Iterable) -> int:
        """Keras API: applies ``(gradient, variable)`` pairs; returns ``iterations`` (a host
        read of the step count in device mode; ``apply`` returns nothing and reads nothing)."""
        self._apply_gradients(grads_and_vars)
        return self.iterations

    def _apply_gradients(self, grads_and_vars: Iterable) -> None:
        frozen = self._load_gradients(grads_and_vars)
        self.step()
        self._restore_frozen(frozen)

    def _load_gradients(self, grads_and_vars: Iterable) -> list:
        """Builds if needed and writes the gradients into the flat buffers; returns what
        ``_restore_frozen`` puts back for the built variables without a gradient."""
        pairs = list(grads_and_vars)
        kept = [(g, v) for g, v in pairs if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable.")
        if len(kept) < len(pairs):
            missing = [v.path for g, v in pairs if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing "
                          "the loss.", stacklevel=2)
        ids = {id(v) for _, v in kept}
        if not self._groups or not ids <= set(self._where):
            self.build([v for _, v in kept])
        elif any(v._flat_group is not self._groups[self._where[id(v)][0]] for _, v in kept):
            self._rebind()
        for g, v in kept:
            g = g.data if getattr(g, "_gpunet_tensor", False) else g
            gi, a, b = self._where[id(v)]
            group = self._groups[gi]
            group.grad[a:b] = group.backend.asarray(g).reshape(-1)
        # Built variables without a gradient this time are left untouched (weights and slots).
        frozen = []
        for v, gi, a, b in self._index:
            if id(v) not in ids:
                self._groups[gi].grad[a:b] = 0
                frozen.append((gi, a, b, self._groups[gi].data[a:b].copy(),
                               {n: s[a:b].copy() for n, s in self._slots[gi].items()}))
        return frozen

    def _restore_frozen(self, frozen: list) -> None:
        for gi, a, b, data, slots in frozen:
            self._groups[gi].data[a:b] = data
            for n, s in slots.items():
                self._slots[gi][n][a:b] = s

    def _rebind(self) -> None:
        """The variables were re-packed elsewhere (``compile``, another optimizer): build on
        their new buffers, keeping the state (slots and scalars) and ``iterations``."""
        state = [a for _, a in self.get_slot_arrays()]
        self.build(self._variables)
        self.set_slot_arrays(state)

    def apply(self, grads: Sequence, trainable_variables: Sequence[Variable] | None = None) -> None:
        """Keras 3 API: applies ``grads`` to ``trainable_variables`` (default: the built ones)."""
        if trainable_variables is None:
            if not self._groups:
                raise ValueError("When passing `grads` without `variables`, the optimizer must "
                                 "already be built: call `optimizer.build(variables)` first.")
            trainable_variables = self._variables
        self._apply_gradients(zip(grads, trainable_variables))

    def step(self) -> None:
        """One update of every built variable from its ``grad`` (already in the flat buffer)."""
        if not self._groups:
            raise ValueError(f"Optimizer '{self.name}' has not been built: call "
                             "`optimizer.build(variables)` or `apply_gradients` first.")
        if self._grad_reducer is not None:  # data parallel: average the grads over ranks
            self._grad_reducer(self)
        if self._dev is not None:
            self._device_step(self._dev)
            return
        raw = self._iterations
        n = self.gradient_accumulation_steps
        if self.loss_scale_factor is not None:
            for g in self._groups:
                g.grad *= 1.0 / self.loss_scale_factor
        count = raw // n if n else raw
        if n and (raw + 1) % n:
            for g, s in zip(self._groups, self._slots):
                s["gradient_accumulator"] += g.grad
        else:
            if n:
                for g, s in zip(self._groups, self._slots):
                    acc = s["gradient_accumulator"]
                    g.grad += acc
                    g.grad *= 1.0 / n
                    acc[...] = 0
            self._update(count + 1)
        if self.use_ema:
            mu = self.ema_momentum if count else 0.0
            f = self.ema_overwrite_frequency
            for g, s in zip(self._groups, self._slots):
                ema_update(g.backend, s["average"], g.data, mu)
                if f and (count + 1) % f == 0:
                    g.data[...] = s["average"]
        self._iterations = raw + 1
        for v in self._constrained:
            v.data[...] = v.constraint(v.data)

    def _update(self, t: Any, lr: Any = None) -> None:
        """Clipping, weight decay and ``update_group`` for each group at update number ``t``
        (Python numbers, or device scalars in device mode)."""
        if lr is None:
            lr = self.learning_rate
        self._clip()
        self._prepare(t, lr)
        wd = self.weight_decay
        for group, slots, scratch, mask in zip(self._groups, self._slots, self._scratch,
                                               self._decay_masks):
            if wd and mask is not False:
                weight_decay_update(group.backend, group.data, lr * wd, mask, scratch[0])
            self.update_group(group, slots, scratch, lr, t)

    def supports_weight_backup(self) -> bool:
        """Whether the next ``step`` can write each group's weights before its update into
        ``guard_backups`` and report non-finite new weights in ``guard_bad``, in the update's
        own pass, with the update as the step's last change to the weights. False here; an
        optimizer with such a kernel says when it applies."""
        return False

    def _plain_step(self) -> bool:
        """True when ``step`` changes the weights in ``update_group`` only: host mode, no
        weight decay, EMA, constraints or gradient accumulation."""
        return (self._dev is None and not self.weight_decay and not self.use_ema
                and not self._constrained and not self.gradient_accumulation_steps)

    def _prepare(self, t: Any, lr: Any) -> None:
        """Per-step values, computed once before the groups: Nadam's ``u_product`` and
        coefficients, Adam's bias-corrected rate."""

    def _clip(self) -> None:
        if self.clipvalue is not None:
            c = self.clipvalue
            for g in self._groups:
                g.backend.xp.clip(g.grad, -c, c, out=g.grad)
        elif self.clipnorm is not None:
            c = self.clipnorm
            for _v, gi, a, b in self._index:
                gv = self._groups[gi].grad[a:b]
                xp = self._groups[gi].backend.xp
                gv *= c / xp.maximum(xp.sqrt(xp.dot(gv, gv)), c)
        elif self.global_clipnorm is not None:
            c = self.global_clipnorm
            xp = self._groups[0].backend.xp
            total = sum(xp.dot(g.grad, g.grad).astype("float64") for g in self._groups)
            with np.errstate(divide="ignore", invalid="ignore"):
                norm = xp.sqrt(total)
                scale = c * xp.minimum(1.0 / norm, 1.0 / c) + (norm - norm)
            for g in self._groups:
                g.grad *= scale.astype(g.grad.dtype)

    def update_group(self, group: FlatGroup, slots: dict, scratch: tuple, lr: float,
                     t: int) -> None:
        """Updates ``group.data`` in place from ``group.grad``: the whole flat buffer at once.

        Args:
            group: the flat group (``data``, ``grad`` 1-D buffers, ``backend``).
            slots: slot name → flat buffer of the group's size.
            scratch: ``_n_scratch`` scratch buffers (NumPy) or Nones (CuPy).
            lr: the current learning rate.
            t: the update number, counted from 1.

        In device mode ``lr`` and ``t`` are device scalars (0-d float64 arrays): compute with
        them through ``self._m`` (``pow``, ``sqrt``, ``cast``...), never with ``math``.
        """
        raise NotImplementedError

    def scale_loss(self, loss: Any) -> Any:
        """``loss · loss_scale_factor`` (the loss unchanged when no factor is set)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def finalize_variable_values(self, variables: Sequence[Variable] | None = None) -> None:
        """With ``use_ema``, writes the moving averages into the weights (end of ``fit``).

        Args:
            variables: the variables to overwrite (default: every built one).
        """
        if not self.use_ema or not self._groups:
            return
        wanted = None if variables is None else {id(v) for v in variables}
        for v, gi, a, b in self._index:
            if wanted is None or id(v) in wanted:
                self._groups[gi].data[a:b] = self._slots[gi]["average"][a:b]

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments (a schedule as ``{"class_name", "config"}``)."""
        lr = self._learning_rate
        if self._lr_kind == "schedule":
            lr = {"module": "keras.optimizers.schedules", "class_name": type(lr).__name__,
                  "config": lr.get_config(), "registered_name": None}
        elif self._lr_kind != "float":
            lr = self.learning_rate
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Optimizer:
        """Rebuilds the optimizer (without state) from ``get_config()``."""
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            from gpunet.registry import deserialize

            config["learning_rate"] = deserialize("schedule", lr, custom_objects)
        return cls(**config)

    # -- state for saving ---------------------------------------------------------------------
    def get_slot_arrays(self) -> list[tuple[str, Any]]:
        """``(name, host array)`` of the state in Keras 3 order.

        The per-variable base slots (``average`` with EMA, ``gradient_accumulator``), then
        each variable's own slots in ``slot_names`` order, then scalars (``u_product``).
        """
        out = []
        for names in (self._base_slot_names, self.slot_names) if self._groups else ():
            for v, gi, a, b in self._index:
                for n in names:
                    arr = self._slots[gi][n][a:b].reshape(v.shape)
                    out.append((f"{self.name}/{v.path.replace('/', '_')}_{n}",
                                self._groups[gi].backend.to_numpy(arr).copy()))
        for n, value in getattr(self, "_scalars", {}).items():
            if not isinstance(value, (int, float)):
                value = self._dev.m.read(value)
            out.append((f"{self.name}/{n}", np.array(value, dtype=np.float64)))
        return out

    def set_slot_arrays(self, arrays: Sequence[Any]) -> None:
        """Restores the state from arrays in the order of ``get_slot_arrays``."""
        arrays = list(arrays)
        per_var = len(self._base_slot_names) + len(self.slot_names) if self._groups else 0
        expected = len(self._variables) * per_var + len(getattr(self, "_scalars", {}))
        if len(arrays) != expected:
            raise ValueError(f"Optimizer '{self.name}' expects {expected} state arrays; "
                             f"received {len(arrays)}.")
        i = 0
        for names in (self._base_slot_names, self.slot_names) if self._groups else ():
            for v, gi, a, b in self._index:
                for n in names:
                    src = np.asarray(self._groups[gi].backend.to_numpy(arrays[i])).reshape(-1)
                    if src.size != b - a:
                        raise ValueError(f"Optimizer slot '{n}' for '{v.path}' has {src.size} "
                                         f"values; expected {b - a}.")
                    self._slots[gi][n][a:b] = self._groups[gi].backend.asarray(src)
                    i += 1
        for n in list(getattr(self, "_scalars", {})):
            value = float(np.asarray(arrays[i]))
            if isinstance(self._scalars[n], (int, float)):
                self._scalars[n] = value
            else:
                self._scalars[n][...] = value
            i += 1


def _groups_for(variables: Sequence[Variable]) -> list[FlatGroup]:
    """Existing flat groups covering exactly ``variables``, else a fresh packing."""
    groups, seen = [], set()
    for v in variables:
        g = getattr(v, "_flat_group", None)
        if g is None:
            groups = None
            break
        if id(g) not in seen:
            seen.add(id(g))
            groups.append(g)
    if groups is not None and sum(len(g.variables) for g in groups) == len(variables):
        return groups
    groups = pack(variables)
    for g in groups:
        for v in g.variables:
            v._flat_group = g
    return groups


register(_KIND)(Optimizer)
