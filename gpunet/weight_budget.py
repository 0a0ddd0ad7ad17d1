"""A cap on the weight elements a model built from a file may create.

A file of a few kilobytes can declare ``Dense(units=1_000_000)`` on a 10 000-wide input: 40 GB
of float32 drawn by the initializer before any weight is compared with the file. While a
loader builds a model from a file's config it opens ``weight_budget`` with what the file can
hold (its weights' declared sizes), and ``Layer.add_weight`` calls ``charge`` before drawing
a weight: one that would take the model past the budget is refused at once, with an error
naming the file, the layer and the shape. Outside a loader there is no budget.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence

# room for variables a file does not store (seed states, counters) and rounding
SLACK = 1 << 24
_STATE = threading.local()


@contextlib.contextmanager
def weight_budget(elements: int | None, source: str) -> Iterator[None]:
    """Within the block, models built may create at most ``elements + SLACK`` weight elements.

    Args:
        elements: the weight elements ``source`` can hold (``None``: no cap).
        source: the file, for the message.
    """
    old = getattr(_STATE, "budget", None)
    _STATE.budget = None if elements is None else [int(elements) + SLACK, int(elements), source]
    try:
        yield
    finally:
        _STATE.budget = old


def charge(shape: Sequence[int], layer: str, weight: str) -> None:
    """Counts a weight of ``shape`` against the open budget (if any).

    Raises:
        ValueError: naming the file, the layer, the weight and its shape when the budget is
            exceeded.
    """
    budget = getattr(_STATE, "budget", None)
    if budget is None:
        return
    n = math.prod(int(s) for s in shape)
    budget[0] -= n
    if budget[0] < 0:
        raise ValueError(f"the config of {budget[2]!r} makes layer '{layer}' create the "
                         f"weight '{weight}' of shape {tuple(shape)} ({n} elements), more than "
                         f"the weights the file holds ({budget[1]} elements): the file is "
                         "damaged or hostile (nothing that large was allocated)")
