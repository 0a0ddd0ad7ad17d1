"""RemoteMonitor posts each epoch's logs to a local HTTP server, as Keras does."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from gpunet import Sequential, layers
from gpunet.callbacks import RemoteMonitor


@pytest.fixture
def server():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers["Content-Length"])
            got.append((self.path, self.headers["Content-Type"], self.headers.get("X-Run"),
                        self.rfile.read(n).decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_port}", got
    httpd.shutdown()
    httpd.server_close()


def _fit(cb, epochs=2):
    m = Sequential([layers.Input((2,)), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 2), "float32")
    return m.fit(x, np.zeros((4, 1), "float32"), epochs=epochs, verbose=0, callbacks=[cb])


def test_form_encoded_by_default(server):
    root, got = server
    hist = _fit(RemoteMonitor(root=root, headers={"X-Run": "a"}))
    assert len(got) == 2
    path, ctype, run, body = got[1]
    assert path == "/publish/epoch/end/" and run == "a"
    assert ctype == "application/x-www-form-urlencoded"
    data = json.loads(urllib.parse.parse_qs(body)["data"][0])
    assert data["epoch"] == 1 and data["loss"] == pytest.approx(hist.history["loss"][1])


def test_json_body(server):
    root, got = server
    _fit(RemoteMonitor(root=root, path="/x", send_as_json=True), epochs=1)
    path, ctype, _, body = got[0]
    assert path == "/x" and ctype == "application/json"
    assert set(json.loads(body)) == {"epoch", "loss"}


def test_unreachable_server_warns_and_training_goes_on():
    with pytest.warns(UserWarning, match="could not reach the server"):
        hist = _fit(RemoteMonitor(root="http://127.0.0.1:9", timeout=0.5), epochs=1)
    assert len(hist.history["loss"]) == 1
