"""``set_random_seed``: one call that makes runs reproducible on every backend."""

from __future__ import annotations

from gpunet.backend.random import set_seed


def set_random_seed(seed: int) -> None:
    """Seeds Python's ``random``, NumPy, gpunet's host generator and every device backend.

    Initial weights are drawn on the host, so the same seed gives the same initial weights
    on the CPU and on a GPU.

    Example:

    >>> gpunet.utils.set_random_seed(42)
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r}")
    set_seed(seed)
