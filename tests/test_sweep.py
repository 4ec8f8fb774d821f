"""xn.sweep and `xpnet sweep`: grid and random search, the table, the plot, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xpnet as xn
from xpnet import cli
from xpnet.sweep import LogUniform, SweepResult

from conftest import planar_xor


def test_grid_rows_equal_training_each_configuration_by_hand(backend):
    X, Y = planar_xor(60, seed=1)
    Xv, Yv = planar_xor(30, seed=2)
    result = xn.sweep(X, Y, learning_rate=[0.1, 1.0], hidden=[(3,), (4, 2)], activation="tanh", init=[None, "he"],
                      validation_data=(Xv, Yv), epochs=5, backend=backend, dtype="float64", seed=3)
    assert isinstance(result, SweepResult) and len(result) == 8
    assert [r["val_cost"] for r in result] == sorted(r["val_cost"] for r in result)
    assert result.best is result[0]
    for row in (result[0], result[-1]):
        layers = [xn.Dense(n, activation="tanh", init=row["init"]) for n in row["hidden"]]
        net = xn.Sequential(layers + [xn.Dense(1, activation="sigmoid")], input_size=2, backend=backend,
                            dtype="float64", seed=3)
        hist = net.fit(X, Y, learning_rate=row["learning_rate"], epochs=5)
        assert row["cost"] == hist.costs[-1]
        assert row["val_cost"] == pytest.approx(net.evaluate(Xv, Yv)["cost"], rel=1e-12)
        assert row["epochs"] == 5 and row["diverged"] is False and 0.0 <= row["val_accuracy"] <= 1.0


def test_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    X, Y = planar_xor(50, seed=1)
    png = tmp_path / "sweep.png"
    result = xn.sweep(X, Y, learning_rate=[0.05, 0.5], hidden=4, activation=["relu", "tanh"], epochs=4,
                      backend="numpy", plot=png)
    assert png.stat().st_size > 0
    lines = str(result).splitlines()
    assert lines[0].split() == ["learning_rate", "hidden", "activation", "init", "epochs", "cost", "val_cost",
                                "val_accuracy"]
    assert len(lines) == 5 and "default" in lines[1]
    assert len(result.curves) == 4 and all(len(c["val_cost"]) == 4 for c in result.curves)


def test_random_search_draws_from_lists_and_log_ranges_reproducibly():
    X, Y = planar_xor(50, seed=1)
    kwargs = dict(learning_rate=LogUniform(1e-3, 1.0), hidden=[(2,), (5,)], activation=["tanh", "relu"],
                  search="random", n_trials=5, epochs=2, backend="numpy")
    a, b = xn.sweep(X, Y, seed=7, **kwargs), xn.sweep(X, Y, seed=7, **kwargs)
    c = xn.sweep(X, Y, seed=8, **kwargs)
    assert len(a) == 5
    assert all(1e-3 <= r["learning_rate"] <= 1.0 and r["hidden"] in [(2,), (5,)] for r in a)
    assert [r["learning_rate"] for r in a] == [r["learning_rate"] for r in b]
    assert sorted(r["learning_rate"] for r in a) != sorted(r["learning_rate"] for r in c)
    assert len({round(math.log10(r["learning_rate"]), 6) for r in a}) == 5


def test_a_diverging_configuration_is_reported_and_sorted_last():
    X, Y = planar_xor(50, seed=1)
    result = xn.sweep(X, Y, learning_rate=[0.01, 1e30], hidden=(3,), activation="linear", epochs=5,
                      optimizer="gradient_descent", output_activation="linear", loss="mean_squared_error",
                      backend="numpy", dtype="float64")
    assert [r["diverged"] for r in result] == [False, True]
    assert result[-1]["learning_rate"] == 1e30 and result[-1]["val_cost"] == math.inf


def test_softmax_output_is_chosen_for_one_hot_labels():
    g = np.random.default_rng(0)
    X = g.normal(size=(3, 40))
    Y = np.eye(3)[g.integers(3, size=40)].T
    result = xn.sweep(X, Y, hidden=(4,), epochs=2, backend="numpy")
    assert 0.0 <= result.best["val_accuracy"] <= 1.0


@pytest.mark.parametrize("kwargs, pattern", [
    ({"learning_rate": LogUniform(1e-3, 1.0)}, "search='random'"),
    ({"search": "random"}, "n_trials"),
    ({"search": "bayes"}, "search"),
    ({"hidden": [(4, 0)]}, "hidden"),
    ({"hidden": []}, "hidden"),
    ({"optimizer": xn.Adam()}, "optimizer name"),
    ({"validation_split": 1.5}, "validation_split"),
])
def test_bad_sweep_arguments(kwargs, pattern):
    X, Y = planar_xor(20)
    with pytest.raises(xn.XpnetError, match=pattern):
        xn.sweep(X, Y, epochs=1, backend="numpy", **kwargs)


def test_log_uniform_checks_its_range():
    with pytest.raises(xn.XpnetValueError, match="low < high"):
        LogUniform(1.0, 0.1)
    with pytest.raises(xn.XpnetValueError, match="low"):
        LogUniform(0.0, 1.0)


def test_cli_sweep(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "cli.png"
    code = cli.main(["sweep", "--learning-rate", "0.1", "1", "--hidden", "4", "3,3", "--epochs", "3",
                     "--backend", "numpy", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0 and png.stat().st_size > 0
    assert out.splitlines()[0].startswith("learning_rate") and "3-3" in out and f"saved {png}" in out


def test_cli_sweep_on_digits(capsys):
    pytest.importorskip("sklearn")
    code = cli.main(["sweep", "--data", "digits", "--hidden", "8", "--learning-rate", "0.01", "--optimizer", "adam",
                     "--batch-size", "128", "--epochs", "1", "--backend", "numpy"])
    assert code == 0 and "val_accuracy" in capsys.readouterr().out


def test_cli_sweep_bad_hidden(capsys):
    assert cli.main(["sweep", "--hidden", "wide"]) == 2
    assert "--hidden" in capsys.readouterr().err
