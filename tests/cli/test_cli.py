"""The ``xpnet`` command, end to end through a subprocess (as a user runs it)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet import cli


def _env():
    # The inherited environment, with the xpnet under test first on the path even when the
    # child runs in another folder (a relative PYTHONPATH=src would no longer resolve there).
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(xn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "xpnet", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=120)


def test_train_predict_info_end_to_end(tmp_path):
    out = tmp_path / "run"
    r = _run("train", "--out", str(out), "--backend", "numpy")  # the README's defaults: digits, 10 classes
    assert r.returncode == 0, r.stderr
    if importlib.util.find_spec("tqdm"):
        assert "epoch/s" in r.stderr and "cost=" in r.stderr  # the tqdm progress bar
    else:
        assert "epoch 1/30  cost " in r.stderr  # the plain progress lines without tqdm
    test_line = next(line for line in r.stdout.splitlines() if line.startswith("test "))
    assert float(re.search(r"([\d.]+)%", test_line).group(1)) >= 95.0
    assert re.search(r"^train\s+1438\s", r.stdout, re.M)
    assert (out / "model.npz").is_file()
    if importlib.util.find_spec("matplotlib"):
        assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in r.stderr and not (out / "learning_curve.png").exists()
    header = xn.read_header(out / "model.npz")
    assert header["epochs_trained"] == 30 and header["metadata"]["data"] == "digits"
    assert len(header["history"]["cost"]) == 30

    predictions = tmp_path / "pred.txt"
    r = _run("predict", str(out / "model.npz"), "digits", "--output", str(predictions))
    assert r.returncode == 0, r.stderr
    # The training data: its held-out part is reported apart from the part trained on.
    test_row = next(line for line in r.stdout.splitlines() if line.startswith("test (held out)"))
    assert re.search(r"\s359\s", test_row)
    assert float(re.search(r"([\d.]+)%", test_row).group(1)) >= 95.0  # standardised with the saved statistics
    labels = np.loadtxt(predictions)
    assert labels.shape == (1797,) and set(np.unique(labels)) <= set(range(10))

    r = _run("info")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+numpy\s+\d", r.stdout, re.M) and "numpy (cpu)" in r.stdout


def test_train_binary_with_checkpoints_and_resume(tmp_path):
    out = tmp_path / "run"
    common = ["--data", "breast_cancer", "--layers", "8", "--optimizer", "gradient_descent", "--lr", "0.5",
              "--batch-size", "full", "--backend", "numpy", "--quiet", "--seed", "2"]
    r = _run("train", *common, "--epochs", "6", "--checkpoint-every", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert xn.read_header(out / "checkpoint.npz")["epochs_trained"] == 6
    r = _run("train", *common, "--epochs", "10", "--resume", str(out / "checkpoint.npz"), "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    r2 = _run("train", *common, "--epochs", "10", "--out", str(tmp_path / "c"))
    resumed, straight = xn.load(tmp_path / "b" / "model.npz"), xn.load(tmp_path / "c" / "model.npz")
    for k, v in straight.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)
    assert xn.read_header(tmp_path / "b" / "model.npz")["history"]["cost"] == \
        xn.read_header(tmp_path / "c" / "model.npz")["history"]["cost"]
    assert r2.stdout.splitlines()[-4:-2] == r.stdout.splitlines()[-4:-2]


@pytest.mark.parametrize("args, match", [
    (["train", "--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    (["train", "--lr", "abc"], "argument --learning-rate/--lr: expected a positive number"),
    (["train", "--activation", "swish"], "argument --activation: invalid choice"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["train", "--data", "mnist", "--quiet"], "xpnet train: error: unknown dataset 'mnist'"),
    (["train", "--backend", "nope", "--quiet"], "xpnet train: error: "),
    (["predict", "missing.npz", "digits"], "xpnet predict: error: model file 'missing.npz' does not exist"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, match, tmp_path):
    r = _run(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_corrupted_model_is_one_line(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 not really")
    r = _run("predict", str(bad), "digits")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "ModelFile" not in r.stderr
    assert "not a readable xpnet model file" in r.stderr


def test_missing_matplotlib_gives_a_clear_note(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib... now raises ImportError
    code = cli.main(["train", "--data", "flower", "--layers", "4", "--epochs", "2", "--quiet",
                     "--backend", "numpy", "--out", str(tmp_path)])
    assert code == 0
    err = capsys.readouterr().err
    assert "matplotlib is not installed" in err and "pip install 'xpnet[plot]'" in err
    assert (tmp_path / "model.npz").is_file() and not (tmp_path / "learning_curve.png").exists()


def test_default_out_is_a_fresh_folder_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = cli._default_out(), None
    os.makedirs(first)
    second = cli._default_out()
    assert first.startswith("runs" + os.sep) and second != first
