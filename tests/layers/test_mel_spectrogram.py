"""MelSpectrogram gives the values, output shapes and configs Keras 3.15 gave on the same signals
and Keras's mel filterbank (tests/fixtures/spectrogram.*, made by
tests/fixtures/make_keras_spectrogram.py; no Keras needed here), follows the HTK mel formula and
the decibel formula by hand, passes gradients (finite differences in float64), trains in a model,
survives .keras round trips, loads Keras's .keras file, and rejects bad arguments."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.layers.preprocessing.mel_spectrogram import mel_weight_matrix

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "spectrogram.npz")
MODELS = np.load(FIXDIR / "spectrogram_models.npz")
CASES = json.loads((FIXDIR / "spectrogram.json").read_text())["cases"]
MEL_KEYS = sorted(k for k in CASES if k.startswith("mel_") and k != "mel_matrix")
ARGS = ("fft_length", "sequence_stride", "sequence_length", "window", "sampling_rate",
        "num_mel_bins", "min_freq", "max_freq", "power_to_db", "top_db", "mag_exp",
        "min_power", "ref_power")


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _from_keras(key, **overrides):
    cfg = {**CASES[key]["config"], **overrides}
    return layers.deserialize({"class_name": "MelSpectrogram", "config": cfg})


def _in_shape(x):
    return x.shape if x.ndim == 1 else (None,) + x.shape[1:]


@pytest.mark.parametrize("key", MEL_KEYS)
def test_mel_matches_keras(backend, key):
    layer = _from_keras(key)
    x = FIX[f"{key}_x"]
    y = layer(backend.asarray(x))
    want = FIX[f"{key}_y"]
    assert tuple(y.shape) == want.shape
    assert y.dtype == want.dtype
    # float32 rounding: relative for powers, a few 1e-5 dB for decibels
    np.testing.assert_allclose(_np(backend, y), want, rtol=1e-4, atol=1e-4)
    shape = layer.compute_output_shape(_in_shape(x))
    assert tuple(shape[1:] if x.ndim > 1 else shape) == want.shape[x.ndim - 1:]


def test_output_shape_is_the_frames_the_layer_gives():
    # Keras 3.15's compute_output_shape uses (n + stride + 1) // stride, one frame too many
    # for an odd fft_length (its own call gives 12 frames there) and whenever
    # n % stride == stride - 1; gpunet gives the count the centred STFT makes.
    assert CASES["mel_odd_fft"]["output_shape"] == [None, 8, 13]
    assert FIX["mel_odd_fft_y"].shape == (2, 8, 12)
    assert _from_keras("mel_odd_fft").compute_output_shape((None, 300)) == (None, 8, 12)
    layer = layers.MelSpectrogram(fft_length=64, sequence_stride=32, num_mel_bins=4)
    for n in (31, 63, 64, 100):
        y = layer(np.random.default_rng(n).normal(size=(1, n)).astype("float32"))
        assert layer.compute_output_shape((1, n)) == tuple(y.shape) == (1, 4, n // 32 + 1)
    for key in MEL_KEYS:
        if key != "mel_odd_fft":
            layer = _from_keras(key)
            got = layer.compute_output_shape(_in_shape(FIX[f"{key}_x"]))
            assert list(got) == CASES[key]["output_shape"]


@pytest.mark.parametrize("key", MEL_KEYS)
def test_constructor_gives_keras_get_config(key):
    kcfg = CASES[key]["config"]
    kw = {k: kcfg[k] for k in ARGS}
    assert kcfg["sequence_length"] and kcfg["max_freq"]
    layer = layers.MelSpectrogram(name=kcfg["name"], **kw)
    cfg = json.loads(json.dumps(layer.get_config()))
    assert set(cfg) == set(kcfg)
    for k in set(kcfg) - {"dtype"}:
        assert cfg[k] == kcfg[k], k
    assert layers.MelSpectrogram.from_config(layer.get_config()).get_config() == \
        layer.get_config()


def test_defaults_filled_in_as_keras():
    cfg = layers.MelSpectrogram(fft_length=256, sampling_rate=22050).get_config()
    assert cfg["sequence_length"] == 256 and cfg["max_freq"] == 11025
    assert cfg["window"] == "hann" and cfg["num_mel_bins"] == 128


@pytest.mark.parametrize("i", range(3))
def test_mel_matrix_matches_keras(backend, i):
    kw = CASES["mel_matrix"][i]
    got = layers.MelSpectrogram().linear_to_mel_weight_matrix(**kw)
    want = FIX[f"melmatrix_{i}"]
    assert got.dtype == np.float32 and tuple(got.shape) == want.shape
    np.testing.assert_allclose(_np(backend, got), want, atol=2e-5)  # float32 noise of Keras's


def test_mel_matrix_by_the_htk_formula():
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    bins, n_mel, sr, lo, hi = 33, 5, 8000.0, 100.0, 3500.0
    freqs = np.linspace(0, sr / 2, bins)
    edges = np.linspace(mel(lo), mel(hi), n_mel + 2)
    want = np.zeros((bins, n_mel))
    for b in range(1, bins):  # the DC bin is left out
        m = mel(freqs[b])
        for j in range(n_mel):
            rise = (m - edges[j]) / (edges[j + 1] - edges[j])
            fall = (edges[j + 2] - m) / (edges[j + 2] - edges[j + 1])
            want[b, j] = max(0.0, min(rise, fall))
    np.testing.assert_allclose(mel_weight_matrix(n_mel, bins, sr, lo, hi, "float64"), want,
                               atol=1e-12)


def test_decibels_by_formula(backend):
    kw = dict(fft_length=64, sequence_stride=16, num_mel_bins=6, sampling_rate=4000,
              top_db=25.0, ref_power=-3.0, min_power=1e-3)
    x = np.random.default_rng(7).normal(size=(2, 300)).astype("float64")
    x[1] *= 0.01  # 40 dB quieter: clipped at top_db below the first signal's peak
    power = _np(backend, layers.MelSpectrogram(power_to_db=False, dtype="float64", **kw)(
        backend.asarray(x)))
    db = 10 * np.log10(np.maximum(power, 1e-3)) - 10 * np.log10(3.0)
    want = np.maximum(db, db.max() - 25.0)  # the largest value of the whole batch
    got = layers.MelSpectrogram(dtype="float64", **kw)(backend.asarray(x))
    np.testing.assert_allclose(_np(backend, got), want, rtol=1e-12, atol=1e-9)
    assert (want == db.max() - 25.0).any()


def test_unbatched_signal_is_a_batch_of_one(backend):
    layer = layers.MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=6,
                                  power_to_db=False)
    x = np.random.default_rng(8).normal(size=(300,)).astype("float32")
    one = layer(backend.asarray(x))
    assert tuple(one.shape) == (6, 19)
    np.testing.assert_allclose(_np(backend, one), _np(backend, layer(backend.asarray(x[None])))[0],
                               rtol=1e-6)


def test_symbolic_call_shape():
    inp = layers.Input((600,))
    out = layers.MelSpectrogram(fft_length=128, sequence_stride=40, num_mel_bins=12)(inp)
    assert tuple(out.shape) == (None, 12, 16)


@pytest.mark.parametrize("power_to_db,window", [(False, "hann"), (True, "hamming"),
                                                (False, None)])
def test_gradient_matches_finite_differences(backend, power_to_db, window):
    layer = layers.MelSpectrogram(fft_length=16, sequence_stride=8, num_mel_bins=4,
                                  sampling_rate=800, mag_exp=1.5, power_to_db=power_to_db,
                                  window=window, dtype="float64")
    x = np.random.default_rng(9).normal(size=(2, 40))
    check_grad(lambda t: layer(t), [x], backend=backend)


def test_model_with_the_layer_trains(backend):
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([
        layers.Input((256,)),
        layers.MelSpectrogram(fft_length=64, sequence_stride=32, num_mel_bins=8,
                              sampling_rate=8000),
        layers.Flatten(), layers.Dense(1)])
    rng = np.random.default_rng(10)
    t = np.arange(256) / 8000
    f = rng.uniform(200, 3500, size=(64, 1))
    x = (np.sin(2 * np.pi * f * t) + 0.05 * rng.normal(size=(64, 256))).astype("float32")
    y = (f / 3500).astype("float32")
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    loss = model.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < 0.3 * loss[0]


def test_keras_archive_round_trip(backend, tmp_path):
    inp = layers.Input((500,))
    h = layers.MelSpectrogram(fft_length=128, sequence_stride=50, num_mel_bins=10,
                              window="hamming", top_db=40.0, name="mel")(inp)
    model = gpunet.Model(inp, layers.Dense(2)(layers.Flatten()(h)))
    x = np.random.default_rng(11).normal(size=(3, 500)).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gpunet.models.load_model(tmp_path / "m.keras", compile=False)
    assert loaded.get_layer("mel").get_config() == model.get_layer("mel").get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)


def test_keras_saved_model_loads_and_predicts_like_keras(backend):
    model = gpunet.models.load_model(FIXDIR / "spectrogram_mel.keras", compile=False)
    mel = [la for la in model.layers if type(la) is layers.MelSpectrogram]
    assert len(mel) == 1 and mel[0].num_mel_bins == 12
    np.testing.assert_allclose(model.predict(MODELS["mel_x"], verbose=0), MODELS["mel_y"],
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    ({"fft_length": 256, "sequence_length": 512},
     "`fft_length` must be greater than or equal to"),
    ({"window": "blackman"}, 'must be one of `"hann"`, `"hamming"`'),
    ({"fft_length": 8, "window": [1.0, 0.5]},
     r"The shape of `window` must be equal to \[sequence_length\]"),
    ({"num_mel_bins": 0}, "`num_mel_bins` must be a positive integer"),
    ({"sequence_stride": 2.5}, "`sequence_stride` must be a positive integer"),
    ({"sampling_rate": -8000}, "`sampling_rate` must be a positive number"),
    ({"min_freq": 5000.0, "max_freq": 4000.0}, r"expected 0 <= `min_freq` < `max_freq`"),
    ({"min_freq": 9000.0}, r"expected 0 <= `min_freq` < `max_freq`.*max_freq=8000"),
    ({"top_db": None}, "`top_db` must be a number"),
    ({"ref_power": "1.0"}, "`ref_power` must be a number"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.MelSpectrogram(**kwargs)


def test_bad_input_rank_raises(backend):
    layer = layers.MelSpectrogram(fft_length=32, sequence_stride=16)
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        layer(backend.asarray(np.zeros((2, 1, 100), "float32")))


def test_integer_input_is_converted_as_keras(backend):
    layer = layers.MelSpectrogram(fft_length=32, sequence_stride=16, num_mel_bins=4,
                                  power_to_db=False)
    x = np.random.default_rng(12).integers(-100, 100, size=(2, 100))
    got = layer(backend.asarray(x.astype("int32")))
    assert got.dtype == np.float32
    want = layer(backend.asarray(x.astype("float32")))
    np.testing.assert_allclose(_np(backend, got), _np(backend, want))


def test_window_given_as_values_equals_the_named_window(backend):
    n = np.arange(48)
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * n / 48)).tolist()  # periodic, as Keras's stft
    kw = dict(fft_length=64, sequence_length=48, sequence_stride=16, num_mel_bins=6)
    x = backend.asarray(np.random.default_rng(13).normal(size=(2, 200)).astype("float32"))
    by_values = layers.MelSpectrogram(window=hann, **kw)
    np.testing.assert_allclose(_np(backend, by_values(x)),
                               _np(backend, layers.MelSpectrogram(window="hann", **kw)(x)),
                               rtol=1e-5, atol=1e-4)
    assert by_values.get_config()["window"] == hann
