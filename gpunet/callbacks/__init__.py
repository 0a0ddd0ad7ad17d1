"""Callbacks: hooks into ``fit`` / ``evaluate`` / ``predict``."""

from gpunet.callbacks.backup_and_restore import BackupAndRestore
from gpunet.callbacks.base import Callback, CallbackList
from gpunet.callbacks.csv_logger import CSVLogger
from gpunet.callbacks.early_stopping import EarlyStopping
from gpunet.callbacks.history import History
from gpunet.callbacks.lambda_callback import LambdaCallback
from gpunet.callbacks.learning_rate_scheduler import LearningRateScheduler
from gpunet.callbacks.model_checkpoint import ModelCheckpoint
from gpunet.callbacks.progbar import Progbar, ProgbarLogger
from gpunet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from gpunet.callbacks.remote_monitor import RemoteMonitor
from gpunet.callbacks.swap_ema_weights import SwapEMAWeights
from gpunet.callbacks.tensorboard import TensorBoard
from gpunet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "Progbar",
           "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor", "SwapEMAWeights", "TensorBoard",
           "TerminateOnNaN"]
