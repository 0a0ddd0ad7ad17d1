"""``compile``'s execution options: ``steps_per_execution`` and ``jit_compile``."""

from __future__ import annotations

import warnings
from typing import Any

from gpunet.models.checks import positive_int


def execution_options(steps_per_execution: Any, jit_compile: Any) -> tuple:
    """The checked ``(steps_per_execution, jit_compile)`` of ``Model.compile``.

    ``steps_per_execution=N`` makes ``fit`` / ``evaluate`` / ``predict`` call the batch
    callbacks once every N steps, as Keras 3 does (``on_*_batch_begin(first)`` and
    ``on_*_batch_end(first + N - 1, logs)``); the steps themselves run one by one.
    ``jit_compile``: True, False or ``"auto"``. gpunet runs every step eagerly (no model
    supports compilation yet), so it resolves as Keras 3 resolves it for a model that cannot be
    compiled: ``"auto"`` becomes False, and True warns ("Model doesn't support
    `jit_compile=True`. Proceeding with `jit_compile=False`.") and becomes False.

    Returns:
        ``(steps_per_execution as int, jit_compile as a bool)``.
    """
    n = positive_int("steps_per_execution", steps_per_execution, "compile", allow_none=False)
    if jit_compile not in (True, False, "auto"):
        raise ValueError("compile(): `jit_compile` must be True, False or 'auto'. Received: "
                         f"jit_compile={jit_compile!r}")
    if jit_compile is True:
        warnings.warn("Model doesn't support `jit_compile=True`. Proceeding with "
                      "`jit_compile=False`. (gpunet runs every training step eagerly; "
                      "compiled steps are not implemented yet.)", stacklevel=3)
    return n, False
