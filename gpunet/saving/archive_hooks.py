"""The saving hooks a user's layer or model may define, honoured in ``.keras`` archives as
Keras 3 does (the keras.io guide "Customizing Saving and Serialization"):

- ``save_assets(dir)`` / ``load_assets(dir)``: files written into a folder at save time go
  into the archive under ``assets/<the object's path>/`` (the path its variables have in
  ``model.weights.h5``, e.g. ``layers/my_layer``) and come back into a folder at load time,
  after the weights;
- ``get_compile_config()`` / ``compile_from_config(config)``: the dict the model returns is
  stored (through ``serialize_keras_object``) as the archive's ``compile_config`` and given
  back to ``compile_from_config`` (or, without one, deserialized and passed to ``compile``).

``get_build_config`` / ``build_from_config`` are read and written with the layer configs
(``keras3_config.layer_config``, ``deserialization.deserialize_layer``). Hooks are the
user's when the class defining them lives outside gpunet.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from typing import Any

from gpunet.saving.load_errors import file_error
from gpunet.saving.zip_guard import read_member

ASSETS = "assets/"
ASSET_LIMIT = 256 << 20  # bytes per asset file
ASSETS_TOTAL_LIMIT = 1 << 30  # bytes of assets in one archive


def user_defined(obj: Any, method: str) -> bool:
    """Whether ``obj``'s ``method`` comes from a class outside gpunet (a user's hook)."""
    for cls in type(obj).__mro__:
        if method in vars(cls):
            return not cls.__module__.startswith("gpunet.")
    return False


def compile_config(model: Any, default: dict | None) -> Any:
    """The ``compile_config`` to store: the user's ``get_compile_config()`` serialized, else
    ``default`` (gpunet's own record of the ``compile`` arguments)."""
    if not user_defined(model, "get_compile_config"):
        return default
    from gpunet.saving.object_serialization import serialize_keras_object

    return serialize_keras_object(model.get_compile_config())


def compile_from(model: Any, config: Any, custom_objects: dict | None) -> bool:
    """Compiles ``model`` through the user's hooks; False when it has none (the caller then
    compiles from gpunet's own record)."""
    from gpunet.saving.serialization import custom_object_scope

    if user_defined(model, "compile_from_config"):
        with custom_object_scope(custom_objects):
            model.compile_from_config(config)
        return True
    if user_defined(model, "get_compile_config"):
        from gpunet.saving.object_serialization import deserialize_keras_object

        with custom_object_scope(custom_objects):
            model.compile(**deserialize_keras_object(config, custom_objects))
        return True
    return False


def write_assets(z: zipfile.ZipFile, model: Any) -> None:
    """Adds the files each user object's ``save_assets`` writes under ``assets/<path>/``."""
    from gpunet.saving.k3_layout import objects

    for path, obj in objects(model):
        if not user_defined(obj, "save_assets"):
            continue
        with tempfile.TemporaryDirectory() as root:
            folder = os.path.join(root, *path.split("/")) if path else root
            os.makedirs(folder, exist_ok=True)
            obj.save_assets(folder)
            for here, _, files in os.walk(folder):
                for name in sorted(files):
                    full = os.path.join(here, name)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    z.write(full, ASSETS + rel)


def _safe_parts(name: str, filepath: str) -> list[str]:
    rel = name[len(ASSETS):]
    parts = rel.split("/")
    if "\\" in rel or any(p in ("", ".", "..") or ":" in p for p in parts):
        raise file_error(filepath, f"archive member {name!r} is not a plain relative asset "
                                   "path (a damaged or hostile file)")
    return parts


def load_assets(z: zipfile.ZipFile, model: Any, filepath: str) -> None:
    """Gives each user object with ``load_assets`` the folder of its ``assets/<path>/``
    files (an empty folder when the archive has none for it)."""
    from gpunet.saving.k3_layout import objects

    takers = [(path, obj) for path, obj in objects(model) if user_defined(obj, "load_assets")]
    if not takers:
        return
    members = [i for i in z.infolist() if i.filename.startswith(ASSETS) and not i.is_dir()]
    total = sum(i.file_size for i in members)
    if total > ASSETS_TOTAL_LIMIT:
        raise file_error(filepath, f"its assets declare {total} bytes, more than the "
                                   f"{ASSETS_TOTAL_LIMIT} bytes allowed")
    with tempfile.TemporaryDirectory() as root:
        for info in members:
            target = os.path.join(root, *_safe_parts(info.filename, filepath))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(read_member(z, info.filename, filepath, ASSET_LIMIT))
        for path, obj in takers:
            folder = os.path.join(root, *path.split("/")) if path else root
            os.makedirs(folder, exist_ok=True)
            obj.load_assets(folder)
