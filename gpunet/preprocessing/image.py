"""Image augmentation with a Keras-compatible `ImageDataGenerator` (host-side NumPy).

The numbers are Keras 3.15's (`keras._legacy.preprocessing.image`): random parameters are drawn
per image in Keras's order (rotation, height shift, width shift, shear, zoom pair,
horizontal-flip coin, vertical-flip coin, channel shift, brightness), so a seed gives Keras's
draws; the geometric part is Keras's matrix warped as `scipy.ndimage.affine_transform` does
(`_scipy_warp`, NumPy only), for the whole batch at once; channel shift, flips and brightness
follow in Keras's order, then `standardize`. `fit` rescales first, as Keras does.

Where gpunet knowingly differs from Keras 3.15:

- `height_shift_range` shifts the rows and `width_shift_range` the columns, as their names and
  Keras's docs say. Keras 3.15 draws the same numbers but applies the height draw (scaled by the
  height) as the horizontal shift `tx` and the width draw as the vertical `ty`. The dict from
  `get_random_transform` therefore has gpunet's `ty` = Keras's `tx` and vice versa; given the
  same dict, `apply_transform` gives Keras's numbers (`tx` horizontal, `ty` vertical).
- Brightness is computed in floating point, without Keras's round trip through an 8-bit PIL
  image: on 0-255 images the results differ by less than one grey level; a float image in
  `[0, 1]` is brightened (Keras 3.15 truncates it to 0 and 1, i.e. black). Any channel count and
  both data formats work (Keras needs 1, 3 or 4 channels, channels last).
- A seed never touches NumPy's global random state (Keras calls `np.random.seed`); the draws
  are the same.
- `standardize` on a rank-4 batch takes the sample-wise statistics per image, and
  `preprocessing_function` is called per image (Keras uses whole-batch statistics there and
  calls the function on the batch); rank-3 input, `flow` and `random_transform` agree with
  Keras.
- `interpolation_order` 2 to 5 need SciPy (Keras always needs SciPy); 0 and 1 need only NumPy.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpunet.layers.preprocessing._affine import (
    _check_fill_mode,
    apply_affine_transform,
    apply_brightness_shift,
    apply_channel_shift,
    brightness_batch,
    channel_shift_batch,
    flip_axis,
    random_brightness,
    random_channel_shift,
    random_rotation,
    random_shear,
    random_shift,
    random_zoom,
)
from gpunet.layers.preprocessing._scipy_warp import (
    check_spline_order,
    keras_affine_matrix,
    warp_like_scipy,
)
from gpunet.preprocessing._image_io import (
    _check_data_format,
    array_to_img,
    img_to_array,
    load_img,
    save_img,
)
from gpunet.preprocessing._image_iterators import (
    DirectoryIterator,
    Iterator,
    NumpyArrayIterator,
    check_rank4,
)

__all__ = [
    "DirectoryIterator", "ImageDataGenerator", "Iterator", "NumpyArrayIterator",
    "apply_affine_transform", "apply_brightness_shift", "apply_channel_shift", "array_to_img",
    "flip_axis", "img_to_array", "load_img", "random_brightness", "random_channel_shift",
    "random_rotation", "random_shear", "random_shift", "random_zoom", "save_img",
]

def _rng(seed: int | None):
    """A private `RandomState(seed)` (same stream as `np.random.seed(seed)`), or the global one."""
    return np.random if seed is None else np.random.RandomState(seed)


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number; received {value!r}.")
    return value


def _check_shift_range(name: str, value: Any):
    if isinstance(value, (list, tuple, np.ndarray)):
        values = list(np.asarray(value).ravel().tolist())
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            raise ValueError(f"`{name}` must hold numbers only; received {value!r}.")
        return values
    return _check_number(name, value)


def _draw_shift(rng, shift_range, size: int) -> float:
    """Keras's rule: int n -> choice(0..n-1) * (+-1); list -> choice(list) * (+-1); float -> U.

    ``rng.randint(0, k)`` consumes the stream exactly as ``rng.choice(k)`` does (a test checks
    it) at a third of the cost, which matters when parameters are drawn image by image.
    """
    if isinstance(shift_range, list):
        value = shift_range[rng.randint(0, len(shift_range))] * (-1, 1)[rng.randint(0, 2)]
        limit = max(shift_range)
    elif isinstance(shift_range, numbers.Integral):
        value = rng.randint(0, shift_range) * (-1, 1)[rng.randint(0, 2)]
        limit = shift_range
    else:
        value = rng.uniform(-shift_range, shift_range)
        limit = shift_range
    if limit < 1:
        value = value * size
    return float(value)


class ImageDataGenerator:
    """Generates batches of image data with real-time augmentation (Keras's legacy API).

    Gives Keras 3.15's numbers (same seeded draws, same warps, same statistics) except where
    the module docstring lists a knowing difference (notably: `height_shift_range` shifts
    vertically here, horizontally in Keras 3.15).

    Args:
        featurewise_center: subtract the per-channel dataset mean (from `fit`).
        samplewise_center: subtract each image's own mean.
        featurewise_std_normalization: divide by the per-channel dataset std (from `fit`).
        samplewise_std_normalization: divide each image by its own std.
        zca_whitening: apply ZCA whitening (from `fit`; implies `featurewise_center`).
        zca_epsilon: epsilon added to the singular values for ZCA (see `fit`).
        rotation_range: degrees; the angle is drawn from `U(-rotation_range, rotation_range)`.
        width_shift_range: horizontal shift. Float: `U(-r, r)`, a fraction of the width when
            `r < 1`, else pixels. Int `n`: `choice(0..n-1) * (+-1)` pixels. List: a choice
            from the list times `+-1` (a fraction when all values are `< 1`).
        height_shift_range: vertical shift, same rules with the height (Keras 3.15 applies
            this draw horizontally; see the module docstring).
        brightness_range: `(low, high)` for a multiplicative brightness factor, or `None`;
            applied as `apply_brightness_shift(x, factor, scale=False)`.
        shear_range: shear angle in degrees, `U(-shear_range, shear_range)`.
        zoom_range: float `z` (zoom in `[1 - z, 1 + z]`) or `(low, high)`; two factors are
            drawn, for columns (`zx`) and rows (`zy`); `< 1` magnifies.
        channel_shift_range: intensity `U(-r, r)` added to every channel, clipped to the image's
            value range.
        fill_mode: `"constant"`, `"nearest"` (default), `"reflect"` or `"wrap"`, with
            SciPy's meanings as in Keras 3.15: `"wrap"` repeats with period `n - 1`
            (`b c d | a b c d | a b c`), not the `abcd|abcd` of Keras's docstring.
        cval: fill value for `fill_mode="constant"`.
        horizontal_flip: flip left-right with probability 0.5.
        vertical_flip: flip upside-down with probability 0.5.
        rescale: factor multiplied in `standardize` (after the augmentation) and in `fit`
            (before the statistics), e.g. `1 / 255`.
        preprocessing_function: function applied to each (augmented) rank-3 image first in
            `standardize`; must return an array of the same shape.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        validation_split: fraction of the data kept for `subset="validation"`.
        interpolation_order: spline order: 1 (bilinear, default), 0 (nearest neighbour),
            or 2 to 5 (needs SciPy).
        dtype: dtype of the generated batches.

    Example:

    >>> datagen = ImageDataGenerator(rotation_range=20, width_shift_range=0.1,
    ...                              horizontal_flip=True, rescale=1 / 255)
    >>> x = np.random.rand(8, 16, 16, 3) * 255
    >>> batch_x, batch_y = datagen.flow(x, np.arange(8), batch_size=4, seed=0)[0]
    >>> batch_x.shape, batch_y.shape
    ((4, 16, 16, 3), (4,))
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
        rotation_range: float = 0,
        width_shift_range: float | int | Sequence[float] = 0.0,
        height_shift_range: float | int | Sequence[float] = 0.0,
        brightness_range: Sequence[float] | None = None,
        shear_range: float = 0.0,
        zoom_range: float | Sequence[float] = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable[[np.ndarray], np.ndarray] | None = None,
        data_format: str | None = "channels_last",
        validation_split: float = 0.0,
        interpolation_order: int = 1,
        dtype: str = "float32",
    ):
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = _check_number("rotation_range", rotation_range)
        self.width_shift_range = _check_shift_range("width_shift_range", width_shift_range)
        self.height_shift_range = _check_shift_range("height_shift_range", height_shift_range)
        self.shear_range = _check_number("shear_range", shear_range)
        self.channel_shift_range = _check_number("channel_shift_range", channel_shift_range)
        _check_fill_mode(fill_mode)
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype
        check_spline_order(interpolation_order)
        self.interpolation_order = interpolation_order
        self.data_format = _check_data_format(data_format)
        if self.data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(
                f"`validation_split` must be strictly between 0 and 1; received {validation_split}."
            )
        self._validation_split = validation_split
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.zca_whitening_matrix: np.ndarray | None = None

        if isinstance(zoom_range, numbers.Real) and not isinstance(zoom_range, bool):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif (isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2
              and all(isinstance(v, numbers.Real) for v in zoom_range)):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(
                "`zoom_range` must be a float or a tuple/list of two floats; received "
                f"{zoom_range!r}."
            )
        if brightness_range is not None and (
                not isinstance(brightness_range, (list, tuple)) or len(brightness_range) != 2):
            raise ValueError(
                "`brightness_range` must be None or a tuple/list of two floats; received "
                f"{brightness_range!r}."
            )
        self.brightness_range = brightness_range

        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn("`zca_whitening=True` overrides `featurewise_center` (set to True).",
                              stacklevel=2)
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn("`zca_whitening=True` overrides `featurewise_std_normalization` "
                              "(set to False).", stacklevel=2)
        if self.featurewise_std_normalization and not self.featurewise_center:
            self.featurewise_center = True
            warnings.warn("`featurewise_std_normalization=True` overrides `featurewise_center` "
                          "(set to True).", stacklevel=2)
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn("`samplewise_std_normalization=True` overrides `samplewise_center` "
                          "(set to True).", stacklevel=2)

    # ------------------------------------------------------------------ iterators
    def flow(self, x, y=None, batch_size: int = 32, shuffle: bool = True, sample_weight=None,
             seed: int | None = None, save_to_dir: str | None = None, save_prefix: str = "",
             save_format: str = "png", ignore_class_split: bool = False,
             subset: str | None = None) -> NumpyArrayIterator:
        """Iterates over augmented batches of an in-memory array.

        Args:
            x: rank-4 images (or a tuple `(images, other_inputs)`).
            y: labels or `None`.
            batch_size: samples per batch.
            shuffle: reshuffle every epoch.
            sample_weight: per-sample weights, yielded as a third item.
            seed: seed for shuffling and augmentation.
            save_to_dir: optional folder where augmented images are written (needs Pillow).
            save_prefix: file name prefix for saved images.
            save_format: `"png"` or `"jpeg"`.
            ignore_class_split: skip the check that both subsets contain the same classes.
            subset: `"training"` or `"validation"` (uses `validation_split`; the validation
                part is the first `int(n * validation_split)` samples).

        Returns:
            A `NumpyArrayIterator` yielding `x` or `(x, y)` or `(x, y, sample_weight)`.
        """
        return NumpyArrayIterator(
            x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
            seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format, subset=subset,
            ignore_class_split=ignore_class_split, dtype=self.dtype)

    def flow_from_directory(self, directory, target_size: tuple[int, int] = (256, 256),
                            color_mode: str = "rgb", classes: list[str] | None = None,
                            class_mode: str | None = "categorical", batch_size: int = 32,
                            shuffle: bool = True, seed: int | None = None,
                            save_to_dir: str | None = None, save_prefix: str = "",
                            save_format: str = "png", follow_links: bool = False,
                            subset: str | None = None, interpolation: str = "nearest",
                            keep_aspect_ratio: bool = False) -> DirectoryIterator:
        """Iterates over augmented batches read from `directory/<class>/*.png|jpg|...`.

        Needs Pillow (`pip install Pillow`).

        Args:
            directory: root folder with one sub-folder per class.
            target_size: `(height, width)` of the produced images.
            color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
            classes: class folder names (default: all sub-folders, sorted alphabetically).
            class_mode: `"categorical"` (one-hot), `"binary"`, `"sparse"`, `"input"` or `None`.
            batch_size: samples per batch.
            shuffle: reshuffle every epoch.
            seed: seed for shuffling and augmentation.
            save_to_dir, save_prefix, save_format: optional saving of augmented images.
            follow_links: follow symlinks inside class folders.
            subset: `"training"` or `"validation"` (split per class, validation first).
            interpolation: resampling filter used for resizing.
            keep_aspect_ratio: centre-crop to the target aspect ratio before resizing.

        Returns:
            A `DirectoryIterator` yielding `(x, y)` (or `x` when `class_mode=None`).
        """
        return DirectoryIterator(
            directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
            class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
            data_format=self.data_format, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, follow_links=follow_links, subset=subset,
            interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype)

    # ------------------------------------------------------------------ random parameters
    def _draw_params(self, img_shape: Sequence[int], rng) -> dict[str, Any]:
        rows, cols = img_shape[self.row_axis - 1], img_shape[self.col_axis - 1]
        theta = rng.uniform(-self.rotation_range, self.rotation_range) \
            if self.rotation_range else 0.0
        hsr, wsr = self.height_shift_range, self.width_shift_range
        ty = _draw_shift(rng, hsr, rows) if (len(hsr) if isinstance(hsr, list) else hsr) else 0.0
        tx = _draw_shift(rng, wsr, cols) if (len(wsr) if isinstance(wsr, list) else wsr) else 0.0
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0.0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1.0, 1.0
        else:
            zx, zy = (float(v) for v in rng.uniform(self.zoom_range[0], self.zoom_range[1], 2))
        flip_horizontal = bool(rng.random_sample() < 0.5) and bool(self.horizontal_flip)
        flip_vertical = bool(rng.random_sample() < 0.5) and bool(self.vertical_flip)
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = rng.uniform(-self.channel_shift_range,
                                                  self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = rng.uniform(self.brightness_range[0], self.brightness_range[1])
        return {"theta": float(theta), "tx": tx, "ty": ty, "shear": float(shear), "zx": zx,
                "zy": zy, "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
                "channel_shift_intensity": channel_shift_intensity, "brightness": brightness}

    def get_random_transform(self, img_shape: Sequence[int], seed: int | None = None) -> dict:
        """Draws the random parameters for one image, in Keras's order.

        Args:
            img_shape: shape of the (rank-3) image.
            seed: seed; the draws equal Keras's after `np.random.seed(seed)`, but NumPy's
                global state is left untouched. `None` draws from the global state.

        Returns:
            A dict with `theta`, `tx` (horizontal shift, pixels), `ty` (vertical shift,
            pixels), `shear`, `zx`, `zy`, `flip_horizontal`, `flip_vertical`,
            `channel_shift_intensity` and `brightness`.
        """
        return self._draw_params(tuple(img_shape), _rng(seed))

    # ------------------------------------------------------------------ applying parameters
    def _apply_batch(self, batch: np.ndarray, params: Sequence[dict]) -> np.ndarray:
        """Applies one parameter dict per image to a rank-4 batch (vectorised over the batch)."""
        out = batch if self.data_format == "channels_last" else np.moveaxis(batch, 1, -1)
        h, w = out.shape[1], out.shape[2]
        mats = [keras_affine_matrix(p.get("theta", 0), p.get("tx", 0), p.get("ty", 0),
                                    p.get("shear", 0), p.get("zx", 1), p.get("zy", 1),
                                    height=h, width=w) for p in params]
        idx = np.array([i for i, m in enumerate(mats) if m is not None], dtype=np.intp)
        if idx.size == len(out):  # every image moves: the warp makes the new array
            out = warp_like_scipy(out, np.stack(mats), self.fill_mode, self.cval,
                                  self.interpolation_order)
        else:
            out = np.array(out, copy=True)
            if idx.size:
                out[idx] = warp_like_scipy(out[idx], np.stack([mats[i] for i in idx]),
                                           self.fill_mode, self.cval, self.interpolation_order)
        shifts = [p.get("channel_shift_intensity") for p in params]
        idx = np.array([i for i, s in enumerate(shifts) if s is not None], dtype=np.intp)
        if idx.size:
            out[idx] = channel_shift_batch(out[idx], np.array([shifts[i] for i in idx]))
        flip_h = np.array([bool(p.get("flip_horizontal", False)) for p in params], dtype=bool)
        if flip_h.any():
            out[flip_h] = out[flip_h][:, :, ::-1]
        flip_v = np.array([bool(p.get("flip_vertical", False)) for p in params], dtype=bool)
        if flip_v.any():
            out[flip_v] = out[flip_v][:, ::-1]
        factors = [p.get("brightness") for p in params]
        idx = np.array([i for i, f in enumerate(factors) if f is not None], dtype=np.intp)
        if idx.size:
            out[idx] = brightness_batch(out[idx], np.array([factors[i] for i in idx]),
                                        scale=False)
        if self.data_format == "channels_first":
            out = np.ascontiguousarray(np.moveaxis(out, -1, 1))
        return out

    def _as_float(self, x) -> np.ndarray:
        x = np.asarray(x)
        return x if np.issubdtype(x.dtype, np.floating) else x.astype(self.dtype)

    def apply_transform(self, x: np.ndarray, transform_parameters: dict) -> np.ndarray:
        """Applies given transformation parameters to one rank-3 image, as Keras 3.15 does.

        In Keras's order: the affine warp (`theta`, `tx` along the columns, `ty` along the
        rows, `shear`, `zx`, `zy`), `channel_shift_intensity`, `flip_horizontal`,
        `flip_vertical`, then `brightness` (`apply_brightness_shift(..., scale=False)`).

        Args:
            x: rank-3 image (integer images are converted to `dtype`).
            transform_parameters: dict as returned by `get_random_transform`; missing keys
                mean "no such transformation".

        Returns:
            The transformed image (a new array, same shape).

        Example:

        >>> gen = ImageDataGenerator(fill_mode="constant")
        >>> img = np.arange(6.0).reshape(1, 6, 1)
        >>> gen.apply_transform(img, {"tx": 2}).ravel().tolist()  # reads column c + 2
        [2.0, 3.0, 4.0, 5.0, 0.0, 0.0]
        """
        x = self._as_float(x)
        if x.ndim != 3:
            raise ValueError(
                f"`apply_transform` expects one rank-3 image; received shape {x.shape}."
            )
        return self._apply_batch(x[None], [transform_parameters])[0]

    def random_transform(self, x: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Applies a random transformation to one rank-3 image.

        Args:
            x: rank-3 image.
            seed: optional seed (see `get_random_transform`).

        Returns:
            The randomly transformed image.
        """
        x = self._as_float(x)
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    # ------------------------------------------------------------------ normalisation
    def _standardize_batch(self, x: np.ndarray) -> np.ndarray:
        """Standardises a float rank-4 batch in place (where possible); each image on its own."""
        if self.preprocessing_function:
            for i in range(len(x)):
                x[i] = self.preprocessing_function(x[i])
        if self.rescale:
            x *= self.rescale
        axes = (1, 2, 3)
        if self.samplewise_center:
            x -= np.mean(x, axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=axes, keepdims=True) + 1e-6
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_center`, but it has "
                              "not been fit on any training data: call `.fit(x)` first.",
                              stacklevel=3)
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + 1e-6
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, "
                              "but it has not been fit on any training data: call `.fit(x)` "
                              "first.", stacklevel=3)
        if self.zca_whitening:
            if self.zca_whitening_matrix is not None:
                flat = x.reshape(len(x), -1) @ self.zca_whitening_matrix
                x = flat.reshape(x.shape).astype(x.dtype, copy=False)
            else:
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, but it has not "
                              "been fit on any training data: call `.fit(x)` first.", stacklevel=3)
        return x

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Applies `preprocessing_function`, `rescale` and the centring/normalisations.

        A floating-point input is changed in place, as in Keras. A rank-4 input is treated as a
        batch: the sample-wise statistics are taken per image.

        Args:
            x: one rank-3 image or a rank-4 batch.

        Returns:
            The standardised input.
        """
        x = self._as_float(x)
        if x.ndim == 3:
            return self._standardize_batch(x[None])[0]
        if x.ndim == 4:
            return self._standardize_batch(x)
        raise ValueError(
            f"`standardize` expects a rank-3 image or a rank-4 batch; received shape {x.shape}."
        )

    def _augment_batch(self, batch: np.ndarray, rng) -> np.ndarray:
        """Draws parameters image by image (Keras's order), warps the batch, standardises it."""
        params = [self._draw_params(batch.shape[1:], rng) for _ in range(len(batch))]
        return self._standardize_batch(self._apply_batch(batch, params))

    def fit(self, x, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Computes the dataset statistics used by the feature-wise options and ZCA.

        As in Keras 3.15: `x` is cast to `dtype` and multiplied by `rescale` first, then
        (with `augment`) replaced by `rounds` randomly transformed copies, then the per-channel
        `mean` (`featurewise_center`) and `std` (`featurewise_std_normalization`, taken after
        centring) are computed, then the ZCA matrix `U diag(sqrt(n) / (s + zca_epsilon)) U^T`
        from the singular values `s` and left singular vectors `U` of the centred, flattened
        data (`zca_whitening`; computed in float64, stored in `dtype`).

        Args:
            x: rank-4 sample data.
            augment: fit on randomly augmented copies of `x`.
            rounds: number of augmented passes when `augment=True`.
            seed: seed for the augmentation draws (Keras's draws, NumPy's global state
                untouched).

        Example:

        >>> gen = ImageDataGenerator(featurewise_center=True, rescale=0.5)
        >>> gen.fit(np.array([[[[0.0]], [[4.0]]]]))  # one 2x1 grayscale image
        >>> gen.mean.ravel().tolist()
        [1.0]
        """
        x = np.asarray(x, dtype=self.dtype)
        check_rank4(x, "fit")
        if x.shape[self.channel_axis] not in (1, 3, 4):
            warnings.warn(
                f"Expected images in data_format {self.data_format!r} with 1, 3 or 4 channels on "
                f"axis {self.channel_axis}; received an array of shape {x.shape} "
                f"({x.shape[self.channel_axis]} channels).", stacklevel=2)
        if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
            raise ValueError(f"`rounds` must be a positive integer; received {rounds!r}.")
        x = x.copy()
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = _rng(seed)
            params = [self._draw_params(x.shape[1:], rng)
                      for _ in range(rounds) for _ in range(len(x))]
            x = self._apply_batch(np.concatenate([x] * rounds), params).astype(self.dtype)
        stats_axes = (0, self.row_axis, self.col_axis)
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=stats_axes).reshape(shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=stats_axes).reshape(shape)
            x /= self.std + 1e-6
        if self.zca_whitening:
            n = len(x)
            u, s, _ = np.linalg.svd(x.reshape(n, -1).T.astype(np.float64), full_matrices=False)
            s_inv = np.sqrt(n) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = ((u * s_inv) @ u.T).astype(self.dtype)

    @property
    def principal_components(self) -> np.ndarray | None:
        """The ZCA whitening matrix under its Keras 2 name (`zca_whitening_matrix`)."""
        return self.zca_whitening_matrix
