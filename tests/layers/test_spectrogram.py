"""STFTSpectrogram gives the values, kernels, output shapes and configs Keras 3.15 gave on the
same signals (tests/fixtures/spectrogram.*, made by tests/fixtures/make_keras_spectrogram.py; no
Keras needed here), passes gradients to its input and its kernels (finite differences in
float64), trains in a model, survives .keras round trips, loads Keras's .keras and .h5 files,
and rejects bad arguments as Keras does. The named windows match SciPy's get_window."""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.layers.preprocessing._windows import get_window

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "spectrogram.npz")
MODELS = np.load(FIXDIR / "spectrogram_models.npz")
CASES = json.loads((FIXDIR / "spectrogram.json").read_text())["cases"]
STFT_KEYS = sorted(k for k in CASES if k.startswith("stft_"))
ARGS = ("mode", "frame_length", "frame_step", "fft_length", "window", "periodic", "scaling",
        "padding", "expand_dims", "data_format")


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _from_keras(key, **overrides):
    cfg = {**CASES[key]["config"], **overrides}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fft_length not a power of two
        return layers.deserialize({"class_name": CASES[key]["class_name"], "config": cfg})


def _tol(key):
    # log of magnitudes near zero: float32 rounding of tiny bins shows as 1e-5 absolute
    return 2e-4 if "log" in key or key.endswith("frame20") else 2e-5


@pytest.mark.parametrize("key", STFT_KEYS)
def test_stft_matches_keras(backend, key):
    layer = _from_keras(key)
    x = FIX[f"{key}_x"]
    y = layer(backend.asarray(x))
    want = FIX[f"{key}_y"]
    assert tuple(y.shape) == want.shape
    assert y.dtype == want.dtype
    got = _np(backend, y)
    if CASES[key]["config"]["mode"] == "angle":  # the phase of bins that are ~0 is noise
        mag = np.abs(np.exp(1j * got) - np.exp(1j * want))
        assert np.mean(mag < 1e-4) > 0.97
    else:
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=_tol(key))
    assert [w.name for w in layer.weights] == CASES[key]["weights"]
    assert [w.name for w in layer.trainable_weights] == CASES[key]["trainable_weights"]
    for w in layer.weights:  # the DFT basis Keras's STFT initializer builds
        np.testing.assert_allclose(_np(backend, w), FIX[f"{key}_{w.name}"], atol=2e-6)
    shape = (None,) + x.shape[1:]
    assert list(layer.compute_output_shape(shape)) == CASES[key]["output_shape"]


def test_angle_matches_keras_where_the_bin_is_not_zero(backend):
    key = "stft_angle_stereo"
    mag = _from_keras("stft_magnitude_stereo")(backend.asarray(FIX[f"{key}_x"]))
    got = _np(backend, _from_keras(key)(backend.asarray(FIX[f"{key}_x"])))
    big = _np(backend, mag) > 1e-3
    assert big.mean() > 0.9
    np.testing.assert_allclose(got[big], FIX[f"{key}_y"][big], atol=2e-4)


@pytest.mark.parametrize("key", STFT_KEYS)
def test_constructor_gives_keras_get_config(key):
    kcfg = CASES[key]["config"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = layers.STFTSpectrogram(name=kcfg["name"], trainable=kcfg["trainable"],
                                       **{k: kcfg[k] for k in ARGS})
        again = layers.STFTSpectrogram.from_config(layer.get_config())
    cfg = json.loads(json.dumps(layer.get_config()))
    assert set(cfg) == set(kcfg)
    for k in set(kcfg) - {"dtype"}:
        assert cfg[k] == kcfg[k], k
    assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("key", ["stft_log_stereo", "stft_stft_stereo", "stft_cf_stereo",
                                 "stft_expand_last", "stft_cf_expand_stft",
                                 "stft_log_same_hamming_spectrum"])
def test_symbolic_call_gives_keras_output_shape(key):
    layer = _from_keras(key)
    inp = layers.Input(FIX[f"{key}_x"].shape[1:])
    assert list(layer(inp).shape) == CASES[key]["output_shape"]


def test_default_frame_step_and_fft_length():
    layer = layers.STFTSpectrogram(frame_length=20)
    assert layer.frame_step is None and layer.fft_length is None
    assert layer._frame_step == 10 and layer._fft_length == 32
    layer.build((None, 100, 1))
    assert tuple(layer.real_kernel.shape) == (20, 1, 17)


def _small(mode, **kw):
    args = dict(mode=mode, frame_length=6, frame_step=3, fft_length=8, dtype="float64")
    return layers.STFTSpectrogram(**{**args, **kw})


@pytest.mark.parametrize("mode,kw", [
    ("log", {}), ("magnitude", {"padding": "same"}), ("psd", {"window": "hamming"}),
    ("real", {"data_format": "channels_first"}), ("imag", {"expand_dims": True}),
    ("angle", {"scaling": "spectrum"}), ("stft", {"window": None, "scaling": None})])
def test_gradient_to_the_input_matches_finite_differences(backend, mode, kw):
    layer = _small(mode, **kw)
    shape = (2, 2, 17) if kw.get("data_format") == "channels_first" else (2, 17, 2)
    x = np.random.default_rng(3).normal(size=shape)
    check_grad(lambda t: layer(t), [x], backend=backend)


@pytest.mark.parametrize("mode", ["log", "psd", "stft"])  # (angle: the DC bin sits on the
# branch cut of arctan2, where finite differences jump by 2 pi)
def test_gradient_to_the_kernels_matches_finite_differences(backend, mode):
    layer = _small(mode, padding="same")
    x = Tensor(backend.asarray(np.random.default_rng(4).normal(size=(2, 14, 1))))
    layer.build((None, 14, 1))
    kr, ki = (backend.to_numpy(w.data) for w in (layer.real_kernel, layer.imag_kernel))

    def fn(real, imag):
        layer.__dict__["real_kernel"], layer.__dict__["imag_kernel"] = real, imag
        return layer.call(x)

    check_grad(fn, [kr, ki], backend=backend)


def _model(trainable, seed):
    gpunet.utils.set_random_seed(seed)
    return gpunet.Sequential([
        layers.Input((64, 2)),
        layers.STFTSpectrogram(mode="magnitude", frame_length=16, frame_step=8,
                               trainable=trainable, name="stft"),
        layers.Flatten(), layers.Dense(1)])


@pytest.mark.parametrize("trainable", [True, False])
def test_model_with_the_layer_trains(backend, trainable):
    model = _model(trainable, 0)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 64, 2)).astype("float32")
    y = np.abs(x[:, ::4, 0]).sum(axis=1, keepdims=True).astype("float32") * 0.1
    stft = model.get_layer("stft")
    assert len(stft.trainable_weights) == (2 if trainable else 0)
    before = [_np(backend, w).copy() for w in stft.weights]
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    loss = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    moved = [not np.allclose(_np(backend, w), b) for w, b in zip(stft.weights, before)]
    assert moved == [trainable, trainable]


def test_keras_archive_round_trip_keeps_changed_kernels(backend, tmp_path):
    model = _model(True, 1)
    stft = model.get_layer("stft")
    rng = np.random.default_rng(6)
    for w in stft.weights:
        w.assign(_np(backend, w) + rng.normal(size=w.shape).astype("float32") * 0.1)
    x = rng.normal(size=(3, 64, 2)).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gpunet.models.load_model(tmp_path / "m.keras", compile=False)
    assert loaded.get_layer("stft").get_config() == stft.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("suffix", ["keras", "h5"])
def test_keras_saved_model_loads_and_predicts_like_keras(backend, suffix):
    model = gpunet.models.load_model(FIXDIR / f"spectrogram_stft.{suffix}", compile=False)
    stft = model.layers[0]
    assert type(stft) is layers.STFTSpectrogram
    assert (stft.mode, stft.padding, stft._fft_length) == ("log", "same", 64)
    fresh = layers.STFTSpectrogram(mode="log", frame_length=32, frame_step=16, fft_length=64)
    fresh.build((None, 160, 2))  # the file's kernels were changed: they must come from it
    assert not np.allclose(_np(backend, stft.real_kernel), _np(backend, fresh.real_kernel))
    np.testing.assert_allclose(model.predict(MODELS["stft_x"], verbose=0), MODELS["stft_y"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    ({"mode": "power"}, "Output mode is invalid"),
    ({"frame_step": 300}, "`frame_step` should be a positive integer not greater"),
    ({"frame_step": 0}, "`frame_step` should be a positive integer"),
    ({"fft_length": 128}, "`fft_length` should be not less than `frame_length`"),
    ({"scaling": "l2"}, "Scaling is invalid"),
    ({"padding": "causal"}, "Padding is invalid"),
    ({"window": "hanning_window"}, "Unknown window type"),
    ({"window": "kaiser"}, "needs one or more parameters"),
    ({"window": [1.0, 0.5]}, r"The shape of `window` must be equal to \[frame_length\]"),
    ({"frame_length": 0}, "`frame_length` must be a positive integer"),
    ({"data_format": "channels_middle"}, "data_format"),
])
def test_bad_arguments_raise_as_keras(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.STFTSpectrogram(**kwargs)


def test_fft_length_not_a_power_of_two_warns():
    with pytest.warns(UserWarning, match="recommended to be a power of two"):
        layers.STFTSpectrogram(frame_length=24, fft_length=40)
    assert CASES["stft_fft_not_pow2"]["warnings"] == [
        "`fft_length` is recommended to be a power of two. Received fft_length=40"]


def test_bad_inputs_raise(backend):
    layer = layers.STFTSpectrogram(frame_length=16)
    with pytest.raises(ValueError, match="expected ndim=3"):
        layer(backend.asarray(np.zeros((2, 64), "float32")))
    with pytest.raises(TypeError, match="Expected `float16`, `float32` or `float64`"):
        layer(backend.asarray(np.zeros((2, 64, 1), "int32")))
    with pytest.raises(ValueError, match="fewer than `frame_length`=16"):
        layer(backend.asarray(np.zeros((2, 10, 1), "float32")))


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "blackmanharris", "nuttall",
                                  "flattop", "boxcar", "triang", "bartlett", "barthann",
                                  "bohman", "parzen", "cosine", "tukey", "han", "rect"])
@pytest.mark.parametrize("periodic", [True, False])
def test_named_windows_match_scipy(name, periodic):
    signal = pytest.importorskip("scipy.signal")
    for n in (1, 2, 5, 8, 31):
        np.testing.assert_allclose(get_window(name, n, periodic),
                                   signal.get_window(name, n, periodic), rtol=0, atol=1e-13)


def test_hann_window_by_formula():
    n = np.arange(8)
    np.testing.assert_allclose(get_window("hann", 8, True), 0.5 - 0.5 * np.cos(2 * np.pi * n / 8))
    np.testing.assert_allclose(get_window("hann", 8, False),
                               0.5 - 0.5 * np.cos(2 * np.pi * n / 7), atol=1e-15)
