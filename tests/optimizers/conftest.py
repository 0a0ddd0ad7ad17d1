"""Fixtures for the optimizer tests: variables with known gradients and a CPU stand-in for
the CuPy kernels (it runs each ``ElementwiseKernel`` body with NumPy, so the CUDA arithmetic is
checked without a GPU)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from gpunet.autograd.variable import Variable
from gpunet.backend import backend_of, numpy_backend

_C_FUNCS = {"sqrt": np.sqrt, "pow": np.power, "max": np.maximum, "min": np.minimum,
            "fabs": np.abs, "gpunet_sign": np.sign, "gpunet_where": np.where,
            "floor": np.floor, "ceil": np.ceil, "cos": np.cos, "log": np.log, "fmin": np.fmin,
            "fmax": np.fmax}


def _names(params: str) -> list[str]:
    return [p.split()[-1] for p in params.split(",") if p.strip()]


class EmulatedKernel:
    """Runs an ElementwiseKernel's C++ body statement by statement on whole NumPy arrays.

    The bodies use a C subset that is also Python: ``T x = ...;`` declarations, ``=``,
    ``+=``/``-=``, arithmetic, the cast ``T(...)`` and the functions in ``_C_FUNCS``. A
    ``raw`` input (a per-step scalar read through its pointer) must be a one-element array of
    its declared dtype.
    """

    def __init__(self, in_params, out_params, operation, name, preamble=""):
        self.ins, self.outs, self.name = _names(in_params), _names(out_params), name
        self.raw = {n: p.split()[1] for p, n in zip(in_params.split(","), self.ins)
                    if "raw" in p.split()}  # name -> declared dtype
        self.typed = {n for p, n in zip(in_params.split(","), self.ins) if p.split()[0] == "T"}
        self.statements = [re.sub(r"^T\s+", "", s.strip()) for s in operation.split(";")
                           if s.strip()]
        self.calls = 0

    def __call__(self, *args):
        assert len(args) == len(self.ins) + len(self.outs), self.name
        self.calls += 1
        ns = dict(_C_FUNCS)
        for n, a in zip(self.ins + self.outs, args):
            ns[n] = a
        dtype = args[len(self.ins)].dtype
        ns["T"] = dtype.type
        for n, a in zip(self.ins, args):
            if n in self.raw:
                assert isinstance(a, np.ndarray) and a.shape == (1,) and \
                    a.dtype == np.dtype(self.raw[n]), f"{self.name}: pointer {n} is {a!r}"
                continue
            if n not in self.typed:  # a declared type (float64 b1, int64 growth)
                continue
            assert np.ndim(a) == 0 or a.dtype == dtype, f"{self.name}: {n} is {a.dtype}"
            if np.ndim(a) == 0:
                assert type(a) is dtype.type, f"{self.name}: scalar {n} is {type(a)}"
        with np.errstate(all="ignore"):
            for s in self.statements:
                exec(s, {}, ns)
        for n, a in zip(self.outs, args[len(self.ins):]):
            a[...] = ns[n]


class FakeCupyModule:
    ElementwiseKernel = EmulatedKernel


class FakeCupyBackend:
    """Looks like the CuPy backend to the kernels (``name == "cupy"``) but holds NumPy arrays."""

    name = "cupy"
    is_host = False
    device = "gpu:fake"
    xp = np

    def __init__(self):
        self.kernels = {}

    def kernel(self, name, factory):
        if name not in self.kernels:
            self.kernels[name] = factory(FakeCupyModule)
        return self.kernels[name]

    def asarray(self, x, dtype=None):
        return np.asarray(x, dtype=dtype)

    def is_array(self, x):
        return isinstance(x, np.ndarray)

    def to_numpy(self, x):
        return np.asarray(x)


@pytest.fixture
def fake_cupy():
    """A backend object whose kernel path runs the CuPy kernel bodies with NumPy."""
    return FakeCupyBackend()


def make_variables(seed=0, dtype="float32", backend=None):
    """A Dense(3)-like kernel [4, 3] and bias [3] (on ``backend``, default NumPy)."""
    b = backend or numpy_backend()
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(4, 3)).astype(dtype)
    bias = rng.normal(size=(3,)).astype(dtype)
    return [Variable(b.asarray(kernel), name="kernel", path="dense/kernel"),
            Variable(b.asarray(bias), name="bias", path="dense/bias")]


def host(x):
    """A NumPy copy of a NumPy or CuPy array."""
    return np.array(backend_of(x).to_numpy(x))


def make_grads(steps=3, seed=1, scales=(1.0, 0.3, 2.0, 0.5, 1.5)):
    """Fixed gradients per step for the variables of ``make_variables``."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=(4, 3)) * scales[i % len(scales)],
             rng.normal(size=(3,)) * scales[i % len(scales)]] for i in range(steps)]


# -- reference update rules (one variable; ``s`` is that variable's state dict) ---------------


def ref_sgd(w, g, s, t, lr, momentum=0.0, nesterov=False):
    if not momentum:
        return w - lr * g
    v = s.get("v", np.zeros_like(w))
    v = momentum * v - lr * g
    s["v"] = v
    return w + momentum * v - lr * g if nesterov else w + v


def ref_rmsprop(w, g, s, t, lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    a = rho * s.get("a", 0.0) + (1 - rho) * g * g
    s["a"] = a
    if centered:
        mg = rho * s.get("mg", 0.0) + (1 - rho) * g
        s["mg"] = mg
        den = a - mg * mg + epsilon
    else:
        den = a + epsilon
    inc = lr * g / np.sqrt(den)
    if momentum > 0:
        s["mom"] = momentum * s.get("mom", 0.0) + inc
        return w - s["mom"]
    return w - inc


def ref_adagrad(w, g, s, t, lr, initial_accumulator_value=0.1, epsilon=1e-7):
    s["acc"] = s.get("acc", initial_accumulator_value) + g * g
    return w - lr * g / np.sqrt(s["acc"] + epsilon)


def ref_adadelta(w, g, s, t, lr, rho=0.95, epsilon=1e-7):
    s["eg"] = rho * s.get("eg", 0.0) + (1 - rho) * g * g
    ex = s.get("ex", 0.0)
    delta = -np.sqrt(ex + epsilon) / np.sqrt(s["eg"] + epsilon) * g
    s["ex"] = rho * ex + (1 - rho) * delta * delta
    return w + lr * delta


def ref_adam(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = s.get("m", 0.0)
    v = s.get("v", 0.0)
    m = m + (1 - beta_1) * (g - m)
    v = v + (1 - beta_2) * (g * g - v)
    s["m"], s["v"] = m, v
    alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    if amsgrad:
        s["vh"] = np.maximum(s.get("vh", 0.0), v)
        v = s["vh"]
    return w - alpha * m / (np.sqrt(v) + epsilon)


def ref_adamax(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g))
    return w - lr * s["m"] / ((1 - beta_1 ** t) * (s["u"] + epsilon))


def ref_nadam(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, shared=None):
    mu_t = beta_1 * (1 - 0.5 * 0.96 ** t)
    mu_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    prod = shared["prod"]  # already multiplied by mu_t for this step
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g * g
    m_hat = mu_next * s["m"] / (1 - prod * mu_next) + (1 - mu_t) * g / (1 - prod)
    v_hat = s["v"] / (1 - beta_2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + epsilon)


def ref_ftrl(w, g, s, t, lr, learning_rate_power=-0.5, initial_accumulator_value=0.1,
             l1_regularization_strength=0.0, l2_regularization_strength=0.0,
             l2_shrinkage_regularization_strength=0.0, beta=0.0):
    p = -learning_rate_power
    n = s.get("n", np.full_like(w, initial_accumulator_value))
    z = s.get("z", np.zeros_like(w))
    l2 = l2_regularization_strength + beta / (2 * lr)
    g_shrunk = g + 2 * l2_shrinkage_regularization_strength * w
    n_new = n + g * g
    sigma = (n_new ** p - n ** p) / lr
    z = z + g_shrunk - sigma * w
    q = n_new ** p / lr + 2 * l2
    l1 = l1_regularization_strength
    w_new = np.where(np.abs(z) <= l1, 0.0, (np.sign(z) * l1 - z) / q)
    s["n"], s["z"] = n_new, z
    return w_new


def ref_lion(w, g, s, t, lr, beta_1=0.9, beta_2=0.99):
    m = s.get("m", 0.0)
    w = w - lr * np.sign(beta_1 * m + (1 - beta_1) * g)
    s["m"] = beta_2 * m + (1 - beta_2) * g
    return w


REFS = {"SGD": ref_sgd, "RMSprop": ref_rmsprop, "Adagrad": ref_adagrad,
        "Adadelta": ref_adadelta, "Adam": ref_adam, "AdamW": ref_adam, "Adamax": ref_adamax,
        "Nadam": ref_nadam, "Ftrl": ref_ftrl, "Lion": ref_lion}

COMMON = ("learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
          "use_ema", "ema_momentum", "ema_overwrite_frequency")


def reference_trajectory(cls_name, kwargs, weights, grads_per_step, exclude=()):
    """Keras 3's ``apply`` order: clip (none here), weight decay, update, t = step + 1."""
    lr = kwargs["learning_rate"]
    wd = kwargs.get("weight_decay", 0.004 if cls_name == "AdamW" else None)
    hp = {k: v for k, v in kwargs.items() if k not in COMMON}
    ref = REFS[cls_name]
    ws = [np.asarray(w, np.float64) for w in weights]
    states = [{} for _ in ws]
    shared = {"prod": 1.0}
    out = []
    for step, gs in enumerate(grads_per_step):
        t = step + 1
        shared["prod"] *= hp.get("beta_1", 0.9) * (1 - 0.5 * 0.96 ** t)
        new = []
        for i, (w, g, s) in enumerate(zip(ws, gs, states)):
            if wd and i not in exclude:
                w = w - lr * wd * w
            extra = {"shared": shared} if cls_name == "Nadam" else {}
            new.append(ref(w, np.asarray(g, np.float64), s, t, lr, **hp, **extra))
        ws = new
        out.append([w.copy() for w in ws])
    return out


def run(opt, variables, grads_per_step):
    out = []
    for gs in grads_per_step:
        opt.apply_gradients(zip([np.asarray(g, np.float32) for g in gs], variables))
        out.append([host(v.data) for v in variables])
    return out


def assert_close(got, want, rtol=2e-5, atol=2e-6):
    for step, (gw, ww) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(gw, ww)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                       err_msg=f"step {step + 1}, variable {i}")


@pytest.fixture
def ref():
    """Helpers: variables, gradients, the reference rules and trajectories, comparisons."""
    return SimpleNamespace(make_variables=make_variables, make_grads=make_grads, REFS=REFS,
                           reference_trajectory=reference_trajectory, run=run, host=host,
                           assert_close=assert_close)
