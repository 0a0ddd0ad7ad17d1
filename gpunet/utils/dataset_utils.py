"""Datasets from files and arrays, as Keras tutorials build them: image and text folders,
time-series windows, array splits.

Every builder returns a ``gpunet.utils.Sequence`` of ready batches (``(x, y)`` or ``x``), so
it goes straight into ``model.fit`` / ``evaluate`` / ``predict``. ``.map(fn)`` transforms
every batch (Keras's ``dataset.map``), e.g. ``text_ds.map(lambda x, y: (vectorize(x), y))``;
``take``, ``skip``, ``cardinality`` and iteration work as on a ``tf.data.Dataset``, and the
arrays of a batch have ``.numpy()`` (``dataset_ops.HostArray``: host memory, no copy).
Files are read lazily, batch by batch, on the thread that asks for the batch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from gpunet.utils.dataset_ops import DatasetMethods, host_batch
from gpunet.utils.sequence import Sequence

__all__ = ["BatchDataset", "image_dataset_from_directory", "split_dataset",
           "text_dataset_from_directory", "timeseries_dataset_from_array"]

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_LABEL_MODES = ("int", "categorical", "binary", None)


class BatchDataset(DatasetMethods, Sequence):
    """A finite dataset of batches: sample ``k`` of an epoch is ``load(order[k])``.

    Args:
        n: number of samples.
        load: ``load(indices) -> batch`` (a tuple of arrays, or one array).
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: visit the samples in a new random order every epoch.
        seed: seed of that order.
        class_names: names of the classes (index order), when there are classes.
        file_paths: the files behind the samples, in sample order.

    Example:

    >>> ds = BatchDataset(10, lambda idx: (x[idx], y[idx]), batch_size=4)
    >>> model.fit(ds, epochs=2)  # doctest: +SKIP
    """

    def __init__(self, n: int, load: Callable[[np.ndarray], Any], batch_size: int = 32,
                 shuffle: bool = False, seed: int | None = None,
                 class_names: list[str] | None = None,
                 file_paths: list[str] | None = None) -> None:
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: "
                             f"batch_size={batch_size!r}")
        self.n, self._load, self.batch_size = int(n), load, int(batch_size)
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(self.n) if shuffle else np.arange(self.n)
        self.class_names, self.file_paths = class_names, file_paths

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for a dataset of "
                             f"{len(self)} batches.")
        return host_batch(
            self._load(self._order[index * self.batch_size:(index + 1) * self.batch_size]))

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(self.n)

    def map(self, fn: Callable) -> MappedDataset:
        """A dataset whose batches are ``fn(*batch)`` (tuples) or ``fn(batch)``."""
        return MappedDataset(self, fn)


class MappedDataset(DatasetMethods, Sequence):
    """``parent`` with ``fn`` applied to every batch (see ``BatchDataset.map``)."""

    def __init__(self, parent: Sequence, fn: Callable) -> None:
        super().__init__()
        self.parent, self.fn = parent, fn
        self.class_names = getattr(parent, "class_names", None)
        self.file_paths = getattr(parent, "file_paths", None)

    def __len__(self) -> int:
        return len(self.parent)

    def __getitem__(self, index: int) -> Any:
        batch = self.parent[index]
        out = self.fn(*batch) if isinstance(batch, tuple) else self.fn(batch)
        if isinstance(out, tuple):
            return host_batch(tuple(o.numpy() if hasattr(o, "_gpunet_tensor") else o
                                    for o in out))
        return host_batch(out.numpy() if hasattr(out, "_gpunet_tensor") else out)

    def on_epoch_begin(self) -> None:
        self.parent.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.parent.on_epoch_end()

    def map(self, fn: Callable) -> MappedDataset:
        return MappedDataset(self, fn)


# -- directories -------------------------------------------------------------------------------
def _check_split(validation_split: float | None, subset: str | None, shuffle: bool,
                 seed: int | None) -> None:
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1. Received: "
                         f"validation_split={validation_split!r}")
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f"`subset` must be 'training', 'validation', 'both' or None. "
                         f"Received: subset={subset!r}")
    if (validation_split is None) != (subset is None):
        raise ValueError("`validation_split` and `subset` go together: set both or neither. "
                         f"Received: validation_split={validation_split!r}, "
                         f"subset={subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, so the training and validation subsets "
                         "do not overlap. Received: seed=None")


def index_directory(directory: str | os.PathLike, labels: Any, formats: tuple,
                    class_names: list[str] | None, shuffle: bool, seed: int | None,
                    follow_links: bool) -> tuple:
    """Lists the files of ``directory`` (Keras's ``index_directory``).

    With ``labels="inferred"`` every sub-folder is a class (sorted by name, or in
    ``class_names`` order) and its files (walked recursively, sorted) get its index. The file
    list is then shuffled once with ``RandomState(seed)`` when ``shuffle``, as Keras does.

    Returns:
        ``(file_paths, labels, class_names)``.
    """
    from gpunet.preprocessing._image_iterators import _iter_valid_files

    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an existing folder. Received: "
                         f"directory={directory!r}")
    if labels == "inferred":
        subdirs = sorted(d for d in os.listdir(directory)
                         if os.path.isdir(os.path.join(directory, d)))
        if class_names is not None:
            if sorted(class_names) != subdirs:
                raise ValueError(f"The `class_names` passed do not match the names of the "
                                 f"sub-folders of {directory!r}. Expected: {subdirs}; "
                                 f"received: class_names={list(class_names)}")
            subdirs = list(class_names)
        class_names = subdirs
    else:
        subdirs = [""]
    paths, found = [], []
    for i, sub in enumerate(subdirs):
        for root, fname in _iter_valid_files(os.path.join(directory, sub), formats,
                                             follow_links):
            paths.append(os.path.join(root, fname))
            found.append(i)
    if labels == "inferred":
        label_arr = np.asarray(found, dtype="int32")
    elif labels is None:
        label_arr = None
    else:
        label_arr = np.asarray(labels)
        if label_arr.ndim != 1 or len(label_arr) != len(paths):
            raise ValueError(f"Expected one label per file: {len(paths)} files were found in "
                             f"{directory!r}, but received {len(label_arr)} labels.")
        class_names = None
    if shuffle and paths:
        if seed is None:
            seed = np.random.randint(1_000_000)
        order = np.arange(len(paths))
        np.random.RandomState(seed).shuffle(order)
        paths = [paths[k] for k in order]
        label_arr = None if label_arr is None else label_arr[order]
    return paths, label_arr, class_names


def _subsets(paths: list, labels: Any, validation_split: float | None, subset: str | None,
             verbose: bool) -> list:
    if not validation_split:
        return [(paths, labels)]
    n_val = int(validation_split * len(paths))
    cut = len(paths) - n_val
    train = (paths[:cut], None if labels is None else labels[:cut])
    val = (paths[cut:], None if labels is None else labels[cut:])
    if verbose and subset in ("training", "both"):
        print(f"Using {cut} files for training.")
    if verbose and subset in ("validation", "both"):
        print(f"Using {n_val} files for validation.")
    return {"training": [train], "validation": [val], "both": [train, val]}[subset]


def _encode_labels(labels: np.ndarray, label_mode: str | None, num_classes: int) -> Any:
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "binary":
        return labels.astype("float32").reshape(-1, 1)
    out = np.zeros((len(labels), num_classes), "float32")
    out[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    return out


def _check_label_mode(label_mode: str | None, labels: Any, num_classes: int) -> None:
    if label_mode not in _LABEL_MODES:
        raise ValueError(f"`label_mode` must be one of {_LABEL_MODES}. Received: "
                         f"label_mode={label_mode!r}")
    if labels is None and label_mode is not None:
        raise ValueError("`labels=None` gives no labels, so `label_mode` must be None. "
                         f"Received: label_mode={label_mode!r}")
    if label_mode == "binary" and num_classes != 2:
        raise ValueError(f"When `label_mode='binary'`, there must be exactly 2 classes. "
                         f"Found {num_classes} classes.")


def _load_image(path: str, color_mode: str, size: tuple, interpolation: str,
                crop: bool, pad: bool) -> np.ndarray:
    from gpunet.layers.preprocessing.image_basic import resize_images
    from gpunet.preprocessing._image_io import img_to_array, load_img

    img = load_img(path, color_mode=color_mode)
    x = img_to_array(img, dtype="float32")
    if pad:
        h, w = x.shape[:2]
        ph = max(h, int(w * size[0] / size[1]))
        pw = max(w, int(h * size[1] / size[0]))
        canvas = np.zeros((ph, pw, x.shape[2]), "float32")
        top, left = (ph - h) // 2, (pw - w) // 2
        canvas[top:top + h, left:left + w] = x
        x = canvas
    return resize_images(x[None], size[0], size[1], interpolation, crop)[0]


def image_dataset_from_directory(
        directory: str | os.PathLike, labels: Any = "inferred", label_mode: str | None = "int",
        class_names: list[str] | None = None, color_mode: str = "rgb", batch_size: int = 32,
        image_size: tuple[int, int] = (256, 256), shuffle: bool = True,
        seed: int | None = None, validation_split: float | None = None,
        subset: str | None = None, interpolation: str = "bilinear",
        follow_links: bool = False, crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False, data_format: str | None = None,
        verbose: bool = True) -> Any:
    """A dataset of ``(images, labels)`` batches from ``directory/<class_name>/*.png`` etc.

    Files (``.bmp .gif .jpeg .jpg .png``, read with Pillow) are listed per class folder,
    sorted, shuffled once with ``RandomState(seed)`` (Keras's order), split, and decoded per
    batch. Each image is resized to ``image_size`` like ``layers.Resizing`` (half-pixel
    centres, TF's ``tf.image.resize``).

    Args:
        directory: the root folder.
        labels: ``"inferred"`` (one class per sub-folder), ``None`` (images only) or a list
            of integer labels, one per file in sorted path order.
        label_mode: ``"int"`` (int32 ``(n,)``), ``"categorical"`` (float32 one-hot),
            ``"binary"`` (float32 ``(n, 1)``, exactly two classes) or ``None``.
        class_names: the sub-folder names, in the order of their class indices.
        color_mode: ``"grayscale"``, ``"rgb"`` (default) or ``"rgba"``.
        batch_size: images per batch (default 32).
        image_size: ``(height, width)`` (default ``(256, 256)``).
        shuffle: shuffle the files (once) and the sample order (every epoch).
        seed: seed of the shuffles (required with ``validation_split`` and ``shuffle``).
        validation_split: fraction of the files kept for validation (the last ones).
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns both datasets).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        follow_links: follow symbolic links to sub-folders.
        crop_to_aspect_ratio: crop the centre to the target aspect ratio before resizing.
        pad_to_aspect_ratio: pad with zeros to the target aspect ratio before resizing.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        verbose: print how many files and classes were found.

    Returns:
        A ``BatchDataset`` (a ``Sequence``) with ``.class_names`` and ``.file_paths``; a list
        ``[train, validation]`` when ``subset="both"``. Images are float32 in ``[0, 255]``.

    Example:

    >>> train = image_dataset_from_directory("pets", image_size=(180, 180),  # doctest: +SKIP
    ...                                      validation_split=0.2, subset="training", seed=1)
    >>> model.fit(train, epochs=10)  # doctest: +SKIP
    """
    from gpunet.preprocessing._image_io import _pil_image, check_color_mode

    _pil_image()
    channels = check_color_mode(color_mode)
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"image_dataset_from_directory: `interpolation` must be 'bilinear' or "
                         f"'nearest' in gpunet. Received: interpolation={interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("`crop_to_aspect_ratio` and `pad_to_aspect_ratio` cannot both be "
                         "True.")
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"`data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    if not (isinstance(labels, (list, tuple, np.ndarray)) or labels in ("inferred", None)):
        raise ValueError(f"`labels` must be 'inferred', None, or a list of integers. "
                         f"Received: labels={labels!r}")
    size = tuple(int(s) for s in image_size)
    _check_split(validation_split, subset, shuffle, seed)
    if seed is None and shuffle:
        seed = np.random.randint(1_000_000)
    paths, labs, class_names = index_directory(directory, labels, IMAGE_FORMATS, class_names,
                                               shuffle, seed, follow_links)
    num_classes = len(class_names) if class_names is not None else (
        int(labs.max()) + 1 if labs is not None and len(labs) else 0)
    if labels is None:
        label_mode = None
    _check_label_mode(label_mode, labs, num_classes)
    if verbose:
        print(f"Found {len(paths)} files" + (f" belonging to {num_classes} classes."
                                            if labs is not None else "."))
    if not paths:
        raise ValueError(f"No images found in directory {os.fspath(directory)!r}. Allowed "
                         f"formats: {IMAGE_FORMATS}")

    def make(files: list, ys: Any) -> BatchDataset:
        def load(idx: np.ndarray) -> Any:
            x = np.empty((len(idx),) + size + (channels,), "float32")
            for k, j in enumerate(idx):
                x[k] = _load_image(files[j], color_mode, size, interpolation,
                                   crop_to_aspect_ratio, pad_to_aspect_ratio)
            if data_format == "channels_first":
                x = x.transpose(0, 3, 1, 2)
            if label_mode is None:
                return x
            return x, _encode_labels(ys[idx], label_mode, num_classes)

        return BatchDataset(len(files), load, batch_size, shuffle, seed, class_names, files)

    sets = [make(f, y) for f, y in _subsets(paths, labs, validation_split, subset, verbose)]
    return sets if subset == "both" else sets[0]


def text_dataset_from_directory(
        directory: str | os.PathLike, labels: Any = "inferred", label_mode: str | None = "int",
        class_names: list[str] | None = None, batch_size: int = 32,
        max_length: int | None = None, shuffle: bool = True, seed: int | None = None,
        validation_split: float | None = None, subset: str | None = None,
        follow_links: bool = False, verbose: bool = True) -> Any:
    """A dataset of ``(texts, labels)`` batches from ``directory/<class_name>/*.txt``.

    Texts are Python strings (decoded as UTF-8) in NumPy object arrays; vectorise them with
    ``TextVectorization`` (``ds.map(lambda x, y: (vectorize(x), y))``) before ``fit``, since a
    model takes numbers.

    Args:
        directory, labels, label_mode, class_names, batch_size, shuffle, seed,
        validation_split, subset, follow_links, verbose: as in
            ``image_dataset_from_directory``.
        max_length: keep at most this many characters of each text.

    Returns:
        A ``BatchDataset`` with ``.class_names`` (a list of two with ``subset="both"``).

    Example:

    >>> raw = text_dataset_from_directory("aclImdb/train", batch_size=32)  # doctest: +SKIP
    >>> vectorize.adapt(raw.map(lambda x, y: x))  # doctest: +SKIP
    """
    _check_split(validation_split, subset, shuffle, seed)
    if seed is None and shuffle:
        seed = np.random.randint(1_000_000)
    paths, labs, class_names = index_directory(directory, labels, (".txt",), class_names,
                                               shuffle, seed, follow_links)
    num_classes = len(class_names) if class_names is not None else (
        int(labs.max()) + 1 if labs is not None and len(labs) else 0)
    if labels is None:
        label_mode = None
    _check_label_mode(label_mode, labs, num_classes)
    if verbose:
        print(f"Found {len(paths)} files" + (f" belonging to {num_classes} classes."
                                            if labs is not None else "."))
    if not paths:
        raise ValueError(f"No text files found in directory {os.fspath(directory)!r}. "
                         "Allowed format: .txt")

    def make(files: list, ys: Any) -> BatchDataset:
        def load(idx: np.ndarray) -> Any:
            texts = []
            for j in idx:
                with open(files[j], encoding="utf-8", errors="replace") as f:
                    t = f.read()
                texts.append(t if max_length is None else t[:max_length])
            x = np.empty(len(texts), dtype=object)
            x[:] = texts
            if label_mode is None:
                return x
            return x, _encode_labels(ys[idx], label_mode, num_classes)

        return BatchDataset(len(files), load, batch_size, shuffle, seed, class_names, files)

    sets = [make(f, y) for f, y in _subsets(paths, labs, validation_split, subset, verbose)]
    return sets if subset == "both" else sets[0]


# -- arrays ------------------------------------------------------------------------------------
def timeseries_dataset_from_array(
        data: Any, targets: Any, sequence_length: int, sequence_stride: int = 1,
        sampling_rate: int = 1, batch_size: int = 128, shuffle: bool = False,
        seed: int | None = None, start_index: int | None = None,
        end_index: int | None = None) -> BatchDataset:
    """Sliding windows over a time series, batched.

    Window ``i`` starts at ``start_index + p_i`` with ``p_i = i * sequence_stride`` and holds
    ``data[start + k * sampling_rate]`` for ``k < sequence_length``; its target is
    ``targets[start_index + p_i]`` (the target of the window's first step, as in Keras). Only
    windows ending before ``end_index`` are made, and only those with a target.

    Args:
        data: array, time first ``(T, ...)``.
        targets: array aligned with ``data`` (``targets[i]`` belongs to the window starting at
            ``i``; it may be shorter, e.g. ``data[sequence_length:]``), or ``None`` (batches
            are then windows only).
        sequence_length: time steps per window.
        sequence_stride: steps between the starts of consecutive windows.
        sampling_rate: steps between two samples of a window.
        batch_size: windows per batch (default 128).
        shuffle: shuffle the windows: once with ``RandomState(seed)`` (Keras's order), then
            again every epoch.
        seed: seed of the shuffles.
        start_index, end_index: only use ``data[start_index:end_index]``.

    Returns:
        A ``BatchDataset`` of ``(windows (b, sequence_length, ...), targets (b, ...))``.

    Example:

    >>> ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3,
    ...                                    sequence_stride=2, batch_size=2)
    >>> ds[0].tolist()
    [[0, 1, 2], [2, 3, 4]]
    """
    data = np.asarray(data)
    for name, v in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                    ("sampling_rate", sampling_rate)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={v!r}")
    start = 0 if start_index is None else int(start_index)
    end = len(data) if end_index is None else int(end_index)
    if not 0 <= start < len(data):
        raise ValueError(f"`start_index` must be in [0, {len(data)}) (the length of `data`). "
                         f"Received: start_index={start_index}")
    if not start < end <= len(data):
        raise ValueError(f"`end_index` must be in ({start}, {len(data)}]. Received: "
                         f"end_index={end_index}")
    if targets is not None:
        targets = np.asarray(targets)
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num = min(num, len(targets) - start)
    starts = np.arange(0, max(num, 0), sequence_stride, dtype=np.int64)
    if len(starts) == 0:
        raise ValueError(f"No window fits: {end - start} time steps, but a window spans "
                         f"{(sequence_length - 1) * sampling_rate + 1} steps "
                         f"(sequence_length={sequence_length}, "
                         f"sampling_rate={sampling_rate}).")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1_000_000)
        np.random.RandomState(seed).shuffle(starts)
    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate

    def load(idx: np.ndarray) -> Any:
        first = start + starts[idx]
        x = data[first[:, None] + offsets]
        return x if targets is None else (x, targets[first])

    ds = BatchDataset(len(starts), load, batch_size, False, seed)
    if shuffle:
        ds.shuffle = True  # later epochs: a fresh order (the first keeps Keras's)
    return ds


def split_dataset(dataset: Any, left_size: int | float | None = None,
                  right_size: int | float | None = None, shuffle: bool = False,
                  seed: int | None = None) -> tuple:
    """Splits an array (or a tuple / list of aligned arrays) into two along the first axis.

    Args:
        dataset: an array, or a tuple / list of arrays with the same length.
        left_size: float fraction (of the total, rounded) or int count of the left part;
            default: the complement of ``right_size``, or 0.5 when both are None.
        right_size: the same for the right part; default: the complement of ``left_size``.
        shuffle: shuffle the samples before splitting.
        seed: seed of the shuffle.

    Returns:
        ``(left, right)``, each of the same structure as ``dataset``.

    Example:

    >>> left, right = split_dataset(np.arange(10), left_size=0.8)
    >>> len(left), len(right)
    (8, 2)
    """
    arrays = list(dataset) if isinstance(dataset, (tuple, list)) else [dataset]
    arrays = [np.asarray(a) for a in arrays]
    total = len(arrays[0])
    if any(len(a) != total for a in arrays):
        raise ValueError(f"All arrays of `dataset` must have the same length. Received "
                         f"lengths {[len(a) for a in arrays]}.")
    if left_size is None and right_size is None:
        left_size = 0.5

    def count(name: str, v: Any) -> int | None:
        if v is None:
            return None
        if isinstance(v, float):
            if not 0 < v < 1:
                raise ValueError(f"`{name}` as a float must be in (0, 1). Received: "
                                 f"{name}={v}")
            return int(round(v * total))
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 < v <= total:
            raise ValueError(f"`{name}` must be a float in (0, 1) or an int in (0, {total}]. "
                             f"Received: {name}={v!r}")
        return int(v)

    left, right = count("left_size", left_size), count("right_size", right_size)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"`left_size` + `right_size` ({left} + {right}) is more than the "
                         f"{total} samples of the dataset.")
    order = np.random.default_rng(seed).permutation(total) if shuffle else np.arange(total)
    lparts = [a[order[:left]] for a in arrays]
    rparts = [a[order[left:left + right]] for a in arrays]
    if isinstance(dataset, (tuple, list)):
        return type(dataset)(lparts), type(dataset)(rparts)
    return lparts[0], rparts[0]
