"""Counts code executions from hostile model configs: every public loader × every exploit kind.

Each case is a real gpunet file or config (``.h5``, ``.keras``, JSON, YAML, config dict) with
only its model config edited (``tests/security/safe_mode_cases.py``): the reported chain of four
``Lambda`` layers ending in ``subprocess.getoutput``, Lambda bytecode in ``function`` or
``output_shape``, a function of a planted module (whose import alone would run code), Keras 3's
spelling of it, and ``subprocess.getoutput`` by name. A case "executed code" when its marker file
appeared or the planted module was imported. Every case loads with the loader's default
arguments (safe mode).

Usage::

    GPUNET_BACKEND=numpy python tools/safe_mode_matrix.py
    # the code before safe mode was an allow-list, from a checkout of it:
    PYTHONPATH=<checkout> GPUNET_BACKEND=numpy python tools/safe_mode_matrix.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

CASES = Path(__file__).resolve().parents[1] / "tests" / "security" / "safe_mode_cases.py"


class _SysPath:
    def syspath_prepend(self, path: str) -> None:
        sys.path.insert(0, path)


def main() -> int:
    spec = importlib.util.spec_from_file_location("safe_mode_cases", CASES)
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    tried = executed = refused = 0
    rows = []
    for loader, (_, load) in sorted(cases.LOADERS.items()):
        hits = []
        for kind in cases.KINDS:
            tmp = Path(tempfile.mkdtemp(prefix="safe_mode_"))
            module = cases.evil_module(tmp, _SysPath())
            tried += 1
            try:
                load(tmp, cases.exploit_layers(kind, tmp, module), None)
            except Exception:  # noqa: BLE001 - any refusal counts; the marker decides
                refused += 1
            if (tmp / "PWNED").exists() or module in sys.modules:
                executed += 1
                hits.append(kind)
        rows.append(f"{loader:42s} {len(cases.KINDS)} kinds, code ran for: {hits or 'none'}")
    print("\n".join(rows))
    print(f"loaders: {len(cases.LOADERS)}  kinds: {len(cases.KINDS)}  cases: {tried}  "
          f"refused with an error: {refused}  code executions: {executed}")
    return 1 if executed else 0


if __name__ == "__main__":
    sys.exit(main())
