"""Crash-safe file replacement for the savers: ``gpunet.atomic_io``, the one atomic writer of
gpunet, under its saving-package name (see that module)."""

from gpunet.atomic_io import (  # noqa: F401 - the saving package's names for it
    STALE_AFTER_S,
    atomic_replace,
    is_stale,
    remove_stale_temps,
    stale_temps,
    temp_name,
    write_bytes,
)

__all__ = ["STALE_AFTER_S", "atomic_replace", "is_stale", "remove_stale_temps", "stale_temps",
           "temp_name", "write_bytes"]
