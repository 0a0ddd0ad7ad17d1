"""The optimizer step in device mode: the step count, the learning rate and every per-step
scalar in device memory, advanced and used on the device (see ``gpunet.optimizers.scalars``).

``DeviceScalarsMixin`` is part of ``Optimizer``: it picks the mode when the optimizer is built
(device mode where the variables' memory is not the host's, or as ``device_scalars`` says),
holds the device scalars (``DeviceState``), runs ``step()`` without a host read, and applies an
update *masked* by a device flag (the update runs, then the state is put back where the flag
is False), which is how gradient accumulation and ``LossScaleOptimizer`` skip a step without
asking the host. ``host_step_reason`` names what keeps a step on the host (a Python callable
as the learning rate, ...): such a step still runs in device mode, reading what it must.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.kernels import ema_update
from gpunet.backend.kernels._spec import launch
from gpunet.optimizers.scalars import HOST, DeviceMath
from gpunet.optimizers.schedules import device_evaluable
from gpunet.optimizers.traced import schedule_spec


class DeviceState:
    """The device scalars of one optimizer.

    Attributes:
        b: the variables' backend.
        m: its ``DeviceMath``.
        it: ``iterations`` (0-d int64).
        lr: the learning rate when it is a float or evaluated on the host (0-d float64).
        backups: the buffers' copies of the masked updates, made once per layout.
    """

    def __init__(self, backend: Any, iterations: int, lr: float) -> None:
        self.b = backend
        self.m = DeviceMath(backend)
        self.it = self.m.scalar(int(iterations), "int64")
        self.lr = self.m.scalar(float(lr), "float64")
        self.backups: dict[str, list] = {}


class DeviceScalarsMixin:
    """Device mode of ``Optimizer`` (see the module docstring)."""

    _dev: DeviceState | None = None
    _m: Any = HOST
    _device_scalars: bool | None = None

    @property
    def device_scalars(self) -> bool | None:
        """Where the step's scalars live: ``None`` (default) decides by the variables' backend
        (device memory on a GPU, Python numbers on the CPU); ``True``/``False`` force device or
        host mode (both give the same numbers). Set it before or after building."""
        return self._device_scalars

    @device_scalars.setter
    def device_scalars(self, value: bool | None) -> None:
        self._device_scalars = None if value is None else bool(value)
        if self._groups:
            self._place_scalars()

    @property
    def host_step_reason(self) -> str | None:
        """Why a step of this optimizer needs the host (so cannot be captured as a CUDA graph),
        or None when its step count, learning rate and per-step scalars all live and advance
        on the device."""
        if not self._groups:
            return "the optimizer is not built yet"
        if self._dev is None:
            b = self._groups[0].backend
            why = (f"its variables live in host memory ({b.name} backend)" if b.is_host else
                   "device_scalars=False")
            return f"{why}, so its step scalars are Python numbers"
        lr, kind = self._learning_rate, self._lr_kind
        if kind in ("call", "step"):
            return (f"its learning_rate is a Python callable ({getattr(lr, '__name__', lr)!r}), "
                    "evaluated on the host at every step")
        if kind == "schedule" and not device_evaluable(lr):
            return (f"its learning-rate schedule {type(lr).__name__} defines its own __call__, "
                    "evaluated on the host at every step")
        if self._grad_reducer is not None:
            return "its gradients are averaged across processes by a host-side reducer"
        return None

    @property
    def device_resident(self) -> bool:
        """True when a step needs nothing from the host (``host_step_reason`` is None)."""
        return self.host_step_reason is None

    # -- mode -----------------------------------------------------------------------------------
    def _place_scalars(self) -> None:
        """Moves ``iterations``, the learning rate and ``_scalars`` to the mode wanted."""
        b = self._groups[0].backend
        want = self._device_scalars if self._device_scalars is not None else not b.is_host
        iterations = self.iterations
        scalars = {n: float(self._dev.m.read(v) if self._dev is not None and
                            not isinstance(v, (int, float)) else v)
                   for n, v in getattr(self, "_scalars", {}).items()}
        if want:
            lr = self._learning_rate if self._lr_kind == "float" else 0.0
            d = self._dev = DeviceState(b, iterations, lr)
            self._m = d.m
            self._scalars = {n: d.m.scalar(v) for n, v in scalars.items()}
        else:
            self._dev, self._m = None, HOST
            self._iterations = iterations
            self._scalars = scalars

    def _device_lr(self, d: DeviceState, it: Any) -> Any:
        """The learning rate at step ``it`` (the raw count) as a device scalar."""
        kind, lr = self._lr_kind, self._learning_rate
        if kind == "float":
            return d.lr
        if kind == "schedule" and device_evaluable(lr):
            spec = self._schedule_kernel(lr) if d.m.kernels else None
            if spec is None:
                return lr._value(it.astype("float64"), d.m)
            out = d.b.xp.empty(1, dtype="float64")  # on a GPU: the schedule in one launch
            launch(d.b, spec, it.reshape(1), out)
            return out
        d.lr[...] = self.learning_rate  # host-evaluated: see host_step_reason
        return d.lr

    def _schedule_kernel(self, schedule: Any) -> Any:
        """The traced one-launch kernel of ``schedule`` (``gpunet.optimizers.traced``), made
        again when the schedule or its config changes; None when its formula does not trace."""
        key = (id(schedule), repr(vars(schedule)))
        cached = getattr(self, "_lr_kernel", None)
        if cached is None or cached[0] != key:
            cached = self._lr_kernel = (key, schedule_spec(schedule))
        return cached[1]

    # -- masked updates -------------------------------------------------------------------------
    def _update_buffers(self) -> list:
        """What one update changes: weights, the optimizer's own slots, scalars, extra state."""
        out = [g.data for g in self._groups]
        out += [s[n] for s in self._slots for n in self.slot_names]
        out += [v for v in self._scalars.values() if not isinstance(v, (int, float))]
        return out + list(self._extra_state())

    def _step_buffers(self) -> list:
        """What one whole step changes: the update's buffers, the base slots (EMA average,
        gradient accumulator) and ``iterations``."""
        return self._update_buffers() + [s[n] for s in self._slots
                                         for n in self._base_slot_names] + [self._dev.it]

    def _extra_state(self) -> list:
        """State arrays outside ``_slots`` (Adafactor's factored moments)."""
        return []

    def _masked(self, key: str, buffers: list, ok: Any, run: Any) -> None:
        """Runs ``run()``, then puts ``buffers`` back where the device flag ``ok`` is False."""
        d = self._dev
        xp = d.b.xp
        pairs = d.backups.get(key)
        if pairs is None or len(pairs) != len(buffers) or \
                any(a is not p[0] for a, p in zip(buffers, pairs)):
            pairs = d.backups[key] = [(a, a.copy()) for a in buffers]
        else:
            for a, backup in pairs:
                xp.copyto(backup, a)
        with np.errstate(all="ignore"):  # a step to be put back may well overflow
            run()
        bad = xp.logical_not(ok)
        for a, backup in pairs:
            xp.copyto(a, backup, where=bad)

    def masked_step(self, ok: Any) -> None:
        """``step()`` where the device flag ``ok`` holds; elsewhere weights, slots, scalars and
        ``iterations`` stay as they were (no host read). In host mode ``ok`` is read."""
        if self._dev is None:
            if bool(ok):
                self.step()
            return
        self._masked("step", self._step_buffers(), ok, self.step)

    # -- the step -------------------------------------------------------------------------------
    def _device_step(self, d: DeviceState) -> None:
        """``step()`` in device mode: the host path's arithmetic on device scalars."""
        xp, m = d.b.xp, d.m
        groups, slots = self._groups, self._slots
        if self.loss_scale_factor is not None:
            for g in groups:
                g.grad *= 1.0 / self.loss_scale_factor
        it = d.it
        n = self.gradient_accumulation_steps
        if n:
            count = it // n
            boundary = (it + 1) % n == 0
            for g, s in zip(groups, slots):
                acc = s["gradient_accumulator"]
                acc += g.grad
                xp.copyto(g.grad, acc)
                g.grad *= 1.0 / n
                xp.copyto(acc, 0, where=boundary)
            t = (count + 1).astype("float64")
            self._masked("update", self._update_buffers(), boundary,
                         lambda: self._update(t, self._device_lr(d, it)))
        else:
            count = it
            self._update(it + 1.0, self._device_lr(d, it))
        if self.use_ema:
            mu = m.where(count > 0, self.ema_momentum, 0.0)
            f = self.ema_overwrite_frequency
            for g, s in zip(groups, slots):
                ema_update(g.backend, s["average"], g.data, mu)
                if f:
                    xp.copyto(g.data, s["average"], where=(count + 1) % f == 0)
        it += 1
        for v in self._constrained:
            v.data[...] = v.constraint(v.data)
