"""Callbacks: hooks into ``fit`` / ``evaluate`` / ``predict``."""

from gpunet.callbacks.base import Callback, CallbackList
from gpunet.callbacks.early_stopping import EarlyStopping
from gpunet.callbacks.history import History
from gpunet.callbacks.progbar import Progbar, ProgbarLogger

__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "Progbar", "ProgbarLogger"]
