"""``Tensor``: an array, its gradient, and the ``Function`` node that made it."""

from __future__ import annotations

from typing import Any

from gpunet.backend import backend_of

_ENGINE_BACKWARD: list = [None]


class Tensor:
    """A backend array that remembers how it was computed while gradients are wanted.

    Args:
        data: a NumPy or CuPy array.
        requires_grad: whether gradients should flow back to this tensor.
        name: an optional label.

    Arithmetic operators (``+ - * / @ ** -x``, indexing, ``.T``) dispatch to ``gpunet.ops``.

    Example:

    >>> x = Tensor(np.ones((2, 3), "float32"), requires_grad=True)
    >>> y = (x * 2).sum()
    >>> y.backward()
    >>> x.grad            # 2.0 everywhere
    """

    __slots__ = ("data", "grad", "creator", "requires_grad", "name", "_out_index",
                 "_keras_mask", "_logits", "_logits_kind", "__weakref__")
    _gpunet_tensor = True
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        self.data = data
        self.grad = None
        self.creator = None
        self.requires_grad = requires_grad
        self.name = name
        self._out_index = 0
        self._keras_mask = None
        self._logits = None
        self._logits_kind = None  # "softmax" or "sigmoid": which activation made this tensor

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def backend(self):
        """The backend (NumPy or CuPy) that owns this tensor's data."""
        return backend_of(self.data)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None):
        """NumPy conversion (``np.asarray(t)``): the array itself on the CPU.

        On a GPU this raises ``TypeError``, as CuPy does for implicit conversions: a host
        copy is always explicit there (``t.numpy()`` or ``gpunet.ops.convert_to_numpy(t)``).
        """
        b = backend_of(self.data)
        if not b.is_host:
            raise TypeError(
                "Implicit conversion of a GPU tensor to a NumPy array is not allowed (it would "
                "be a hidden device-to-host copy). Use `tensor.numpy()` or "
                "`gpunet.ops.convert_to_numpy(tensor)`."
            )
        a = self.data if dtype is None else self.data.astype(dtype, copy=False)
        if not isinstance(a, b.xp.ndarray):  # a NumPy scalar (a full reduction): 0-d array
            return b.xp.array(a)
        return a.copy() if copy else a

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with {self.data.size} elements is ambiguous. "
                "Use `gpunet.ops.any` or `gpunet.ops.all`."
            )
        return bool(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(f"Only integer scalar tensors can be used as an index; this one "
                            f"has dtype {self.data.dtype} and shape {tuple(self.shape)}.")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        if self.data.size == 1 and spec:
            return format(self.item(), spec)
        return format(str(self), spec)

    @property
    def device(self) -> str:
        """``"cpu"`` or ``"gpu:<id>"``: where the data lives."""
        return backend_of(self.data).device

    def numpy(self):
        """Returns the value as a NumPy array (an explicit device-to-host copy on a GPU)."""
        return backend_of(self.data).to_numpy(self.data)

    def item(self) -> float:
        """Returns the value of a one-element tensor as a Python number."""
        return self.numpy().item()

    def __float__(self) -> float:
        return float(self.item())

    def backward(self, grad: Any = None) -> None:
        """Back-propagates from this tensor (a scalar unless ``grad`` is given)."""
        run = _ENGINE_BACKWARD[0]
        if run is None:  # the engine imports this module: found at the first backward
            from gpunet.autograd.engine import backward as run

            _ENGINE_BACKWARD[0] = run
        run(self, grad)

    def detach(self) -> Tensor:
        """A tensor sharing the data but cut from the graph."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        body = repr(self.data).replace("\n", "\n       ")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}{extra})"


def as_array(x: Any) -> Any:
    """The raw backend array behind ``x`` (a Tensor or an array)."""
    return x.data if isinstance(x, Tensor) else x
