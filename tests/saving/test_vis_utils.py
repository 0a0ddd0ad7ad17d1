"""plot_model / model_to_dot: DOT text always, pictures when Graphviz's `dot` is installed."""

from __future__ import annotations

import shutil

import pytest

from gpunet import Sequential, layers
from gpunet.utils import vis_utils
from gpunet.utils.vis_utils import model_to_dot, plot_model

HAS_DOT = shutil.which("dot") is not None


def _model():
    return Sequential([layers.Input((784,)), layers.Dense(64, activation="relu"),
                       layers.Dropout(0.2), layers.Dense(10, activation="softmax")])


def test_dot_text_nodes_edges_and_labels():
    text = model_to_dot(_model()).to_string()
    assert text.startswith('digraph "sequential" {')
    assert "rankdir=TB" in text and "dpi=96" in text and "node [shape=record]" in text
    for label in ("input_layer: InputLayer", "dense: Dense", "dropout: Dropout",
                  "dense_1: Dense"):
        assert f'label="{label}"' in text
    assert [line.strip() for line in text.splitlines() if "->" in line] == \
        ["n0 -> n1;", "n1 -> n2;", "n2 -> n3;"]


def test_shapes_dtype_names_rankdir():
    text = model_to_dot(_model(), show_shapes=True, show_dtype=True, show_layer_names=False,
                        rankdir="LR", dpi=200, show_layer_activations=True).to_string()
    assert "rankdir=LR" in text and "dpi=200" in text
    assert "dense: Dense" not in text
    assert '"{{Dense|relu}|float32}|{input:|output:}|{{(None, 784)}|{(None, 64)}}"' in text
    assert '"{InputLayer|float32}|{input:|output:}|{{(None, 784)}|{(None, 784)}}"' in text


def test_nested_model_collapsed_or_expanded():
    inner = Sequential([layers.Dense(8, name="i1"), layers.Dense(4, name="i2")], name="inner")
    model = Sequential([layers.Input((3,)), inner, layers.Dense(2, name="out")])
    flat = model_to_dot(model).to_string()
    assert 'label="inner: Sequential"' in flat and "i1" not in flat
    nested = model_to_dot(model, expand_nested=True).to_string()
    assert "subgraph cluster_" in nested and 'label="inner"' in nested
    assert 'label="i1: Dense"' in nested and 'label="i2: Dense"' in nested


def test_unbuilt_model_and_bad_arguments():
    text = model_to_dot(Sequential([layers.Dense(2)]), show_shapes=True).to_string()
    assert "{{?}|{?}}" in text
    with pytest.raises(ValueError, match="rankdir"):
        model_to_dot(_model(), rankdir="XY")
    with pytest.raises(TypeError, match="model"):
        model_to_dot(layers.Dense(2))


def test_plot_model_writes_dot_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(vis_utils.shutil, "which", lambda prog: None)
    plot_model(_model(), to_file=tmp_path / "m.dot", show_shapes=True)
    assert (tmp_path / "m.dot").read_text().startswith("digraph")
    with pytest.raises(ImportError, match="Graphviz.*apt-get install graphviz"):
        plot_model(_model(), to_file=tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
@pytest.mark.parametrize("ext,magic", [("png", b"\x89PNG"), ("svg", b"<svg")])
def test_plot_model_renders(tmp_path, ext, magic):
    out = tmp_path / f"model.{ext}"
    model = _model()
    assert plot_model(model, to_file=str(out), show_shapes=True) is None
    data = out.read_bytes()
    assert magic in data[:400]
    if ext == "svg":
        assert "dense_1: Dense" in data.decode() and "(None, 64)" in data.decode()
    svg = model_to_dot(model).create(format="svg")
    assert b"dropout: Dropout" in svg


def _edges(text):
    labels = dict(line.strip().split(" [label=")[0:2] for line in text.splitlines()
                  if "[label=" in line)
    names = {nid: lab.strip("\"];{").split(":")[0] for nid, lab in labels.items()}
    return sorted((names[a], names[b.rstrip(";")]) for a, _, b in
                  (line.strip().partition(" -> ") for line in text.splitlines() if "->" in line))


def _diamond():
    from gpunet import Input, Model

    x = Input((4,), name="x")
    left, right = layers.Dense(3, name="left")(x), layers.Dense(3, name="right")(x)
    return Model(x, layers.Add(name="join")([left, right]), name="diamond")


def test_functional_diamond_draws_the_real_edges():
    text = model_to_dot(_diamond(), show_shapes=True).to_string()
    assert _edges(text) == [("left", "join"), ("right", "join"), ("x", "left"), ("x", "right")]
    assert "{{[(None, 3), (None, 3)]}|{(None, 3)}}" in text  # the merge takes two inputs


def test_functional_shared_layer_nested_and_multi_output():
    from gpunet import Input, Model

    a, b = Input((3,), name="a"), Input((3,), name="b")
    shared = layers.Dense(3, name="shared")
    sa, sb = shared(a), shared(b)
    inner = _diamond()
    out1 = layers.Dense(1, name="o1")(inner(layers.concatenate([sa, sb, a], name="cat")[:, :4]))
    model = Model([a, b], [out1, layers.Dense(2, name="o2")(sb)], name="outer")
    text = model_to_dot(model).to_string()
    assert text.count('label="shared: Dense"') == 1
    edges = _edges(text)
    assert ("a", "shared") in edges and ("b", "shared") in edges and ("a", "cat") in edges
    assert ("shared", "cat") in edges and ("shared", "o2") in edges
    assert ("cat", "getitem") in edges and ("getitem", "diamond") in edges
    assert ("diamond", "o1") in edges
    nested = model_to_dot(model, expand_nested=True).to_string()
    edges = _edges(nested)
    assert ("getitem", "x") in edges and ("join", "o1") in edges and ("x", "left") in edges
    assert 'label="diamond"' in nested and "subgraph cluster_" in nested


def test_functional_plot_to_dot_file_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(vis_utils.shutil, "which", lambda prog: None)
    plot_model(_diamond(), to_file=tmp_path / "d.gv", rankdir="LR")
    text = (tmp_path / "d.gv").read_text()
    assert text.startswith('digraph "diamond"') and "rankdir=LR" in text
    assert len(_edges(text)) == 4
