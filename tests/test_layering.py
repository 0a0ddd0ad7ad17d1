"""Imports run one way: backend -> autograd -> ops -> catalogue -> layers -> callbacks ->
models -> saving -> distribute -> data and utils -> the package root.

Every ``import`` of every module in the package is read with ``ast``, those inside functions
too (a lazy import is still a dependency). An import of a lower layer, or of its own layer, is
fine; an import that runs back up fails this test unless it is one of the few listed below
with its reason. When it fails, move the code to the layer that owns it, or pass the object
in, rather than reaching up.
"""

from __future__ import annotations

import ast
import pathlib

import gpunet

PACKAGE = pathlib.Path(gpunet.__file__).parent

# First part of a module's name below ``gpunet`` -> its floor (higher may import lower).
FLOORS = {
    "backend": 0, "registry": 0, "deserialization": 0, "atomic_io": 0,
    "weight_budget": 0,
    "autograd": 1, "config": 1, "mixed_precision": 1,
    "ops": 2, "random": 2,
    "activations": 3, "extra_activations": 3, "initializers": 3, "regularizers": 3,
    "constraints": 3, "losses": 3, "metrics": 3, "optimizers": 3,
    "layers": 4,
    "callbacks": 5,  # the training loop drives them; they know a model only as an object
    "models": 6,
    "saving": 7,
    "distribute": 8,
    "datasets": 9, "preprocessing": 9, "utils": 9, "applications": 9,
    "": 10,  # gpunet/__init__.py
}

# (importing module, imported package) -> why it may reach up. Lazy imports only.
ALLOWED_UP = {
    ("gpunet.models", "saving"):
        "keras.models.load_model / model_from_json / model_from_yaml / clone_model are "
        "the saving package's functions under their Keras names, imported when called",
    ("gpunet.models.model", "saving"):
        "Model.save / save_weights / load_weights / to_json / to_yaml are Keras API on the "
        "model; the formats are the saving package's, imported when called (Keras 3's "
        "Model.save does the same)",
    ("gpunet.layers.serialization", "saving"):
        "keras.layers.serialize writes Keras 3's config layout, which the saving package "
        "owns; imported when called",
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _floor_key(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: pathlib.Path) -> list[tuple[str, int, bool]]:
    """``(imported gpunet module, line, inside a function)`` for every import in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lazy = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # from gpunet import ops / from . import y: the submodule is what is imported
            names = [f"{target}.{a.name}" if _is_submodule(f"{target}.{a.name}") else target
                     for a in node.names]
        else:
            continue
        out += [(n, node.lineno, id(node) in lazy) for n in names
                if n == "gpunet" or n.startswith("gpunet.")]
    return out


def _is_submodule(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _upward_edges() -> list[tuple[str, str, int, bool]]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _module_name(path)
        for target, line, lazy in _imports(path):
            a, b = _floor_key(src), _floor_key(target)
            if a != b and FLOORS[b] > FLOORS[a]:
                edges.append((src, target, line, lazy))
    return edges


def test_every_module_has_a_floor():
    missing = sorted({_floor_key(_module_name(p)) for p in PACKAGE.rglob("*.py")} - set(FLOORS))
    assert not missing, f"give these a floor in FLOORS: {missing}"


def test_imports_run_one_way():
    bad = [(src, tgt, line, lazy) for src, tgt, line, lazy in _upward_edges()
           if not (lazy and (src, _floor_key(tgt)) in ALLOWED_UP)]
    assert not bad, "imports that run back up (importer -> imported, line):\n" + "\n".join(
        f"  {s} -> {t} (line {n}{', inside a function' if lz else ''})" for s, t, n, lz in bad)


def test_each_allowed_exception_is_still_used():
    used = {(src, _floor_key(tgt)) for src, tgt, _, _ in _upward_edges()}
    present = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    stale = sorted(k for k in set(ALLOWED_UP) - used if k[0] in present)
    assert not stale, f"remove these from ALLOWED_UP: {stale}"


def test_no_two_floors_import_each_other():
    pairs = {(_floor_key(_module_name(p)), _floor_key(t))
             for p in PACKAGE.rglob("*.py") for t, _, _ in _imports(p)}
    cycles = sorted((a, b) for a, b in pairs if a < b and (b, a) in pairs
                    and FLOORS[a] == FLOORS[b])
    assert not cycles, f"packages on one floor that import each other: {cycles}"


def test_the_reader_sees_relative_lazy_and_package_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "gpunet"
    (pkg / "layers").mkdir(parents=True)
    (pkg / "saving").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "layers" / "__init__.py").write_text("")
    (pkg / "saving" / "__init__.py").write_text("")
    (pkg / "layers" / "y.py").write_text("")
    (pkg / "layers" / "x.py").write_text(
        "from . import y\nfrom gpunet import saving\n"
        "def f():\n    from gpunet.saving.hdf5 import load\n")
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    got = _imports(pkg / "layers" / "x.py")
    assert ("gpunet.layers.y", 1, False) in got
    assert ("gpunet.saving", 2, False) in got
    assert ("gpunet.saving.hdf5", 4, True) in got
    assert [(s, t) for s, t, _, _ in _upward_edges()] == [
        ("gpunet.layers.x", "gpunet.saving"), ("gpunet.layers.x", "gpunet.saving.hdf5")]
