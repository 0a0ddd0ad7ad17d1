"""``RemoteMonitor``: posts each epoch's logs to an HTTP server."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from gpunet.backend import to_numpy
from gpunet.callbacks.base import Callback


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if hasattr(value, "__cuda_array_interface__"):
        return to_numpy(value).tolist()
    return value


class RemoteMonitor(Callback):
    """Sends the logs of every epoch (with the ``epoch`` number) to a server by HTTP POST.

    Without ``send_as_json``, the body is form-encoded with one field, ``field``, holding the
    JSON of the logs (Keras's default, for the hualos dashboard); with it, the body is the
    JSON itself (``Content-Type: application/json``). A server that cannot be reached gives a
    warning, never an error: training goes on. Only the standard library is used.

    Args:
        root: the server's root URL.
        path: the path the events are posted to.
        field: the form field that holds the JSON (ignored with ``send_as_json``).
        headers: extra HTTP headers.
        send_as_json: post the logs as a JSON body.
        timeout: seconds to wait for the server.

    Example:

    >>> model.fit(x, y, callbacks=[RemoteMonitor("http://localhost:9000")])
    """

    def __init__(self, root: str = "http://localhost:9000", path: str = "/publish/epoch/end/",
                 field: str = "data", headers: dict | None = None, send_as_json: bool = False,
                 timeout: float = 5.0) -> None:
        super().__init__()
        self.root, self.path, self.field = root, path, field
        self.headers = dict(headers or {})
        self.send_as_json, self.timeout = send_as_json, timeout

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for k, v in (logs or {}).items():
            send[k] = _jsonable(v)
        headers = dict(self.headers)
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("utf-8")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        url = self.root + self.path
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except (urllib.error.URLError, OSError, ValueError) as e:
            warnings.warn(f"RemoteMonitor: could not reach the server at {url} "
                          f"({type(e).__name__}: {e}).", stacklevel=2)
