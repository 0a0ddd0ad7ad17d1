"""The image ops (``keras.ops.image``): colour-space conversions, resizing, patch extraction,
padding and cropping on the backend, differentiable, accepting Functional-API KerasTensors.

Example:

>>> from gpunet.ops import image
>>> image.extract_patches(np.zeros((2, 32, 32, 3), "float32"), 8).shape
(2, 4, 4, 192)
"""

from gpunet.ops.image.color import hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
from gpunet.ops.image.pad_crop import crop_images, pad_images
from gpunet.ops.image.patches import extract_patches, extract_patches_3d
from gpunet.ops.image.resize import resize

__all__ = ["crop_images", "extract_patches", "extract_patches_3d", "hsv_to_rgb", "pad_images",
           "resize", "rgb_to_grayscale", "rgb_to_hsv"]

# names of Keras 3.15's keras.ops.image that gpunet does not provide yet, with the reason
LEFT_OUT = {
    "affine_transform": "not implemented yet; the RandomRotation/RandomZoom/RandomTranslation "
                        "layers apply affine transforms to image batches",
    "map_coordinates": "not implemented yet (spline interpolation at given coordinates)",
    "gaussian_blur": "not implemented yet (Gaussian smoothing of images)",
    "sobel_edges": "not implemented yet (Sobel edge maps of images)",
    "perspective_transform": "not implemented yet (four-point perspective warps)",
    "elastic_transform": "not implemented yet (random elastic deformations)",
    "scale_and_translate": "not implemented yet; resize covers scaling without translation",
    "ssim": "not implemented yet (structural similarity of image pairs)",
}
