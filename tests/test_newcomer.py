"""What a newcomer tries in the first hour: integer labels, summary(), Keras's argument
names, the CLI's --version, --target, predictions, every optimiser name, readable plots."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet import cli
from xpnet.data import load_arrays, load_dataset, one_hot


def _softmax_net(backend="numpy", k=3, n_x=4):
    return xn.Sequential([xn.Dense(5, activation="relu"), xn.Dense(k, activation="softmax")], input_size=n_x,
                         backend=backend, dtype="float64", seed=2)


# -- integer class labels ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["(m,)", "(1, m)"])
def test_integer_labels_train_exactly_as_their_one_hot_columns(backend, shape):
    g = np.random.default_rng(0)
    X, labels = g.normal(size=(4, 30)), g.integers(0, 3, size=30)
    given = labels if shape == "(m,)" else labels.reshape(1, -1)
    sparse, dense = _softmax_net(backend), _softmax_net(backend)
    h_sparse = sparse.fit(X, given, learning_rate=0.5, epochs=5)
    h_dense = dense.fit(X, one_hot(labels, 3), learning_rate=0.5, epochs=5)
    np.testing.assert_allclose(h_sparse.costs, h_dense.costs, rtol=1e-12)
    assert sparse.evaluate(X, given) == pytest.approx(dense.evaluate(X, one_hot(labels, 3)))


@pytest.mark.parametrize("labels, found", [(np.array([0, 1, 3, 2]), "values from 0 to 3"),
                                           (np.array([0.5, 1, 2, 0]), "not whole numbers"),
                                           (np.array([-1, 0, 1, 2]), "values from -1 to 2")])
def test_labels_a_softmax_cannot_take_are_refused_with_the_one_hot_fix(labels, found):
    with pytest.raises(xn.ShapeError) as info:
        _softmax_net().fit(np.zeros((4, 4)), labels, epochs=1)
    message = str(info.value)
    assert "xpnet.data.one_hot(labels, 3)" in message and "0..2" in message and found in message


def test_integer_labels_are_not_taken_for_a_sigmoid_or_linear_output():
    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy", seed=0)
    with pytest.raises(xn.ShapeError, match=r"reshape it to \(1, m\)"):
        net.fit(np.zeros((2, 4)), np.array([0, 1, 1, 0]), epochs=1)


def test_integer_labels_per_time_step_for_a_softmax_per_step():
    V, T = 6, 5
    ids = np.random.default_rng(0).integers(0, V, size=(64, T))

    def net():
        return xn.Sequential([xn.Embedding(V, 8), xn.TimeDistributed(xn.Dense(V, activation="softmax"))],
                             input_size=T, backend="numpy", dtype="float64", seed=0)

    sparse, dense = net(), net()
    h_sparse = sparse.fit(ids, ids, optimizer=xn.Adam(0.01), epochs=2, batch_size=16)
    h_dense = dense.fit(ids, one_hot(ids.reshape(1, 64, T), V), optimizer=xn.Adam(0.01), epochs=2, batch_size=16)
    np.testing.assert_allclose(h_sparse.costs, h_dense.costs, rtol=1e-12)
    assert one_hot(ids, V).shape == (V, 64, T)
    with pytest.raises(xn.ShapeError, match=r"one-hot columns \(6, m, 5\)"):
        net().fit(ids, ids + 1, epochs=1)


def test_one_hot_is_documented_and_exact():
    assert "Examples" in one_hot.__doc__ and "Parameters" in one_hot.__doc__
    np.testing.assert_array_equal(one_hot([2, 0, 1]), np.eye(3)[:, [2, 0, 1]])
    assert one_hot([0, 1], 4).shape == (4, 2)
    with pytest.raises(xn.XpnetValueError):
        one_hot([0, -1])


# -- summary --------------------------------------------------------------------------------------
def test_summary_prints_and_returns_layers_shapes_counts_backend_and_dtype(capsys):
    net = xn.Sequential([xn.Dense(64, activation="relu"), xn.Dropout(0.9), xn.Dense(10, activation="softmax")],
                        input_size=64, backend="numpy", dtype="float32", seed=1)
    text = net.summary()
    assert capsys.readouterr().out.strip() == text
    assert "backend numpy" in text and "float32" in text and "input_size=64" in text
    rows = [line.split() for line in text.splitlines()[3:6]]
    assert rows[0][:5] == ["1", "Dense(64,", "relu)", "(64,", "m)"] and rows[0][-1] == f"{64 * 64 + 64:,}"
    assert rows[1][1] == "Dropout(0.9)" and rows[1][-1] == "0"
    assert rows[2][-1] == f"{64 * 10 + 10:,}"
    total = sum(int(np.prod(v.shape)) for v in net.parameters().values())
    assert f"Total parameters: {total:,} ({4 * total:,} bytes)" in text
    assert net.summary(print_fn=None) == text and capsys.readouterr().out == ""


def test_summary_of_sequence_layers_shows_the_time_axis():
    net = xn.Sequential([xn.LSTM(8, return_sequences=True), xn.TimeDistributed(xn.Dense(2, activation="softmax"))],
                        input_size=(3, 40), backend="numpy", seed=0)
    text = net.summary(print_fn=None)
    assert "(8, m, 40)" in text and "(2, m, 40)" in text and "TimeDistributed(Dense(2, softmax))" in text
    assert f"{4 * 8 * (8 + 3) + 4 * 8:,}" in text  # the LSTM's four gates


def test_summary_before_the_network_is_built_says_how_to_build_it():
    with pytest.raises(xn.NotFittedError, match="input_size"):
        xn.Sequential([xn.Dense(1)]).summary()


# -- names from other libraries -------------------------------------------------------------------
@pytest.mark.parametrize("call, expected", [
    (lambda: xn.Sequential([xn.Dense(1)], input_shape=(3,)), "'input_shape'; xpnet calls it 'input_size'"),
    (lambda: xn.Sequential([xn.Dense(1)], input_dim=3), "'input_dim'; xpnet calls it 'input_size'"),
    (lambda: _softmax_net().fit(np.zeros((4, 3)), np.eye(3), lr=0.1), "'lr'; xpnet calls it 'learning_rate'"),
    (lambda: _softmax_net().fit(np.zeros((4, 3)), np.eye(3), nb_epoch=3), "'nb_epoch'; xpnet calls it 'epochs'"),
    (lambda: _softmax_net().fit(np.zeros((4, 3)), np.eye(3), clipnorm=1.0), "xpnet calls it 'clip_norm'"),
    (lambda: xn.Dense(output_dim=3), "'output_dim'; xpnet calls it 'units'"),
    (lambda: xn.Dense(3, activaton="relu"), "'activaton'; did you mean 'activation'?"),
    (lambda: xn.Dropout(rate=0.2), "keep_prob = 1 - rate"),
    (lambda: xn.Adam(lr=0.01), "'lr'; xpnet calls it 'learning_rate'"),
    (lambda: xn.Adam(beta_1=0.8), "xpnet calls it 'beta1'"),
    (lambda: xn.LSTM(4, units=3), None),
])
def test_keras_style_names_are_answered_with_the_xpnet_name(call, expected):
    if expected is None:  # a genuine duplicate stays Python's own error
        with pytest.raises(TypeError):
            call()
        return
    with pytest.raises(xn.XpnetTypeError) as info:
        call()
    assert expected in str(info.value)
    assert isinstance(info.value, TypeError)


def test_a_layer_taking_any_keyword_is_left_alone():
    class Anything(xn.Layer):
        def __init__(self, **options):
            super().__init__()
            self.options = options

    assert Anything(units=3, whatever=1).options == {"units": 3, "whatever": 1}


def test_hints_keep_signatures_for_help_and_docs():
    import inspect

    assert list(inspect.signature(xn.Sequential.fit).parameters)[:4] == ["self", "X", "Y", "loss"]
    assert "learning_rate" in inspect.signature(xn.Adam).parameters
    assert "units" in inspect.signature(xn.Dense).parameters


# -- the command line -----------------------------------------------------------------------------
def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"xpnet {xn.__version__}"


def test_the_cli_takes_every_optimiser_name_the_api_takes(tmp_path, capsys):
    assert set(cli.OPTIMIZERS) == set(xn.optim.OPTIMIZERS)
    assert cli.main(["train", "--data", "flower", "--optimizer", "sgd", "--lr", "0.5", "--layers", "4", "--epochs",
                     "2", "--quiet", "--backend", "numpy", "--out", str(tmp_path)]) == 0
    assert "sgd lr 0.5" in capsys.readouterr().out


def _label_first_csv(path, m=120):
    g = np.random.default_rng(0)
    X = g.normal(size=(m, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    lines = ["label,a,b,c"] + [f"{t}," + ",".join(f"{v:.5f}" for v in row) for t, row in zip(y, X)]
    path.write_text("\n".join(lines) + "\n")
    return X, y


def test_target_names_the_label_column_and_a_default_regression_is_announced(tmp_path, capsys):
    csv = tmp_path / "first.csv"
    X, y = _label_first_csv(csv)
    assert cli.main(["train", "--data", str(csv), "--epochs", "2", "--quiet", "--backend", "numpy",
                     "--out", str(tmp_path / "wrong")]) == 0
    err = capsys.readouterr().err
    assert "trains a regression" in err and "--target COLUMN" in err
    out = tmp_path / "right"
    assert cli.main(["train", "--data", str(csv), "--target", "label", "--epochs", "40", "--quiet",
                     "--backend", "numpy", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "X_train (3, 96)" in text and "2 classes" in text
    # The same column by index; the loader keeps the file's order for prediction.
    assert load_dataset(str(csv), target=0).X_train.shape == (3, 96)
    X_file, Y_file, classes = load_arrays(str(csv), target="label")
    np.testing.assert_allclose(X_file, X.T, atol=1e-5)
    np.testing.assert_array_equal(Y_file[0], y)

    predictions = tmp_path / "pred.txt"
    assert cli.main(["predict", str(out / "model.npz"), str(csv), "--output", str(predictions), "--show", "3"]) == 0
    text = capsys.readouterr().out
    assert "predictions (first 3 of 120)" in text
    assert re.search(r"^train \(seen in training\)\s+96\s", text, re.M)
    assert re.search(r"^test \(held out\)\s+24\s", text, re.M)
    written = np.loadtxt(predictions)
    assert written.shape == (120,) and (written == y).mean() > 0.9  # in the file's row order


def test_a_missing_target_column_is_one_line(tmp_path, capsys):
    csv = tmp_path / "first.csv"
    _label_first_csv(csv)
    assert cli.main(["train", "--data", str(csv), "--target", "species", "--quiet", "--out", str(tmp_path)]) == 2
    assert "no column named 'species'; its columns are: label, a, b, c" in capsys.readouterr().err


def test_predict_on_other_data_reports_one_row_for_all_of_it(tmp_path, capsys):
    train_csv, new_csv = tmp_path / "train.csv", tmp_path / "new.csv"
    _label_first_csv(train_csv)
    X, y = _label_first_csv(new_csv, m=50)
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(train_csv), "--target", "label", "--epochs", "40", "--quiet",
                     "--backend", "numpy", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(out / "model.npz"), str(new_csv), "--target", "label", "--show", "2"]) == 0
    text = capsys.readouterr().out
    assert "predictions (first 2 of 50)" in text and "(p = " in text and "held out" not in text
    row = next(line for line in text.splitlines() if line.startswith(f"{new_csv} (all examples)"))
    assert re.search(r"\s50\s", row)


def test_predict_says_why_labels_of_another_shape_get_no_accuracy(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--data", "digits:3", "--epochs", "2", "--quiet", "--backend", "numpy",
                     "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(out / "model.npz"), "digits", "--show", "0"]) == 0
    captured = capsys.readouterr()
    assert "have 10 rows but the model has 1 outputs" in captured.err and "predicted classes" in captured.out


def test_sweep_plot_without_matplotlib_stops_before_running(monkeypatch, capsys):
    sweep_module = sys.modules["xpnet.sweep"]  # the attribute xpnet.sweep is the function

    ran = []
    monkeypatch.setattr(sweep_module, "sweep", lambda *a, **k: ran.append(1))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert cli.main(["sweep", "--epochs", "2", "--plot", "s.png"]) == 2
    assert not ran
    err = capsys.readouterr().err
    assert "--plot needs matplotlib" in err and "nothing was run" in err
    with pytest.raises(ImportError, match="matplotlib"):
        xn.sweep(np.zeros((2, 10)), np.zeros((1, 10)), epochs=1, plot="s.png")


# -- plots ------------------------------------------------------------------------------------------
def test_sweep_plot_of_24_configurations_ranks_them_all(tmp_path):
    pytest.importorskip("matplotlib")
    from xpnet.plot import plot_sweep

    labels = [f"config {i}" for i in range(24)]
    final = [0.1 * (i + 1) for i in range(22)] + [float("inf"), float("inf")]
    curves = [[f * 2, f] for f in final[:22]] + [[], []]
    path = plot_sweep(labels, final, curves, tmp_path / "sweep.png")
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    assert height >= 24 * 20 and width >= 1000  # a row per configuration, legible


def test_learning_curve_names_what_it_measures_and_can_show_accuracy(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from xpnet import plot

    seen = {}
    real = plot._draw_curves

    def spy(ax, curves, **kwargs):
        seen.setdefault("curves", []).append(list(curves))
        return real(ax, curves, **kwargs)

    monkeypatch.setattr(plot, "_draw_curves", spy)
    plot.plot_learning_curve([1.0, 0.5], tmp_path / "a.png", val_costs=[1.1, 0.7])
    assert seen["curves"][0] == ["training cost (mean over each epoch's mini-batches, before each update)",
                                 "test cost (after each epoch)"]
    plot.plot_learning_curve([1.0, 0.5], tmp_path / "b.png", val_costs=[1.1, 0.7], accuracy=[0.5, 0.9],
                             val_accuracy=[0.4, 0.8], train_label="train cost (after each epoch)")
    assert seen["curves"][-1] == ["train accuracy (after each epoch)", "test accuracy (after each epoch)"]
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
