"""Model files under attack: crafted headers, bombs, wrong members; every failure a ModelFileError.

Each crafted file carries a correct digest (anyone can recompute it), so these tests reach
the checks behind the integrity check: the loader must refuse them by their content, before
it allocates what they declare.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
from xpnet import io as xio

from conftest import planar_xor


@pytest.fixture
def saved(tmp_path):
    X, Y = planar_xor(m=64)
    net = xn.Sequential([xn.Dense(4, activation="tanh"), xn.Dense(1, activation="sigmoid")], input_size=2,
                        backend="numpy", seed=3)
    net.fit(X, Y, optimizer=xn.Adam(0.01), epochs=3, batch_size=16)
    return xn.save(net, tmp_path / "m.npz", metadata={"classes": ["0", "1"]})


def _parts(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(arrays.pop("__xpnet__").tobytes())
    header.pop("digest")
    return header, arrays


def _write(path, header, arrays, digest=True):
    """An archive as xn.save would write it, with a digest that matches the crafted content."""
    header = dict(header)
    if digest:
        header["digest"] = xio.digest(header, arrays)
    np.savez(path, __xpnet__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return path


def _bounded(fn, seconds=3.0, megabytes=64):
    """Run ``fn`` expecting ModelFileError, within a time and a traced-memory budget."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(xn.ModelFileError) as info:
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < seconds
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MB"
    return str(info.value)


# -- declared sizes against stored arrays ---------------------------------------------------------
@pytest.mark.parametrize("input_size, units", [(20_000, 10_000), (10**6, 10**6), (10**12, 4)])
def test_a_small_file_declaring_huge_layers_fails_before_allocating(saved, tmp_path, input_size, units):
    header, arrays = _parts(saved)
    header["config"]["input_size"] = input_size
    header["config"]["layers"][0]["config"]["units"] = units
    bad = _write(tmp_path / "huge.npz", header, arrays)
    message = _bounded(lambda: xn.load(bad))
    assert "huge.npz" in message and ("config" in message or "param/" in message)


def test_a_200000_layer_header_is_refused_by_its_count(saved, tmp_path):
    header, arrays = _parts(saved)
    header["config"]["layers"] = [{"class_name": "Dropout", "config": {"rate": 0.1}}] * 200_000
    bad = _write(tmp_path / "deep.npz", header, arrays)
    message = _bounded(lambda: xn.load(bad), megabytes=64)
    assert "config.layers" in message and "10000" in message


def test_consistent_but_wrong_architecture_names_the_parameter(saved, tmp_path):
    header, arrays = _parts(saved)
    header["optimizer"] = None
    arrays = {k: v for k, v in arrays.items() if k.startswith("param/")}
    arrays["param/W1"] = np.zeros((5, 2), np.float32)  # shape consistent with nothing
    bad = _write(tmp_path / "w.npz", header, arrays)
    with pytest.raises(xn.ModelFileError, match=r"w\.npz.*param/W1.*\(4, 2\).*\(5, 2\)"):
        xn.load(bad)


# -- members: bombs, extras, compression, dtypes ---------------------------------------------------
def test_an_undeclared_deflated_bomb_is_never_read(saved, tmp_path):
    bad = tmp_path / "bomb.npz"
    bad.write_bytes(Path(saved).read_bytes())
    block = np.zeros(2**24, np.uint8).tobytes()
    with zipfile.ZipFile(bad, "a", compression=zipfile.ZIP_DEFLATED) as z, z.open("zeros.npy", "w", force_zip64=True) as f:
        for _ in range(2**28 // len(block)):  # 256 MiB of zeros: never read, so its size does not matter
            f.write(block)
    assert bad.stat().st_size < 4 * 2**20
    message = _bounded(lambda: xn.load(bad))
    assert "zeros.npy" in message and ("compressed" in message or "not declared" in message)


def test_an_undeclared_stored_member_is_refused(saved, tmp_path):
    header, arrays = _parts(saved)
    arrays["extra"] = np.zeros(3, np.float32)
    with pytest.raises(xn.ModelFileError, match="extra.npy.*not declared"):
        xn.load(_write(tmp_path / "x.npz", header, arrays))


def test_a_compressed_model_is_refused(saved, tmp_path):
    header, arrays = _parts(saved)
    header["digest"] = xio.digest(header, arrays)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, __xpnet__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    with pytest.raises(xn.ModelFileError, match="compressed"):
        xn.load(path)


def test_a_member_whose_npy_header_lies_about_its_shape(saved, tmp_path):
    data = bytearray(Path(saved).read_bytes())
    needle = b"'shape': (4, 2)"
    at = data.find(needle)
    assert at > 0
    data[at:at + len(needle)] = b"'shape': (9, 9)"  # the same length: the zip stays well formed
    path = tmp_path / "lie.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(xn.ModelFileError, match="lie.npz"):
        xn.load(path)


def test_wrong_dtypes_are_refused(saved, tmp_path):
    header, arrays = _parts(saved)
    arrays["param/W1"] = arrays["param/W1"].astype(np.float64)
    with pytest.raises(xn.ModelFileError, match="param/W1.*dtype"):
        xn.load(_write(tmp_path / "d.npz", header, arrays))


def test_a_csv_passed_as_a_model_is_a_clear_error(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n")
    with pytest.raises(xn.ModelFileError, match="data.csv.*not a ZIP") as info:
        xn.load(path)
    assert "pickle" not in str(info.value)
    with pytest.raises(xn.ModelFileError, match="not a file"):
        xn.load(tmp_path)


# -- the header's schema ----------------------------------------------------------------------------
def _set(header, dotted, value):
    *path, last = dotted.split(".")
    node = header
    for key in path:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value


_DELETE = object()
BAD_HEADERS = [
    ("optimizer.config.bogus", 1.0, "optimizer.config"),
    ("optimizer.iterations", _DELETE, "optimizer.iterations"),
    ("optimizer.iterations", 0, "optimizer.iterations"),
    ("optimizer.class_name", "Lion", "optimizer.class_name"),
    ("optimizer.state", ["v_W1"], "optimizer.state"),
    ("epochs_trained", "two", "epochs_trained"),
    ("epochs_trained", -5, "epochs_trained"),
    ("epochs_trained", 2.5, "epochs_trained"),
    ("metadata", ["a", "list"], "metadata"),
    ("history", {"cost": 5}, "history.cost"),
    ("history", {"cost": ["x"]}, "history.cost"),
    ("history", [1, 2], "history"),
    ("loss", "hinge", "loss"),
    ("loss", 3, "loss"),
    ("config.dtype", "float16", "config.dtype"),
    ("config.seed", -1, "config.seed"),
    ("config.input_size", 0, "config.input_size"),
    ("config.input_size", "2", "config.input_size"),
    ("config.layers", [], "config.layers"),
    ("config.layers.0.class_name", "Evil", "config.layers[0]"),
    ("config.layers.0.config.units", "4", "config.layers[0]"),
    ("config.layers.0.config.bogus", 1, "config.layers[0]"),
    ("config.layers.0", "Dense", "config.layers[0]"),
    ("shuffle_rng", {"bit_generator": "PCG64", "state": 1}, "shuffle_rng"),
    ("shuffle_rng", [1], "shuffle_rng"),
    ("parameters", ["W1", "b1", "W2"], "parameters"),
    ("parameters", "W1", "parameters"),
    ("config", None, "config"),
]


@pytest.mark.parametrize("field, value, named", BAD_HEADERS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_HEADERS])
def test_every_bad_header_field_is_a_model_file_error_naming_file_and_field(saved, tmp_path, field, value, named):
    header, arrays = _parts(saved)
    _set(header, field, value)
    bad = _write(tmp_path / "crafted.npz", header, arrays)
    with pytest.raises(xn.ModelFileError) as info:
        xn.load(bad)
    message = str(info.value)
    assert "crafted.npz" in message and named in message, message


def test_nan_and_deep_nesting_in_the_header(saved, tmp_path):
    header, arrays = _parts(saved)
    text = json.dumps(dict(header, digest="0" * 64)).replace('"epochs_trained": 3', '"epochs_trained": NaN')
    np.savez(tmp_path / "nan.npz", __xpnet__=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)
    with pytest.raises(xn.ModelFileError, match="nan.npz.*NaN"):
        xn.load(tmp_path / "nan.npz")
    deep = json.dumps(dict(header, digest="0" * 64))[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    np.savez(tmp_path / "deep.npz", __xpnet__=np.frombuffer(deep.encode(), dtype=np.uint8), **arrays)
    with pytest.raises(xn.ModelFileError, match="deep.npz.*damaged header"):
        xn.load(tmp_path / "deep.npz")


def test_a_wrong_shaped_optimizer_state_fails_at_load_not_at_resume(saved, tmp_path):
    header, arrays = _parts(saved)
    arrays["opt/v_W1"] = np.zeros((3, 3), np.float32)
    bad = _write(tmp_path / "opt.npz", header, arrays)
    with pytest.raises(xn.ModelFileError, match=r"opt\.npz.*opt/v_W1.*shape"):
        xn.load(bad)


def test_the_digest_covers_the_optimizer_state_and_the_header(saved, tmp_path):
    header, arrays = _parts(saved)
    with np.load(saved, allow_pickle=False) as f:
        stored = json.loads(f["__xpnet__"].tobytes())["digest"]
    arrays["opt/v_W1"] = arrays["opt/v_W1"] + 1.0
    with pytest.raises(xn.ModelFileError, match="integrity"):
        xn.load(_write(tmp_path / "o.npz", dict(header, digest=stored), arrays, digest=False))
    header2, arrays2 = _parts(saved)
    header2["optimizer"]["iterations"] += 1
    with pytest.raises(xn.ModelFileError, match="integrity"):
        xn.load(_write(tmp_path / "i.npz", dict(header2, digest=stored), arrays2, digest=False))


def test_a_valid_crafted_file_still_loads(saved, tmp_path):
    # The checks refuse bad content, not re-written files: recomputing the digest of an
    # unchanged state gives a loadable model with the same weights.
    header, arrays = _parts(saved)
    again = xn.load(_write(tmp_path / "same.npz", header, arrays))
    assert all(np.array_equal(xn.to_numpy(v), arrays[f"param/{k}"]) for k, v in again.parameters().items())
    assert math.isclose(again.optimizer.learning_rate, 0.01)
