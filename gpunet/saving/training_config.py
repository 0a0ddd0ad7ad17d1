"""The ``training_config`` attribute: compile arguments as JSON, and back to ``compile``.

Written as Keras 3 does (plain metric names, ``{"class_name", "config"}`` objects); read from
that, from tf.keras 2 (``MeanMetricWrapper`` metric dicts, ``Custom>Adam`` optimizer names,
``reduction: "auto"``) and from legacy Keras 2 optimizers (``decay``).
"""

from __future__ import annotations

from typing import Any

from gpunet.saving.serialization import normalize


def _ser(obj: Any) -> Any:
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, dict):
        return {k: _ser(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_ser(v) for v in obj]
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    name = getattr(obj, "__name__", None)
    if name is None:
        raise TypeError(f"Cannot save the compile argument {obj!r}: it has no get_config() "
                        "and no name.")
    return name


def training_config(model) -> dict:
    """``{"loss", "metrics", "weighted_metrics", "loss_weights", "optimizer_config"}``."""
    from gpunet import optimizers

    cc = model._compile_config or {}
    return {"loss": _ser(cc.get("loss")), "metrics": _ser(cc.get("metrics")),
            "weighted_metrics": _ser(cc.get("weighted_metrics")),
            "loss_weights": _ser(cc.get("loss_weights")),
            "optimizer_config": optimizers.serialize(model.optimizer)}


def _optimizer(oc: dict | None, custom_objects: dict | None):
    from gpunet import optimizers
    from gpunet.registry import lookup

    if not oc:
        return "rmsprop"
    oc = normalize(oc, "optimizer_config")
    name = oc.get("class_name", "")
    if ">" in name:
        try:
            lookup("optimizer", name, custom_objects)
        except ValueError:
            name = name.split(">", 1)[1]
    cfg = dict(oc.get("config") or {})
    if not cfg.get("decay"):
        cfg.pop("decay", None)
    try:
        return optimizers.deserialize({"class_name": name, "config": cfg}, custom_objects)
    except TypeError as e:
        raise ValueError(f"Optimizer '{name}' in the training config uses options gpunet does "
                         f"not support: {e}") from None


def _loss(loss: Any) -> Any:
    if isinstance(loss, dict) and "class_name" not in loss:  # keyed by output name
        return {k: _loss(v) for k, v in loss.items()}
    if isinstance(loss, list):
        if len(loss) != 1:  # one loss per output
            return [_loss(v) for v in loss]
        loss = loss[0]
    if isinstance(loss, dict):
        from gpunet import losses

        loss = normalize(loss, "loss")
        cfg = dict(loss.get("config") or {})
        if cfg.get("reduction") == "auto":
            cfg["reduction"] = "sum_over_batch_size"
        loss = losses.get({"class_name": loss["class_name"], "config": cfg})
    return loss


def _metrics(ms: Any, custom_objects: dict | None) -> Any:
    if ms is None:
        return None
    if isinstance(ms, dict) and "class_name" not in ms:  # metrics per output name
        return {k: _metrics(v, custom_objects) for k, v in ms.items()}
    if isinstance(ms, list) and len(ms) > 1 and all(isinstance(m, list) for m in ms):
        return [_metrics(m, custom_objects) for m in ms]  # one list per output
    out = []
    for m in ms if isinstance(ms, list) else [ms]:
        if isinstance(m, list):
            out.extend(_metrics(m, custom_objects) or [])
        elif isinstance(m, str) and m in (custom_objects or {}):
            out.append(custom_objects[m])
        elif isinstance(m, dict) and m.get("class_name") == "MeanMetricWrapper":
            cfg = m.get("config") or {}
            out.append(cfg.get("name") or cfg.get("fn"))
        elif isinstance(m, dict):
            from gpunet import metrics

            out.append(metrics.get(normalize(m, "metrics")))
        else:
            out.append(m)
    return out


def compile_from(model, tc: dict, custom_objects: dict | None) -> None:
    """Compiles ``model`` with the arguments stored in a ``training_config``."""
    from gpunet.saving.serialization import custom_object_scope

    with custom_object_scope(custom_objects):
        model.compile(optimizer=_optimizer(tc.get("optimizer_config"), custom_objects),
                      loss=_loss(tc.get("loss")),
                      metrics=_metrics(tc.get("metrics"), custom_objects),
                      weighted_metrics=_metrics(tc.get("weighted_metrics"), custom_objects),
                      loss_weights=tc.get("loss_weights"))
