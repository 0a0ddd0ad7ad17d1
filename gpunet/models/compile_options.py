"""``compile``'s execution options: ``steps_per_execution`` and ``jit_compile``."""

from __future__ import annotations

from typing import Any

from gpunet.models.checks import positive_int


def execution_options(steps_per_execution: Any, jit_compile: Any) -> tuple:
    """The checked ``(steps_per_execution, jit_compile)`` of ``Model.compile``.

    ``steps_per_execution=N`` makes ``fit`` / ``evaluate`` / ``predict`` call the batch
    callbacks once every N steps, as Keras 3 does (``on_*_batch_begin(first)`` and
    ``on_*_batch_end(first + N - 1, logs)``); the steps themselves run one by one.
    ``jit_compile`` (True, False or ``"auto"``) is accepted and kept for Keras code; it has no
    effect on the NumPy (CPU) backend, where every step runs eagerly.

    Returns:
        ``(steps_per_execution as int, jit_compile)``.
    """
    n = positive_int("steps_per_execution", steps_per_execution, "compile", allow_none=False)
    if jit_compile not in (True, False, "auto"):
        raise ValueError("compile(): `jit_compile` must be True, False or 'auto'. Received: "
                         f"jit_compile={jit_compile!r}")
    return n, jit_compile
