"""The backend owns every device routine: no module above ``gpunet/backend/`` tells NumPy
from CuPy by itself.

When this fails, a module outside ``gpunet/backend/`` switched on the array module, called
``cupyx``/``cupy`` directly or guessed a host copy with ``hasattr(x, "get")`` (a ``dict`` has
``.get`` too). Add the routine to ``Backend`` (``base.py``) with its NumPy
(``numpy_routines.py``) and CuPy (``cupy_routines.py``) forms and call it through
``backend_of(array)``; copy to the host with ``gpunet.backend.to_numpy``.
"""

from __future__ import annotations

import pathlib
import re

import gpunet

PACKAGE = pathlib.Path(gpunet.__file__).parent

# (rule, pattern) - each pattern is a device decision that belongs to the backend.
RULES = [
    ("array module tested by name", re.compile(r"__name__\s*[!=]=\s*['\"](numpy|cupy)['\"]")),
    ("array module tested by name", re.compile(r"\bxp\.__name__")),
    ("array module tested by identity", re.compile(r"\bxp\s+is\s+(not\s+)?np\b")),
    ("array type tested by module name", re.compile(r"__module__[^\n]*['\"]cupy")),
    ("backend tested by name", re.compile(r"\.name\s*[!=]=\s*['\"](numpy|cupy)['\"]")),
    ("cupyx called directly", re.compile(r"\bcupyx\b")),
    ("cupy imported directly", re.compile(r"^\s*(import cupy\b|from cupy\b)", re.M)),
    ("host copy guessed from .get", re.compile(r"hasattr\([^)]*['\"]get['\"]\)")),
]

# Files allowed to break a rule, with the reason. Keep this short.
ALLOWED = {
    # Scale-out talks NCCL through CuPy's bindings: a transport, not an array routine.
    ("gpunet/distribute/__init__.py", "cupy imported directly"),
    ("gpunet/distribute/comm.py", "cupy imported directly"),
}


def _code_lines(text: str) -> str:
    """The source without comments and docstring-only lines (prose may name cupyx)."""
    out = []
    in_doc = False
    for line in text.splitlines():
        stripped = line.strip()
        quotes = stripped.count('"""') + stripped.count("'''")
        if in_doc:
            in_doc = quotes % 2 == 0
            continue
        if stripped.startswith(('"""', "'''", 'r"""')):
            in_doc = quotes % 2 == 1
            continue
        out.append(line.split(" #")[0] if not stripped.startswith("#") else "")
    return "\n".join(out)


def _violations() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel.startswith("gpunet/backend/"):
            continue
        code = _code_lines(path.read_text(encoding="utf-8"))
        for rule, pattern in RULES:
            m = pattern.search(code)
            if m and (rel, rule) not in ALLOWED:
                found.append((rel, rule, m.group(0).strip()))
    return found


def test_no_device_routine_above_the_backend():
    bad = _violations()
    assert not bad, "device routines outside gpunet/backend/ (see this test's docstring):\n" + \
        "\n".join(f"  {f}: {rule}: {text!r}" for f, rule, text in bad)


def test_the_allowed_exceptions_are_still_needed():
    # An exception whose file no longer breaks its rule must leave the list.
    stale = []
    for rel, rule in ALLOWED:
        pattern = next(p for r, p in RULES if r == rule)
        code = _code_lines((PACKAGE.parent / rel).read_text(encoding="utf-8"))
        if not pattern.search(code):
            stale.append((rel, rule))
    assert not stale, f"remove these from ALLOWED: {stale}"


def test_the_scan_catches_each_rule():
    samples = {
        "array module tested by name": 'if xp.__name__ == "numpy":\n    pass',
        "array module tested by identity": "kind = 'stable' if xp is np else None",
        "backend tested by name": 'if b.name == "cupy":\n    pass',
        "array type tested by module name": 'on_gpu = type(x).__module__.startswith("cupy")',
        "cupyx called directly": "    import cupyx",
        "cupy imported directly": "    from cupy.cuda import nccl",
        "host copy guessed from .get": 'a = v.get() if hasattr(v, "get") else v',
    }
    for rule, text in samples.items():
        assert any(p.search(_code_lines(text)) for r, p in RULES if r == rule), rule
    assert not any(p.search(_code_lines('"""Uses cupyx.scatter_add."""\nx = 1'))
                   for _, p in RULES)
