"""A cap on the weight elements a model built from a file may create.

A file of a few kilobytes can declare ``Dense(units=1_000_000)`` on a 10 000-wide input: 40 GB
of float32 drawn by the initializer before any weight is compared with the file. While a
loader builds a model from a file's config it opens ``weight_budget`` with what the file can
hold (its weights' declared sizes), and ``Layer.add_weight`` calls ``charge`` before drawing
a weight: one that would take the model past the budget is refused at once, with an error
naming the file, the layer and the shape. A config read from a string
(``model_from_json``/``model_from_yaml``) has no file to measure: ``memory_budget`` caps it at
half the memory free at the time (float32 elements), so a hostile string gets the same clear
error instead of an allocation the machine cannot make. Outside these there is no budget.
"""

from __future__ import annotations

import contextlib
import math
import os
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
    _STATE.budget = None if elements is None else [int(elements) + SLACK, int(elements), source,
                                                   "the weights the file holds"]
    try:
        yield
    finally:
        _STATE.budget = old


def free_memory_bytes() -> int | None:
    """The physical memory free now (Linux, BSD and macOS sysconf), or None if unknown."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


@contextlib.contextmanager
def memory_budget(source: str) -> Iterator[None]:
    """Within the block, models built may create at most half the free memory's worth of
    float32 weight elements (no cap where the free memory is unknown).

    Args:
        source: what the config came from, for the message.
    """
    free = free_memory_bytes()
    old = getattr(_STATE, "budget", None)
    if free is None:
        _STATE.budget = None
    else:
        cap = free // 2 // 4
        _STATE.budget = [cap, cap, source, "half the memory free now "
                         f"({free / 2**30:.1f} GiB free, float32)"]
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
                         f"{budget[3]} ({budget[1]} elements): the config is damaged or "
                         "hostile (nothing that large was allocated)")
