"""The image ops (``keras.ops.image``): colour-space conversions, resizing, patch extraction,
padding and cropping on the backend, differentiable, accepting Functional-API KerasTensors.

Example:

>>> from gpunet.ops import image
>>> image.extract_patches(np.zeros((2, 32, 32, 3), "float32"), 8).shape
(2, 4, 4, 192)
"""

from gpunet.ops.image.affine import affine_transform
from gpunet.ops.image.color import hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
from gpunet.ops.image.elastic_ssim import elastic_transform, ssim
from gpunet.ops.image.filters import gaussian_blur, sobel_edges
from gpunet.ops.image.pad_crop import crop_images, pad_images
from gpunet.ops.image.patches import extract_patches, extract_patches_3d
from gpunet.ops.image.resize import resize
from gpunet.ops.image.sampling import map_coordinates
from gpunet.ops.image.warps import perspective_transform, scale_and_translate

__all__ = ["affine_transform", "crop_images", "elastic_transform", "extract_patches",
           "extract_patches_3d", "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images",
           "perspective_transform", "resize", "rgb_to_grayscale", "rgb_to_hsv",
           "scale_and_translate", "sobel_edges", "ssim"]

# names of Keras 3.15's keras.ops.image that gpunet does not provide, with the reason
LEFT_OUT: dict = {}
