"""Gradient averaging over processes, and the broadcast that makes every replica start equal."""

from __future__ import annotations

from typing import Any

from gpunet.distribute.comm import Communicator


def _comm(comm: Communicator | None) -> Communicator:
    if comm is not None:
        return comm
    from gpunet.distribute import communicator

    return communicator()


def DistributedOptimizer(optimizer: Any, comm: Communicator | None = None,  # noqa: N802
                         average: bool = True) -> Any:
    """Makes ``optimizer`` average its gradients over every process before each update.

    Each ``step()`` first runs one allreduce per flat gradient buffer (one per dtype, usually
    one for the whole model), then the usual update: clipping, weight decay and the rule all
    see the global gradient, as with one process on the union of the batches. The optimizer
    object itself is returned (its class, config and saved state are unchanged), so models
    compiled with it save and load like any other.

    Args:
        optimizer: an optimizer instance or name.
        comm: the communicator (default: the one from ``gpunet.distribute.init()``).
        average: average (True, Horovod's default) or sum the gradients.

    Returns:
        The optimizer, with its gradient reducer set.

    Example:

    >>> opt = dist.DistributedOptimizer(gpunet.optimizers.Adam(1e-3 * dist.size()))
    """
    from gpunet import optimizers

    opt = optimizers.get(optimizer)
    c = _comm(comm)

    def reduce(o) -> None:
        for group in o._groups:
            c.allreduce_(group.grad, average=average)

    opt._grad_reducer = reduce if c.size > 1 else None
    opt._distributed_comm = c
    return opt


def broadcast_model(model: Any, root: int = 0, comm: Communicator | None = None) -> None:
    """Copies ``root``'s weights (and optimizer state, when built) to every process.

    Args:
        model: a built model.
        root: the rank whose values win.
        comm: the communicator (default: the one from ``init()``).
    """
    c = _comm(comm)
    if c.size == 1:
        return
    if not model.built:
        raise ValueError(f"broadcast_model: model '{model.name}' is not built; build it (or "
                         "call it on data) on every rank first.")
    model._pack()
    for group in list(model._groups) + list(model._state_groups):
        c.broadcast_(group.data, root)
    opt = getattr(model, "optimizer", None)
    if opt is not None and getattr(opt, "_groups", None):
        for slots in opt._slots:
            for buf in slots.values():
                c.broadcast_(buf, root)
        opt.iterations = c.broadcast_object(int(opt.iterations), root)
