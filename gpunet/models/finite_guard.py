"""Keeps the weights finite during ``fit``: a step whose loss, gradients or new weights are not
finite is undone, without a host read per step on a GPU.

The built-in step checks in two places. Before the optimizer update, ``isfinite(loss)`` and
the gradients: when they are not finite the update is skipped (weights, optimizer slots and
normalization statistics unchanged; ``iterations`` still counts the step). After the update,
the new weights: when they are not finite the weights and normalization statistics are put
back (the slots keep that step's finite-gradient update). On NumPy the flags are read at once
(cheap) and only the weights are copied before a step; on a GPU nothing is read: the update
always runs and the backups are put back with masked copies. Skipped steps are counted in a
device scalar that ``fit`` reads when it reads the logs.

A user ``train_step`` is guarded as a whole (``custom=True``): every weight buffer and the
slots of every optimizer the model holds are copied before it and put back if any of them is
not finite after it.
"""

from __future__ import annotations

import math
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of


def _array(loss: Any) -> Any:
    return loss.data if isinstance(loss, Tensor) else loss


class FiniteGuard:
    """Undoes training steps that give a non-finite loss, gradient or weight.

    Args:
        model: the model being trained (its ``_groups`` and ``_state_groups`` are guarded).
        optimizer: its optimizer (slots guarded); may be None.
        custom: guard a user ``train_step`` as a whole (see the module docstring).

    Example:

    >>> guard = FiniteGuard(model, model.optimizer)
    >>> guard.begin()
    >>> loss = forward_and_backward()
    >>> if guard.before_update(loss):
    ...     model.optimizer.step()
    >>> guard.end()
    >>> guard.skipped()          # host read: how many steps were undone so far
    """

    def __init__(self, model: Any, optimizer: Any = None, custom: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self.custom = custom
        self._key: tuple = ()
        self._b = None
        self._weights: list = []   # (buffer, backup): put back when the step was bad
        self._slots: list = []     # (buffer, backup): put back when the loss/grads were bad
        self._grads: list = []
        self._weight_checks: list = []
        self._grad_checks: list = []
        self._count = None
        self._pre = None
        self._host = False
        self._scaled = False
        # NumPy: the ids of the weight buffers whose backup the optimizer's update writes
        # itself this step (``Optimizer.supports_weight_backup``), and the checks of the rest
        self._fused: frozenset = frozenset()
        self._copy_pairs: list = []
        self._rest_checks: list = []
        # (ids, {id: backup}) of the optimizer groups the update may back up itself, or None
        self._offer: tuple | None = None

    # -- what is guarded ----------------------------------------------------------------------
    def _optimizers(self) -> list:
        opts = [] if self.optimizer is None else [self.optimizer]
        if self.custom:
            from gpunet.optimizers import Optimizer

            opts += [o for o in vars(self.model).values() if isinstance(o, Optimizer)]
        return list({id(o): o for o in opts}.values())

    def _layout(self) -> tuple:
        model = self.model
        slots = [s for o in self._optimizers() if getattr(o, "_groups", None)
                 for g in o._slots for s in g.values()]
        if self.custom:
            found: dict = {}
            for v in model.weights:
                g = getattr(v, "_flat_group", None)
                a = g.data if g is not None else v.data
                found.setdefault(id(a), a)
            return list(found.values()) + slots, [], []
        weights = [g.data for g in model._groups] + [g.data for g in model._state_groups]
        return weights, slots, [g.grad for g in model._groups]

    def _refresh(self) -> bool:
        """True when the guarded buffers are those of the last step (the common case)."""
        model, opt = self.model, self.optimizer
        key = self._key
        if key and key[0] is model._groups and key[1] is model._state_groups and \
                key[2] is getattr(opt, "_slots", None):
            return True
        key = () if self.custom else (model._groups, model._state_groups,
                                      getattr(opt, "_slots", None))
        weights, slots, grads = self._layout()
        numpy = bool(weights) and backend_of(weights[0]).is_host
        self._b = backend_of(weights[0]) if weights else None
        self._host = numpy
        self._weights = [(a, a.copy()) for a in weights]
        # NumPy skips a bad update instead of undoing it: slots need no copy there
        self._slots = [(a, None if numpy else a.copy()) for a in slots]
        # a LossScaleOptimizer skips non-finite gradients itself (and halves its scale):
        # the guard leaves its gradients alone
        self._scaled = getattr(opt, "inner_optimizer", None) is not None
        if self._scaled:
            grads = []
        self._grads = list(grads)
        # NumPy: one check function per buffer, made once (one pass each, no temporary)
        check = self._b.finite_check if numpy else None
        self._weight_checks = [check(a) for a in weights] if numpy else []
        self._grad_checks = [check(g) for g in grads] if numpy else []
        self._set_fused(frozenset())
        # the optimizer groups' backups, when every group is one of the model's (else None)
        self._offer = None
        opt = self.optimizer
        if numpy and not self.custom and not self._scaled and getattr(opt, "_groups", None):
            mine = {id(a): b for a, b in self._weights[:len(model._groups)]}
            ids = [id(g.data) for g in opt._groups]
            if all(i in mine for i in ids):
                self._offer = (frozenset(ids), {i: mine[i] for i in ids})
        if self._b is not None and self._count is None:
            self._count = 0 if numpy else self._b.xp.zeros((), dtype="int64")
        self._key = key
        return False

    def _set_fused(self, fused: frozenset) -> None:
        self._fused = fused
        self._copy_pairs = [p for p in self._weights if id(p[0]) not in fused]
        self._rest_checks = [c for (a, _), c in zip(self._weights, self._weight_checks)
                             if id(a) not in fused]

    def _hand_backups(self) -> None:
        """NumPy: lets an optimizer that can (Numba Adam) write the trainable weights'
        backups and check the new weights in its own pass, instead of a copy before the step
        and a check after it here."""
        offer = self._offer
        fused: frozenset = frozenset()
        if offer is not None and self.optimizer.supports_weight_backup():
            fused, backups = offer
            self.optimizer.guard_backups = backups
            self.optimizer.guard_bad = False
        if fused is not self._fused and fused != self._fused:
            self._set_fused(fused)

    # -- the step -----------------------------------------------------------------------------
    def begin(self) -> None:
        """Copies what the step may have to put back."""
        self._pre = None
        fresh = not self._refresh()
        if self._b is None:
            return  # nothing to guard
        if self._host:
            self._hand_backups()
        if fresh:
            return  # fresh copies were just made
        copyto = self._b.xp.copyto
        for a, backup in self._copy_pairs:
            copyto(backup, a)
        for a, backup in self._slots:
            if backup is not None:
                copyto(backup, a)

    def before_update(self, loss: Any) -> bool:
        """Checks the loss and the gradients; False: skip the optimizer update (NumPy only,
        where the flag is read at once; a GPU always updates and undoes it in ``end``)."""
        b = self._b
        if b is None:
            return True
        loss = _array(loss)
        if self._host:  # NumPy: read at once, cheap; few calls per step
            # a LossScaleOptimizer steps anyway: it skips the update and halves its scale
            ok = self._scaled or math.isfinite(float(loss))
            for check in self._grad_checks:
                ok = ok and check()
            if ok:
                return True
            self._count += 1
            self._pre = True
            # normalization statistics of the forward (the update does not run: the weights
            # whose backup it would have written are unchanged)
            self._put_back(self._copy_pairs, None)
            self._release()
            return False
        xp = b.xp
        ok = xp.isfinite(b.asarray(loss)).all()
        for g in self._grads:
            ok = ok & xp.isfinite(g).all()
        self._pre = ~ok
        return True

    def end(self, loss: Any = None) -> None:
        """Checks the new weights (and, for a custom step, everything) and puts back the
        copies where the step was not finite.

        Args:
            loss: a custom step's loss to check too, or None.
        """
        b = self._b
        if b is None:
            return
        if self._host:
            if self._pre:
                return  # skipped in before_update
            ok = loss is None or math.isfinite(float(_array(loss)))
            if self._fused:
                ok = ok and not self.optimizer.guard_bad
                self._release()
            for check in self._rest_checks:
                ok = ok and check()
            if not ok:
                self._count += 1
                self._put_back(self._weights, None)
            return
        xp = b.xp
        ok = xp.ones((), dtype=bool)
        if loss is not None:
            ok &= xp.isfinite(b.asarray(_array(loss))).all()
        for a, _ in self._weights:
            ok &= xp.isfinite(a).all()
        bad = ~ok
        pre = self._pre
        if pre is not None:
            bad = bad | pre
        self._count += bad
        self._put_back(self._weights, bad)
        self._put_back(self._slots, bad if pre is None else pre)

    def _release(self) -> None:
        if self._fused:
            self.optimizer.guard_backups = None

    def _put_back(self, pairs: list, where: Any) -> None:
        xp = self._b.xp
        for a, backup in pairs:
            if backup is None:
                continue
            if where is None:
                xp.copyto(a, backup)
            else:
                xp.copyto(a, backup, where=where)

    def skipped(self) -> int:
        """How many steps were undone since the guard was made (a host read)."""
        if self._count is None:
            return 0
        return int(self._count if isinstance(self._count, int) else
                   self._b.to_numpy(self._count))
