"""Writes ``gpunet/saving/keras_ops_table.py``: for each Keras 3 operation class, its module and
the arguments its constructor takes (the rest go to its ``call``), so that gpunet writes the
ops recorded on symbolic tensors in the form Keras 3 reads. Run with Keras installed:

    KERAS_BACKEND=jax python tools/make_keras_ops_table.py
"""

import importlib
import inspect
import os
import pprint
import re

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
from keras.src.ops.operation import Operation  # noqa: E402

MODULES = ["numpy", "nn", "core", "math", "linalg", "image"]
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gpunet",
                   "saving", "keras_ops_table.py")


def main():
    table = {}
    for short in MODULES:
        mod = importlib.import_module(f"keras.src.ops.{short}")
        for cls_name, cls in sorted(vars(mod).items()):
            if not (inspect.isclass(cls) and issubclass(cls, Operation) and cls is not Operation
                    and cls.__module__ == mod.__name__):
                continue
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls_name).lower()
            params = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                      if p.name not in ("self", "name") and p.kind in (
                          p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            key = f"image.{name}" if short == "image" else name
            table.setdefault(key, (mod.__name__, cls_name, tuple(params)))
    with open(OUT, "w") as f:
        f.write('"""Keras 3 operation classes by gpunet op name: ``(module, class, constructor\n'
                'arguments)``, written by ``tools/make_keras_ops_table.py`` from Keras '
                f'{keras.__version__}."""\n\n')
        f.write("KERAS_OPS = ")
        f.write(pprint.pformat(table, width=99, compact=True))
        f.write("\n")


if __name__ == "__main__":
    main()
