"""``gpunet.applications.resnet50``: the ResNet50 names, as ``keras.applications.resnet50``."""

from gpunet.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
