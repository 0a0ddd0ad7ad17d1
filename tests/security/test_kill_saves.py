"""Saves killed with SIGKILL at random moments: the previous file always loads, and the next
successful save removes the temporary files the killed writers left; a live writer's
temporary file is never removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet import atomic_io as atomic

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork and SIGKILL")

# One child process imports gpunet once, then forks a saver per trial: the saver saves the
# same model in a loop with a slowed-down disk write (so that kills land inside writes as well
# as inside the in-memory build); the parent kills it at a random moment (even trials: just
# after the first bytes reached the disk), then checks the file and saves once itself.
_CONTROLLER = textwrap.dedent("""
    import json, os, random, signal, sys, time
    import numpy as np
    import gpunet
    from gpunet import Sequential, layers
    from gpunet import atomic_io as atomic
    path, trials = sys.argv[1], int(sys.argv[2])
    folder, base = os.path.split(path)
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((300,)), layers.Dense(300), layers.Dense(300)])
    m.compile(optimizer="adam", loss="mse")
    x = np.ones((2, 300), "float32")
    m.save(path)
    expected = m.predict(x, verbose=0)
    rng = random.Random(0)
    out = []
    for t in range(trials):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            atomic._CHUNK = 1 << 15
            real = os.write
            def slow(fd, data, _w=w):
                n = real(fd, data)
                if fd != _w:
                    real(_w, b"w")
                    time.sleep(0.002)
                return n
            os.write = slow
            while True:
                m.save(path)
        os.close(w)
        if t % 2 == 0:
            os.read(r, 1)
            time.sleep(rng.uniform(0, 0.01))
        else:
            time.sleep(rng.uniform(0, 0.3))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        temps = [n for n in os.listdir(folder) if n.startswith("." + base)]
        loaded = gpunet.models.load_model(path)
        same = bool(np.array_equal(loaded.predict(x, verbose=0), expected))
        m.save(path)
        left = [n for n in os.listdir(folder) if n.startswith("." + base)]
        out.append({"temps_after_kill": len(temps), "loads_same": same, "left": left})
    print(json.dumps(out))
""")


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_kill_loop_keeps_file_and_cleans_orphans(tmp_path, suffix):
    path = str(tmp_path / f"ckpt{suffix}")
    root = os.path.dirname(os.path.dirname(gpunet.__file__))
    env = {**os.environ, "GPUNET_BACKEND": "numpy", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1",
           "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _CONTROLLER, path, "20"], capture_output=True,
                       text=True, env=env, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    trials = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(trials) == 20
    assert all(t["loads_same"] for t in trials)
    assert all(t["left"] == [] for t in trials)
    # the kills right after the first written bytes leave an orphan each, which the next
    # save removed
    assert sum(t["temps_after_kill"] for t in trials[::2]) == 10
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(path)]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_rule(tmp_path):
    target = str(tmp_path / "m.h5")
    host = atomic._host()
    live_other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        names = {
            "dead": f".m.h5.{host}-{_dead_pid()}-0123abcd.tmp",
            "live": f".m.h5.{host}-{live_other.pid}-0123abcd.tmp",
            "self": f".m.h5.{host}-{os.getpid()}-0123abcd.tmp",
            "other_host": f".m.h5.elsewhere-{_dead_pid()}-0123abcd.tmp",
            "old_other_host": ".m.h5.elsewhere-1-0123abcd.tmp",
            "old_mkstemp": ".m.h5.k2j_x9qa.tmp",
            "user_file": ".m.h5.notes.tmp",
            "other_target": f".m2.h5.{host}-{_dead_pid()}-0123abcd.tmp",
        }
        for n in names.values():
            (tmp_path / n).write_bytes(b"x")
        old = time.time() - atomic.STALE_AFTER_S - 60
        for k in ("old_other_host", "old_mkstemp", "user_file"):
            os.utime(tmp_path / names[k], (old, old))
        removed = {os.path.basename(p) for p in atomic.remove_stale_temps(target)}
        assert removed == {names[k] for k in ("dead", "old_other_host", "old_mkstemp")}
        Sequential([layers.Input((2,)), layers.Dense(1)]).save(target)
        assert sorted(os.listdir(tmp_path)) == sorted(
            [names[k] for k in ("live", "self", "other_host", "user_file", "other_target")]
            + ["m.h5"])
    finally:
        live_other.kill()
        live_other.wait()


_SLOW_WRITER = textwrap.dedent("""
    import os, sys, time
    import gpunet
    from gpunet import Sequential, layers
    from gpunet import atomic_io as atomic
    gpunet.utils.set_random_seed(1)
    m = Sequential([layers.Input((200,)), layers.Dense(200)])
    atomic._CHUNK = 1 << 12
    real, state = os.write, {"n": 0}
    def slow(fd, data):
        n = real(fd, data)
        state["n"] += 1
        if state["n"] == 1:
            print("writing", flush=True)
            sys.stdin.readline()
        return n
    os.write = slow
    m.save(sys.argv[1])
    os.write = real
    print("done", flush=True)
""")


def test_concurrent_live_writer_is_left_alone(tmp_path):
    path = str(tmp_path / "shared.h5")
    root = os.path.dirname(os.path.dirname(gpunet.__file__))
    env = {**os.environ, "GPUNET_BACKEND": "numpy",
           "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, path], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        theirs = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert len(theirs) == 1
        Sequential([layers.Input((3,)), layers.Dense(2)]).save(path)  # our save, meanwhile
        assert theirs[0] in os.listdir(tmp_path)  # their temporary file survived it
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sorted(os.listdir(tmp_path)) == ["shared.h5"]
    gpunet.utils.set_random_seed(1)
    theirs_model = Sequential([layers.Input((200,)), layers.Dense(200)])
    loaded = gpunet.models.load_model(path, compile=False)  # the last rename wins: theirs
    np.testing.assert_array_equal(loaded.get_weights()[0], theirs_model.get_weights()[0])
