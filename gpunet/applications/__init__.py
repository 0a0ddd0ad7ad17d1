"""Ready-made image classification models, as ``keras.applications``.

Each is built natively from gpunet layers with Keras 3's layer names, order and weight
layouts, so a weights file saved by Keras (``.h5``, ``.weights.h5``) loads into it:

>>> from gpunet import applications
>>> model = applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10)
>>> x = applications.mobilenet_v2.preprocess_input(np.random.uniform(0, 255, (2, 96, 96, 3)))
>>> model.predict(x, verbose=0).shape
(2, 10)

``weights="imagenet"`` uses Keras's ImageNet weights when they are in ``$GPUNET_DATA_DIR``,
the gpunet or Keras cache, or can be downloaded; else pass the path of the file.
"""

from gpunet.applications import (
    densenet,
    efficientnet,
    imagenet_utils,
    mobilenet,
    mobilenet_v2,
    resnet,
    resnet50,
    vgg16,
    vgg19,
)
from gpunet.applications.densenet import DenseNet121
from gpunet.applications.efficientnet import EfficientNetB0
from gpunet.applications.mobilenet import MobileNet
from gpunet.applications.mobilenet_v2 import MobileNetV2
from gpunet.applications.resnet import ResNet50
from gpunet.applications.vgg16 import VGG16
from gpunet.applications.vgg19 import VGG19

__all__ = ["DenseNet121", "EfficientNetB0", "MobileNet", "MobileNetV2", "ResNet50", "VGG16",
           "VGG19", "densenet", "efficientnet", "imagenet_utils", "mobilenet", "mobilenet_v2",
           "resnet", "resnet50", "vgg16", "vgg19"]
