"""Helpers of ``gpunet.ops.rnn``: activations on raw arrays (the fused per-step kernels and
the BLAS thread control of the time loop are the backend's)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.engine import enable_grad, no_grad
from gpunet.autograd.tensor import Tensor

# -- activations on raw arrays -----------------------------------------------------------------


class _Act:
    """An activation applied in place, with its derivative computed from the output.

    Known names get closed forms; any other callable (a gpunet activation written with ops)
    is applied through a Tensor and differentiated with the autograd engine.
    """

    KNOWN = ("tanh", "sigmoid", "linear", "relu", "hard_sigmoid", "softsign")

    def __init__(self, spec: Any) -> None:
        name = spec if isinstance(spec, str) else None
        if name is None and callable(spec):
            n = getattr(spec, "__name__", None)
            if n in self.KNOWN and getattr(spec, "__module__", "").startswith("gpunet."):
                name = n
        self.name = name if name in self.KNOWN else None
        self.fn = None if self.name else spec
        if self.name is None and not callable(spec):
            raise ValueError(f"Unknown recurrent activation {spec!r}.")
        self.needs_z = self.name is None

    def fwd(self, xp, z, out=None):
        """``out = act(z)`` (``out`` may be ``z``)."""
        if out is None:
            out = z
        n = self.name
        if n == "tanh":
            xp.tanh(z, out=out)
        elif n == "sigmoid":
            xp.multiply(z, 0.5, out=out)
            xp.tanh(out, out=out)
            out *= 0.5
            out += 0.5
        elif n == "linear":
            if out is not z:
                out[...] = z
        elif n == "relu":
            xp.maximum(z, 0, out=out)
        elif n == "hard_sigmoid":
            xp.multiply(z, 1.0 / 6.0, out=out)
            out += 0.5
            xp.clip(out, 0.0, 1.0, out=out)
        elif n == "softsign":
            d = xp.abs(z)
            d += 1
            xp.divide(z, d, out=out)
        else:
            with no_grad():
                out[...] = self.fn(Tensor(z)).data
        return out

    def grad(self, xp, g, y, z=None, out=None):
        """``g * act'(z)`` given the output ``y`` (and ``z`` for generic activations)."""
        if out is None:
            out = g
        n = self.name
        if n == "tanh":
            t = y * y
            xp.subtract(1, t, out=t)
            xp.multiply(g, t, out=out)
        elif n == "sigmoid":
            t = 1 - y
            t *= y
            xp.multiply(g, t, out=out)
        elif n == "linear":
            if out is not g:
                out[...] = g
        elif n == "relu":
            xp.multiply(g, y > 0, out=out)
        elif n == "hard_sigmoid":
            xp.multiply(g, (y > 0) & (y < 1), out=out)
            out *= 1.0 / 6.0
        elif n == "softsign":
            t = 1 - xp.abs(y)
            t *= t
            xp.multiply(g, t, out=out)
        else:
            with enable_grad():
                zt = Tensor(z.copy(), requires_grad=True)
                self.fn(zt).backward(g)
            out[...] = zt.grad
        return out
