"""Save/load (npz, never pickle), atomic writes, damaged files, checkpoints and exact resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
from xpnet import io as xio

from conftest import planar_xor


def _net(backend="numpy", dtype="float32", seed=3):
    return xn.Sequential([xn.Dense(5, activation="tanh"), xn.Dense(3, activation="relu"),
                          xn.Dense(1, activation="sigmoid")], input_size=2, backend=backend, dtype=dtype, seed=seed)


def _trained(backend="numpy", dtype="float32", optimizer=None, epochs=4):
    X, Y = planar_xor(m=64)
    net = _net(backend, dtype)
    net.fit(X, Y, optimizer=optimizer or xn.Adam(0.01), epochs=epochs, batch_size=16)
    return net, X, Y


def _host(net):
    return {k: xn.to_numpy(v) for k, v in net.parameters().items()}


def _same_state(a, b):
    pa, pb = _host(a), _host(b)
    assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)
    assert type(a.optimizer) is type(b.optimizer) and a.optimizer.get_config() == b.optimizer.get_config()
    assert a.optimizer.iterations == b.optimizer.iterations
    assert a.optimizer.state.keys() == b.optimizer.state.keys()
    for k in a.optimizer.state:
        assert np.array_equal(xn.to_numpy(a.optimizer.state[k]), xn.to_numpy(b.optimizer.state[k]))
    assert a.epochs_trained == b.epochs_trained
    assert a.shuffle_rng.bit_generator.state == b.shuffle_rng.bit_generator.state
    assert a.loss.name == b.loss.name and a.dtype == b.dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_onto_every_backend(backend, dtype, tmp_path):
    net, X, Y = _trained(dtype=dtype)
    path = xn.save(net, tmp_path / "m.npz")
    loaded = xn.load(path, backend=backend)
    assert loaded.backend.name == backend.name and loaded.dtype == dtype
    _same_state(net, loaded)
    for k, v in loaded.optimizer.state.items():
        assert backend.owns(v), k  # optimiser state lives on the target device
    # The parameters are identical; another library's kernels may round the forward pass differently.
    rtol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(loaded.predict_proba(X), net.predict_proba(X), rtol=rtol)
    # ... and back: saved from that backend, loaded onto NumPy
    again = xn.load(xn.save(loaded, tmp_path / "again.npz"), backend="numpy")
    _same_state(net, again)


@pytest.mark.parametrize("optimizer", [xn.GradientDescent(0.1), xn.Momentum(0.05, beta=0.8),
                                       xn.RMSprop(0.01), xn.Adam(0.01)], ids=lambda o: type(o).__name__)
def test_training_continues_identically_after_load(optimizer, tmp_path):
    optimizer.reset()
    net, X, Y = _trained(optimizer=optimizer)
    loaded = xn.load(xn.save(net, tmp_path / "m.npz"), backend="numpy")
    net.fit(X, Y, epochs=3, batch_size=16)
    loaded.fit(X, Y, epochs=3, batch_size=16)  # restored optimiser (and its moments) and shuffle order
    _same_state(net, loaded)


def test_untrained_model_and_metadata(tmp_path):
    net = _net()
    path = xn.save(net, tmp_path / "m.npz", metadata={"note": "hello", "mean": [1.5, 2.0]})
    loaded = xn.load(path)
    assert loaded.optimizer is None and loaded.epochs_trained == 0
    assert xn.read_header(path)["metadata"] == {"note": "hello", "mean": [1.5, 2.0]}
    with pytest.raises(xn.XpnetTypeError, match="JSON-serialisable"):
        xn.save(net, tmp_path / "x.npz", metadata={"a": object()})
    with pytest.raises(xn.NotFittedError):
        xn.save(xn.Sequential([xn.Dense(1)]), tmp_path / "y.npz")
    with pytest.raises(xn.XpnetTypeError, match="Sequential"):
        xn.save("net", tmp_path / "z.npz")
    with pytest.raises(xn.XpnetValueError, match="does not exist"):
        xn.save(net, tmp_path / "no" / "dir" / "m.npz")


def test_the_file_is_plain_npz_without_pickles(tmp_path):
    net, _, _ = _trained()
    path = xn.save(net, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as f:  # would raise on any object array
        assert "param/W1" in f.files and "opt/v_W1" in f.files and "__xpnet__" in f.files
        header = json.loads(f["__xpnet__"].tobytes())
    assert header["config"] == net.get_config() and header["optimizer"]["class_name"] == "Adam"


# -- damaged files ---------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    net, _, _ = _trained()
    return xn.save(net, tmp_path / "m.npz")


def test_truncated_files_raise_model_file_error(saved, tmp_path):
    data = Path(saved).read_bytes()
    for n in (0, 10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{n}.npz"
        bad.write_bytes(data[:n])
        with pytest.raises(xn.ModelFileError, match="cut"):
            xn.load(bad)


def test_flipped_bytes_raise_model_file_error_or_change_nothing(saved, tmp_path):
    data = bytearray(Path(saved).read_bytes())
    original = _host(xn.load(saved))
    errors = harmless = 0
    for pos in range(0, len(data), max(1, len(data) // 60)):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        path = tmp_path / "flip.npz"
        path.write_bytes(bytes(bad))
        try:
            loaded = _host(xn.load(path))
        except xn.ModelFileError:
            errors += 1
            continue
        # a flip in zip bookkeeping nobody reads (a timestamp, an attribute) must not alter the model
        assert all(np.array_equal(loaded[k], original[k]) for k in original), f"byte {pos} changed the weights"
        harmless += 1
    assert errors > 40 and errors + harmless == len(range(0, len(data), max(1, len(data) // 60)))


def test_edited_values_fail_the_integrity_check(saved, tmp_path):
    with np.load(saved, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["param/W1"] = arrays["param/W1"] + 1.0  # a well-formed archive with other weights
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(xn.ModelFileError, match="integrity check"):
        xn.load(tmp_path / "edited.npz")
    header = json.loads(arrays["__xpnet__"].tobytes())
    header["config"]["layers"][0]["config"]["units"] = 6  # an edited architecture
    arrays["__xpnet__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "edited2.npz", **arrays)
    with pytest.raises(xn.ModelFileError):
        xn.load(tmp_path / "edited2.npz")


def test_wrong_files_raise_model_file_error(tmp_path):
    np.savez(tmp_path / "other.npz", X=np.zeros(3))
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "text.npz").write_text("hello")
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as z:
        z.writestr("readme.txt", "not numpy")
    header = {"format": "xpnet-model", "version": 99}
    np.savez(tmp_path / "future.npz", __xpnet__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    cases = {"other.npz": "not an xpnet model", "array.npy": "single .npy", "text.npz": "not a readable",
             "zip.npz": "not an xpnet model", "future.npz": "format version 99", "missing.npz": "does not exist"}
    for name, match in cases.items():
        with pytest.raises(xn.ModelFileError, match=match):
            xn.load(tmp_path / name)
    assert issubclass(xn.ModelFileError, xn.XpnetError) and issubclass(xn.ModelFileError, ValueError)


# -- atomic saves ---------------------------------------------------------------------------------
def test_a_failed_save_leaves_the_previous_file_intact(saved, monkeypatch):
    before = Path(saved).read_bytes()
    other = _net(seed=9)

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(xio.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        xn.save(other, saved)
    monkeypatch.undo()
    assert Path(saved).read_bytes() == before
    assert sorted(os.listdir(os.path.dirname(saved))) == ["m.npz"]  # no temporary file left behind
    xn.load(saved)


def test_save_replaces_through_a_fsynced_temporary_file(saved, monkeypatch):
    calls = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(xio.os, "fsync", lambda fd: calls.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(xio.os, "replace", lambda a, b: calls.append(("replace", os.path.dirname(a) ==
                                                                         os.path.dirname(b))) or real_replace(a, b))
    xn.save(_net(seed=9), saved)
    assert calls[0] == "fsync" and calls[1] == ("replace", True)  # data on disk before the rename


# -- checkpoints and resume ----------------------------------------------------------------------
def test_resume_reaches_exactly_the_uninterrupted_parameters(backend, tmp_path):
    X, Y = planar_xor(m=64)
    path = tmp_path / "ck.npz"
    first = _net(backend)
    first.fit(X, Y, optimizer=xn.Adam(0.01), epochs=4, batch_size=16, checkpoint_every=2, checkpoint_path=path)
    assert xn.read_header(path)["epochs_trained"] == 4
    resumed = _net(backend, seed=77)  # other initial weights: all of them come from the checkpoint
    hist = resumed.fit(X, Y, optimizer=xn.Adam(0.01), epochs=9, batch_size=16, resume_from=path)
    straight = _net(backend)
    full = straight.fit(X, Y, optimizer=xn.Adam(0.01), epochs=9, batch_size=16)
    _same_state(straight, resumed)
    assert hist.costs == full.costs and len(hist.history["learning_rate"]) == 9


def test_checkpoint_every_n_and_resume_defaults(tmp_path):
    X, Y = planar_xor(m=64)
    path = tmp_path / "ck.npz"
    seen = []

    class Spy:
        def on_epoch_end(self, epoch, logs):
            if path.exists():
                seen.append((epoch, xn.read_header(path)["epochs_trained"]))

    _net().fit(X, Y, optimizer=xn.Momentum(0.05), epochs=7, checkpoint_every=3, checkpoint_path=path,
               callbacks=[Spy()])
    assert seen[-1][1] == 6 and xn.read_header(path)["epochs_trained"] == 7  # every 3, and at the end
    assert [e for _, e in seen] == [3, 3, 3, 6]
    net = _net()
    hist = net.fit(X, Y, epochs=7, resume_from=path)  # optimizer and loss come from the checkpoint
    assert hist.epochs == 7 and net.epochs_trained == 7 and isinstance(net.optimizer, xn.Momentum)
    with pytest.raises(xn.XpnetValueError, match="trained with Momentum"):
        _net().fit(X, Y, optimizer=xn.Adam(), epochs=9, resume_from=path)
    other = xn.Sequential([xn.Dense(4, activation="tanh"), xn.Dense(1, activation="sigmoid")], input_size=2)
    with pytest.raises(xn.XpnetValueError, match="different architecture"):
        other.fit(X, Y, epochs=9, resume_from=path)
    with pytest.raises(xn.XpnetValueError, match="checkpoint_path is required"):
        _net().fit(X, Y, epochs=2, checkpoint_every=1)
    with pytest.raises(xn.XpnetValueError, match="checkpoint_every must be a positive int"):
        _net().fit(X, Y, epochs=2, checkpoint_every=0, checkpoint_path=path)
    with pytest.raises(xn.ModelFileError):
        _net().fit(X, Y, epochs=2, resume_from=tmp_path / "missing.npz")


_CHILD = """
import sys, time
import xpnet as xn
sys.path.insert(0, {tests!r})
from conftest import planar_xor

class Slow:  # gives the parent time to kill the process between epochs
    def on_epoch_end(self, epoch, logs):
        time.sleep(0.05)

X, Y = planar_xor(m=64)
net = xn.Sequential([xn.Dense(5, activation="tanh"), xn.Dense(3, activation="relu"),
                     xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy", seed=3)
net.fit(X, Y, optimizer=xn.Adam(0.01), epochs={epochs}, batch_size=16, checkpoint_every=1,
        checkpoint_path={path!r}, callbacks=[Slow()])
"""


def test_a_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    epochs, path = 400, str(tmp_path / "ck.npz")
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(tests=os.path.dirname(__file__), epochs=epochs, path=path))
    env = dict(os.environ)  # the xpnet under test first, whatever the child's folder
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(xn.__file__))),
                                         *filter(None, [env.get("PYTHONPATH")])])
    child = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if os.path.exists(path) and xn.read_header(path)["epochs_trained"] >= 5:
                break
            time.sleep(0.02)
        assert child.poll() is None, "the training process ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    done = xn.read_header(path)["epochs_trained"]  # the file is whole: saves are atomic
    assert 5 <= done < epochs
    X, Y = planar_xor(m=64)
    resumed = _net()
    resumed.fit(X, Y, optimizer=xn.Adam(0.01), epochs=epochs, batch_size=16, resume_from=path)
    straight = _net()
    straight.fit(X, Y, optimizer=xn.Adam(0.01), epochs=epochs, batch_size=16)
    _same_state(straight, resumed)


def test_resume_with_dropout_draws_the_uninterrupted_masks(tmp_path):
    X, Y = planar_xor(m=64)
    path = tmp_path / "ck.npz"

    def net(seed):
        return xn.Sequential([xn.Dense(8, activation="tanh"), xn.Dropout(0.7), xn.Dense(1, activation="sigmoid")],
                             input_size=2, backend="numpy", dtype="float64", seed=seed)

    net(3).fit(X, Y, optimizer=xn.Adam(0.01), epochs=3, batch_size=16, checkpoint_every=3, checkpoint_path=path)
    resumed = net(77)  # another seed: the masks' key and counter must come from the checkpoint
    hist = resumed.fit(X, Y, optimizer=xn.Adam(0.01), epochs=6, batch_size=16, resume_from=path)
    full = net(3).fit(X, Y, optimizer=xn.Adam(0.01), epochs=6, batch_size=16)
    assert hist.costs == full.costs
