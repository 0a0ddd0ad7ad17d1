"""Keeps the weights finite during ``fit``: a step whose loss or new weights are not finite is
undone, without a host read per step on a GPU.

Before a training step the guard copies the trainable and non-trainable flat buffers and the
optimizer's slots into reused backup buffers. After the step it computes one device flag,
``isfinite(loss) & all(isfinite(buffer))`` over every buffer, and puts the backups back where
the flag is false (on a GPU: a masked copy, no sync; on NumPy the flag is read at once, which is
cheap, and the copy is made only for a bad step). Skipped steps are counted in a device scalar
that ``fit`` reads when it reads the logs.
"""

from __future__ import annotations

from typing import Any


class FiniteGuard:
    """Undoes training steps that leave a non-finite loss, weight or optimizer slot.

    Args:
        model: the model being trained (its ``_groups`` and ``_state_groups`` are guarded).
        optimizer: its optimizer (slots and scalar state are guarded); may be None.
        custom: the step is a user ``train_step``: guard the buffers the weights live in now
            (optimizers given the variables directly may have re-packed them) and the slots of
            every optimizer the model holds as an attribute (a GAN's two optimizers).

    Example:

    >>> guard = FiniteGuard(model, model.optimizer)
    >>> guard.begin()
    >>> loss = run_one_step()
    >>> guard.end(loss)          # restores the weights if the step was not finite
    >>> guard.skipped()          # host read: how many steps were undone so far
    """

    def __init__(self, model: Any, optimizer: Any = None, custom: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self.custom = custom
        self._key: tuple = ()
        self._pairs: list = []
        self._count = None
        self._scalars: dict = {}
        self._b = None

    def _optimizers(self) -> list:
        opts = [] if self.optimizer is None else [self.optimizer]
        if self.custom:
            from gpunet.optimizers import Optimizer

            opts += [o for o in vars(self.model).values() if isinstance(o, Optimizer)]
        return list({id(o): o for o in opts}.values())

    def _buffers(self) -> list:
        model = self.model
        if self.custom:
            found: dict = {}
            for v in model.weights:
                g = getattr(v, "_flat_group", None)
                a = g.data if g is not None else v.data
                found.setdefault(id(a), a)
            bufs = list(found.values())
        else:
            bufs = [g.data for g in model._groups] + [g.data for g in model._state_groups]
        for opt in self._optimizers():
            if getattr(opt, "_groups", None):
                bufs += [s for slots in opt._slots for s in slots.values()]
        return bufs

    def begin(self) -> None:
        """Copies the weights and the optimizer state before a step."""
        bufs = self._buffers()
        key = tuple(id(a) for a in bufs)
        if not bufs:  # nothing to guard (a model without weights)
            self._key, self._pairs = key, []
        elif key != self._key:
            from gpunet.backend import backend_of

            self._key = key
            self._pairs = [(a, a.copy()) for a in bufs]
            self._b = backend_of(bufs[0])
            if self._count is None:
                self._count = self._b.xp.zeros((), dtype="int64")
        else:
            xp = self._b.xp
            for a, backup in self._pairs:
                xp.copyto(backup, a)
        self._scalars = {id(o): (o, dict(o._scalars)) for o in self._optimizers()
                         if getattr(o, "_scalars", None)}

    def end(self, loss: Any = None) -> Any:
        """Checks the step; restores the copies if the loss or any buffer is not finite.

        Args:
            loss: the step's loss (an array or a ``Tensor``), or None to check only the
                buffers.

        Returns:
            The "step was bad" flag as a 0-d device array (read it only when needed).
        """
        if not self._pairs:
            return None
        xp = self._b.xp
        ok = xp.ones((), dtype=bool)
        if loss is not None:
            data = getattr(loss, "data", loss)
            ok &= xp.isfinite(self._b.asarray(data)).all()
        for a, _ in self._pairs:
            ok &= xp.isfinite(a).all()
        bad = ~ok
        self._count += bad
        if self._b.name == "numpy":
            if bad:
                self._restore(None)
        else:
            self._restore(bad)
        return bad

    def _restore(self, where: Any) -> None:
        xp = self._b.xp
        for a, backup in self._pairs:
            if where is None:
                xp.copyto(a, backup)
            else:
                xp.copyto(a, backup, where=where)
        if where is None:
            for opt, scalars in self._scalars.values():
                opt._scalars.update(scalars)

    def skipped(self) -> int:
        """How many steps were undone since the guard was made (a host read)."""
        if self._count is None:
            return 0
        return int(self._b.to_numpy(self._count))
