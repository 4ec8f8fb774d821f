"""Every script in examples/ runs (small sizes) and saves its plot, so none can rot."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered():
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(
        ["learning_rate", "depth_vs_width", "initialization", "vanishing_gradients",
         "date_translation", "character_names", "transformer_reverse"])  # the last three: test_sequence_examples.py


def test_learning_rate(tmp_path, capsys):
    curves = _load("learning_rate").main(["--epochs", "60", "--m", "100", "--learning-rates", "0.005", "1.2",
                                          "1e6", "--out-dir", str(tmp_path)])
    assert (tmp_path / "learning_rate.png").stat().st_size > 0
    assert curves[1.2][-1] < curves[0.005][-1]  # too small crawls
    assert "diverged" in capsys.readouterr().out or max(curves[1e6]) > 1.0  # too large blows up


def test_depth_vs_width(tmp_path):
    module = _load("depth_vs_width")
    X, Y = module.parity_data(3)
    assert X.shape == (3, 8) and Y.ravel().tolist() == [0, 1, 1, 0, 1, 0, 0, 1]
    curves = module.main(["--bits", "3", "--epochs", "30", "--architectures", "4", "2,2", "--out-dir", str(tmp_path)])
    assert (tmp_path / "depth_vs_width.png").stat().st_size > 0
    assert len(curves) == 2 and all(len(c) == 30 for c in curves.values())


def test_initialization(tmp_path):
    curves = _load("initialization").main(["--epochs", "150", "--m", "100", "--learning-rate", "0.5",
                                           "--out-dir", str(tmp_path)])
    assert (tmp_path / "initialization.png").stat().st_size > 0
    # Zeros never break symmetry: the cost stays at log 2.
    assert curves["zeros"][-1] == pytest.approx(math.log(2.0), abs=1e-6)
    assert curves["he"][-1] < curves["zeros"][-1] - 0.01


def test_vanishing_gradients(tmp_path):
    norms = _load("vanishing_gradients").main(["--depth", "6", "--width", "8", "--epochs", "5", "--m", "60",
                                               "--out-dir", str(tmp_path)])
    assert (tmp_path / "vanishing_gradients.png").stat().st_size > 0
    sig, relu = norms["sigmoid, initial"], norms["relu, initial"]
    assert len(sig) == 7
    assert sig[0] / sig[-1] < 1e-2 * (relu[0] / relu[-1])  # vanishes with sigmoid, not with ReLU
