"""Process-wide state that ``gpunet.backend.clear_session`` resets (Keras 3 keeps the same in
its backend's global state): the counters behind automatic layer and model names."""

from __future__ import annotations

# base name -> how many layers took it (``dense``, ``dense_1``, ...).
NAME_COUNTS: dict[str, int] = {}
