"""``xpnet train``/``predict`` never lose a model and report every file problem in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import xpnet as xn
from xpnet import cli
from xpnet import io as xio

FAST = ["--data", "flower", "--layers", "4", "--epochs", "2", "--quiet", "--backend", "numpy"]


def _main(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err.strip()


def _one_line(err, match):
    assert len(err.splitlines()) == 1 and match in err and "Traceback" not in err, err


def test_an_existing_model_is_kept_without_overwrite(tmp_path, capsys):
    assert _main(capsys, "train", *FAST, "--out", str(tmp_path))[0] == 0
    model = tmp_path / "model.npz"
    before = model.read_bytes()
    code, out, err = _main(capsys, "train", *FAST, "--seed", "5", "--out", str(tmp_path))
    assert code == 2 and "data:" not in out  # refused before loading data or training
    _one_line(err, "already exists: pass --overwrite")
    assert model.read_bytes() == before
    code, _, _ = _main(capsys, "train", *FAST, "--seed", "5", "--out", str(tmp_path), "--overwrite")
    assert code == 0 and model.read_bytes() != before


def test_an_unusable_out_is_refused_before_training(tmp_path, capsys):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    code, out, err = _main(capsys, "train", *FAST, "--out", str(afile))
    assert code == 2 and out == ""
    _one_line(err, "is an existing file")
    code, out, err = _main(capsys, "train", *FAST, "--out", str(afile / "sub"))
    assert code == 2 and out == ""
    _one_line(err, "is not a writable folder")
    assert afile.read_text() == "x"


def test_bad_data_files_and_outputs_are_one_line(tmp_path, capsys):
    binary = tmp_path / "data.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    code, _, err = _main(capsys, "train", *FAST[2:], "--data", str(binary), "--out", str(tmp_path / "o"))
    assert code == 2
    _one_line(err, "not a text CSV file")
    assert not (tmp_path / "o").exists()  # a run that never started leaves no folder
    assert _main(capsys, "train", *FAST, "--out", str(tmp_path / "run"))[0] == 0
    model = str(tmp_path / "run" / "model.npz")
    code, _, err = _main(capsys, "predict", model, "flower", "--output", str(tmp_path))
    assert code == 2
    _one_line(err, "is a folder")
    code, _, err = _main(capsys, "predict", str(binary), "flower")
    assert code == 2
    _one_line(err, "not a readable xpnet model file")
    assert "pickle" not in err


@pytest.mark.parametrize("key, value, match", [
    ("classes", 3, "metadata.classes"),
    ("standardizer", {"mean": [0.0, 0.0]}, "metadata.standardizer"),
    ("standardizer", {"mean": [0.0, 0.0], "std": [1.0, 0.0]}, "metadata.standardizer"),
])
def test_crafted_metadata_is_one_line_at_predict(tmp_path, capsys, key, value, match):
    assert _main(capsys, "train", *FAST, "--out", str(tmp_path))[0] == 0
    path = tmp_path / "model.npz"
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(arrays.pop("__xpnet__").tobytes())
    header.pop("digest")
    header["metadata"][key] = value
    header["digest"] = xio.digest(header, arrays)
    np.savez(path, __xpnet__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    code, _, err = _main(capsys, "predict", str(path), "flower")
    assert code == 2
    _one_line(err, match)


def test_resuming_a_finished_checkpoint_says_nothing_to_train(tmp_path, capsys):
    base = ["train", "--data", "flower", "--layers", "4", "--quiet", "--backend", "numpy"]
    assert _main(capsys, *base, "--epochs", "4", "--checkpoint-every", "2", "--out", str(tmp_path / "a"))[0] == 0
    ck = str(tmp_path / "a" / "checkpoint.npz")
    for epochs in ("2", "4"):
        code, out, err = _main(capsys, *base, "--epochs", epochs, "--resume", ck, "--out", str(tmp_path / "b"))
        assert code == 2 and "trained" not in out
        _one_line(err, "nothing to train: ")
    code, out, _ = _main(capsys, *base, "--epochs", "6", "--resume", ck, "--out", str(tmp_path / "c"))
    assert code == 0 and "trained 2 epochs" in out and "6 in all" in out


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery as a terminal's Ctrl-C")
def test_ctrl_c_keeps_the_last_epoch_and_exits_130(tmp_path):
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(xn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "xpnet", "train", "--data", "digits", "--epochs", "100000", "--backend", "numpy",
           "--out", str(out)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in child.stdout:  # wait until training has started
            if line.startswith("backend:"):
                break
        time.sleep(3)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    lines = [l for l in err.splitlines() if "training:" not in l and l.strip()]  # the tqdm bar's redraws
    assert len(lines) == 1 and lines[0].startswith("xpnet train: interrupted; saved"), err
    header = xn.read_header(out / "checkpoint.npz")
    assert header["epochs_trained"] >= 1 and not (out / "model.npz").exists()
    assert len(header["history"]["cost"]) == header["epochs_trained"]  # the learning curve so far
    resumed = subprocess.run([*cmd[:7], "2", *cmd[8:], "--resume", str(out / "checkpoint.npz")], capture_output=True,
                             text=True, env=env, timeout=60)
    assert resumed.returncode == 2 and "nothing to train" in resumed.stderr  # the checkpoint is usable
