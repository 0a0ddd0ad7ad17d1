"""Model configs from files and strings, checked before a model is built from them.

A hostile file can declare a config that costs minutes or gigabytes before any other check
sees it: a gigabyte-long ``model_config`` attribute, JSON nested deeper than Python's
recursion limit, or hundreds of thousands of layers (each one built, named and initialised).
Every loader parses its config through ``parse_config`` (or checks an already parsed one
with ``check_config``) and refuses, with one ``ModelFileError`` naming the file:

* text longer than ``MAX_CONFIG_BYTES`` (32 MiB, the ``.keras`` JSON member limit too);
* nesting deeper than ``MAX_DEPTH`` (100 levels; a Keras model nested in models five deep
  stays under 40);
* more than ``MAX_LAYERS`` layer entries in all the ``layers`` lists together (20 000; the
  largest Keras application has about 1 000).

The limits are module attributes: raise them for a trusted model that exceeds them.
"""

from __future__ import annotations

import json
from typing import Any

from gpunet.saving.load_errors import file_error

MAX_CONFIG_BYTES = 32 << 20
MAX_DEPTH = 100
MAX_LAYERS = 20_000


def parse_config(text: str | bytes, source: str | None, what: str = "model config") -> Any:
    """``json.loads(text)`` after a size check, then ``check_config``.

    Args:
        text: the JSON text.
        source: the file, for the message (``None``: a string given by the caller).
        what: what the text holds, for the message.

    Returns:
        The parsed config.

    Raises:
        ModelFileError: too long, too deeply nested, too many layers, or not JSON (a
            ``ValueError`` when ``source`` is ``None``).
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise _error(source, f"{what} is {len(text)} bytes long, more than the "
                             f"{MAX_CONFIG_BYTES} bytes gpunet accepts "
                             "(gpunet.saving.config_guard.MAX_CONFIG_BYTES)")
    try:
        cfg = json.loads(text)
    except RecursionError:
        raise _too_deep(source, what) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _error(source, f"{what} is not valid JSON ({e})") from None
    check_config(cfg, source, what)
    return cfg


def check_config(cfg: Any, source: str | None, what: str = "model config") -> None:
    """Walks ``cfg`` (without recursion) and refuses nesting deeper than ``MAX_DEPTH`` or more
    than ``MAX_LAYERS`` entries in its ``layers`` lists.

    Args:
        cfg: the parsed config.
        source: the file it came from, or ``None`` for a config given as a dict.
        what: what ``cfg`` is, for the message.

    Raises:
        ModelFileError: naming ``source`` and the limit exceeded (``ValueError`` when
            ``source`` is ``None``).
    """
    layers = 0
    stack = [(cfg, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(source, what)
        if isinstance(node, dict):
            entries = node.get("layers")
            if isinstance(entries, list):
                layers += len(entries)
                if layers > MAX_LAYERS:
                    raise _error(source, f"{what} declares more than {MAX_LAYERS} layers "
                                         "(gpunet.saving.config_guard.MAX_LAYERS)")
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))


def _error(source: str | None, what: str) -> ValueError:
    if source is None:
        return ValueError(f"The {what}.")
    return file_error(source, f"its {what}")


def _too_deep(source: str | None, what: str) -> ValueError:
    return _error(source, f"{what} is nested more than {MAX_DEPTH} levels deep "
                          "(gpunet.saving.config_guard.MAX_DEPTH)")
