"""Batch iterators behind `ImageDataGenerator.flow` and `flow_from_directory`.

They are Keras `Sequence`s (`__len__`, `__getitem__`, `on_epoch_end`) and Python iterators at
the same time. With a `seed`, batch `k` draws from `RandomState(seed + batches_seen)`, exactly the
stream Keras gets from `np.random.seed(seed + total_batches_seen)`, without touching NumPy's
global state; without a seed they draw from the global `np.random` state, as Keras does.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy as np

from gpunet.preprocessing._image_io import (
    _check_data_format,
    _pil_image,
    array_to_img,
    check_color_mode,
    img_to_array,
    load_img,
)

_CLASS_MODES = ("categorical", "binary", "sparse", "input", None)


def check_rank4(x: np.ndarray, where: str) -> None:
    """Raises a ValueError naming the expected rank and the received shape."""
    if x.ndim != 4:
        raise ValueError(
            f"Input to `{where}` must have rank 4 (samples, rows, cols, channels for "
            f"channels_last; samples, channels, rows, cols for channels_first); received an "
            f"array of shape {x.shape} (rank {x.ndim})."
        )


class Iterator:
    """Base class: index bookkeeping, shuffling and seeding shared by the image iterators.

    Args:
        n: number of samples.
        batch_size: samples per batch.
        shuffle: reshuffle the order at the start of each epoch.
        seed: seed for shuffling and augmentation.
    """

    white_list_formats = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer; received {batch_size!r}.")
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array: np.ndarray | None = None
        self._last_rng: Any = None
        self.index_generator = self._flow_index()

    def _batch_rng(self):
        if self.seed is None:
            return np.random
        return np.random.RandomState(self.seed + self.total_batches_seen)

    def _set_index_array(self, rng) -> None:
        self.index_array = rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, idx: int):
        length = len(self)
        if idx < 0:
            idx += length
        if not 0 <= idx < length:
            raise ValueError(
                f"Asked to retrieve element {idx}, but the Sequence has length {length}."
            )
        rng = self._batch_rng()
        self._last_rng = rng
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array(rng)
        index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
        return self._get_batches_of_transformed_samples(index_array, rng)

    def on_epoch_end(self) -> None:
        """Reshuffles the sample order (Keras calls this after every epoch)."""
        rng = self._last_rng
        if rng is None:
            rng = self._batch_rng()
        self._set_index_array(rng)

    def reset(self) -> None:
        """Restarts the iterator protocol at the first batch of a new epoch."""
        self.batch_index = 0

    def _flow_index(self):
        self.reset()
        while True:
            rng = self._batch_rng()
            if self.batch_index == 0:
                self._set_index_array(rng)
            current = 0 if self.n == 0 else (self.batch_index * self.batch_size) % self.n
            if self.n > current + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            self._last_rng = rng
            yield self.index_array[current:current + self.batch_size], rng

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """Returns the next batch (endless: epochs follow each other)."""
        with self.lock:
            index_array, rng = next(self.index_generator)
        return self._get_batches_of_transformed_samples(index_array, rng)

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng):
        raise NotImplementedError

    def _save_batch(self, batch_x: np.ndarray, index_array: np.ndarray, rng) -> None:
        for i, j in enumerate(index_array):
            img = array_to_img(batch_x[i], self.data_format, scale=True)
            fname = f"{self.save_prefix}_{j}_{rng.randint(10000)}.{self.save_format}"
            img.save(os.path.join(self.save_to_dir, fname))


class NumpyArrayIterator(Iterator):
    """Iterates over (augmented) batches of an in-memory image array.

    Args:
        x: rank-4 images, or a tuple `(images, other_inputs)` whose second item (an array or a
            list of arrays) is batched alongside without augmentation.
        y: labels or `None`.
        image_data_generator: the `ImageDataGenerator` that augments and standardises.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch.
        sample_weight: per-sample weights, returned as a third item.
        seed: seed for shuffling and augmentation.
        data_format: `"channels_last"` or `"channels_first"`.
        save_to_dir: directory where augmented images are written (needs Pillow).
        save_prefix: file name prefix for saved images.
        save_format: file format for saved images.
        subset: `"training"` or `"validation"` with the generator's `validation_split`.
        ignore_class_split: skip the check that both subsets contain the same classes.
        dtype: dtype of the image batches.
    """

    def __init__(self, x: Any, y: Any, image_data_generator: Any, batch_size: int = 32,
                 shuffle: bool = False, sample_weight: Any = None, seed: int | None = None,
                 data_format: str = "channels_last",
                 save_to_dir: str | None = None, save_prefix: str = "", save_format: str = "png",
                 subset: str | None = None, ignore_class_split: bool = False,
                 dtype: str = "float32"):
        self.dtype = dtype
        if isinstance(x, (tuple, list)):
            if len(x) != 2:
                raise ValueError(
                    "`x` given as a tuple must be (images, other_inputs); received a "
                    f"{type(x).__name__} of length {len(x)}."
                )
            misc = x[1] if isinstance(x[1], list) else [x[1]]
            x_misc = [np.asarray(m) for m in misc]
            x = x[0]
        else:
            x_misc = []
        x = np.asarray(x)
        check_rank4(x, "flow")
        for i, m in enumerate(x_misc):
            if len(m) != len(x):
                raise ValueError(
                    f"All arrays in `x` must have the same length: images have {len(x)} "
                    f"samples but extra input {i} has {len(m)}."
                )
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(
                    "`x` (images) and `y` (labels) must have the same length; received "
                    f"x.shape={x.shape}, y.shape={y.shape}."
                )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if len(sample_weight) != len(x):
                raise ValueError(
                    "`x` (images) and `sample_weight` must have the same length; received "
                    f"x.shape={x.shape}, sample_weight.shape={sample_weight.shape}."
                )
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(
                    f"`subset` must be 'training' or 'validation'; received {subset!r}."
                )
            split_idx = int(len(x) * image_data_generator._validation_split)
            if (y is not None and not ignore_class_split
                    and not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:]))):
                raise ValueError(
                    "Training and validation subsets have different classes after the split "
                    f"at index {split_idx}. If `x` is sorted by label, shuffle it first, or pass "
                    "`ignore_class_split=True`."
                )
            part = slice(0, split_idx) if subset == "validation" else slice(split_idx, None)
            x = x[part]
            x_misc = [m[part] for m in x_misc]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        self.x_misc = x_misc
        self.data_format = _check_data_format(data_format)
        channels_axis = 3 if self.data_format == "channels_last" else 1
        if self.x.shape[channels_axis] not in (1, 3, 4):
            warnings.warn(
                f"NumpyArrayIterator expects images in data_format {self.data_format!r} with "
                f"1, 3 or 4 channels on axis {channels_axis}; received an array of shape "
                f"{self.x.shape} ({self.x.shape[channels_axis]} channels).", stacklevel=2)
        self.y = y
        self.sample_weight = sample_weight
        self.image_data_generator = image_data_generator
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array, rng):
        batch_x = self.image_data_generator._augment_batch(self.x[index_array], rng)
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, rng)
        miscs = [m[index_array] for m in self.x_misc]
        inputs = [batch_x] + miscs if miscs else batch_x
        if self.y is None:
            return inputs
        output = (inputs, self.y[index_array])
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output


def _iter_valid_files(directory: str, formats: tuple[str, ...], follow_links: bool):
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda item: item[0])
    for root, _, files in walk:
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                yield root, fname


class DirectoryIterator(Iterator):
    """Iterates over images read from `directory/<class_name>/...` (needs Pillow).

    Args:
        directory: root folder with one sub-folder per class.
        image_data_generator: the `ImageDataGenerator` that augments and standardises.
        target_size: `(height, width)` every image is resized to.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
        classes: class sub-folder names (default: every sub-folder, sorted).
        class_mode: `"categorical"`, `"binary"`, `"sparse"`, `"input"` or `None`.
        batch_size, shuffle, seed: as in `Iterator`.
        data_format: `"channels_last"` or `"channels_first"`.
        save_to_dir, save_prefix, save_format: where to write augmented images.
        follow_links: follow symbolic links inside class folders.
        subset: `"training"` or `"validation"` with the generator's `validation_split`
            (the split is taken per class, validation first).
        interpolation: resampling filter for resizing.
        keep_aspect_ratio: crop to the target aspect ratio before resizing.
        dtype: dtype of the image batches.
    """

    def __init__(self, directory: str | os.PathLike, image_data_generator: Any,
                 target_size: tuple[int, int] = (256, 256), color_mode: str = "rgb",
                 classes: list[str] | None = None, class_mode: str | None = "categorical",
                 batch_size: int = 32, shuffle: bool = True, seed: int | None = None,
                 data_format: str = "channels_last", save_to_dir: str | None = None,
                 save_prefix: str = "",
                 save_format: str = "png", follow_links: bool = False,
                 subset: str | None = None, interpolation: str = "nearest",
                 keep_aspect_ratio: bool = False, dtype: str = "float32"):
        _pil_image()  # fail now, with the install hint, rather than at the first batch
        self.directory = os.fspath(directory)
        if not os.path.isdir(self.directory):
            raise ValueError(f"`directory` must be an existing folder; received {directory!r}.")
        self.image_data_generator = image_data_generator
        self.target_size = tuple(int(v) for v in target_size)
        self.color_mode = color_mode
        channels = check_color_mode(color_mode)
        self.data_format = _check_data_format(data_format)
        if self.data_format == "channels_last":
            self.image_shape = self.target_size + (channels,)
        else:
            self.image_shape = (channels,) + self.target_size
        if class_mode not in _CLASS_MODES:
            raise ValueError(
                f"`class_mode` must be one of {_CLASS_MODES}; received {class_mode!r}."
            )
        self.class_mode = class_mode
        self.dtype = dtype
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        self.interpolation = interpolation
        self.keep_aspect_ratio = keep_aspect_ratio
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(
                    f"`subset` must be 'training' or 'validation'; received {subset!r}."
                )
            split = image_data_generator._validation_split
            split = (0.0, split) if subset == "validation" else (split, 1.0)
        else:
            split = None
        self.split = split
        self.subset = subset
        if not classes:
            classes = sorted(d for d in os.listdir(self.directory)
                             if os.path.isdir(os.path.join(self.directory, d)))
        self.num_classes = len(classes)
        self.class_indices = {name: i for i, name in enumerate(classes)}
        labels, self.filenames = [], []
        for name in classes:
            class_dir = os.path.join(self.directory, name)
            files = list(_iter_valid_files(class_dir, self.white_list_formats, follow_links))
            if split is not None:
                files = files[int(split[0] * len(files)):int(split[1] * len(files))]
            for root, fname in files:
                rel = os.path.relpath(os.path.join(root, fname), class_dir)
                self.filenames.append(os.path.join(name, rel))
                labels.append(self.class_indices[name])
        self.samples = len(self.filenames)
        self.classes = np.asarray(labels, dtype="int32")
        self.filepaths = [os.path.join(self.directory, f) for f in self.filenames]
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self) -> np.ndarray:
        """The class index of every file, in file order."""
        return self.classes

    def _load(self, j: int) -> np.ndarray:
        img = load_img(self.filepaths[j], color_mode=self.color_mode,
                       target_size=self.target_size, interpolation=self.interpolation,
                       keep_aspect_ratio=self.keep_aspect_ratio)
        x = img_to_array(img, data_format=self.data_format, dtype=self.dtype)
        if hasattr(img, "close"):
            img.close()
        return x

    def _get_batches_of_transformed_samples(self, index_array, rng):
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        for i, j in enumerate(index_array):
            batch_x[i] = self._load(j)
        batch_x = self.image_data_generator._augment_batch(batch_x, rng)
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, rng)
        labels = self.classes[index_array]
        if self.class_mode == "input":
            return batch_x, batch_x.copy()
        if self.class_mode == "sparse":
            return batch_x, labels
        if self.class_mode == "binary":
            return batch_x, labels.astype(self.dtype)
        if self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), self.num_classes), dtype=self.dtype)
            batch_y[np.arange(len(batch_x)), labels] = 1.0
            return batch_x, batch_y
        return batch_x
