"""Seq2Seq and Transformer train through the one loop Sequential uses (training.train):
callbacks, validation, the rollbacks on divergence, Ctrl-C and out of memory, History,
verbose printing and one device -> host transfer per epoch."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import training

V_IN, V_OUT, T_ENC, T_DEC = 7, 6, 5, 4


def _data(m=24, seed=0):
    g = np.random.default_rng(seed)
    Xe = g.integers(1, V_IN, size=(m, T_ENC))
    Xe[::3, 3:] = 0  # padding
    Xd = g.integers(1, V_OUT, size=(m, T_DEC))
    Y = g.integers(0, V_OUT, size=(m, T_DEC))
    return Xe, Xd, Y


def rnn(seed=0, backend="numpy"):
    return xn.Seq2Seq(
        encoder=[xn.Embedding(V_IN, 3), xn.LSTM(4, return_sequences=True, return_state=True)],
        decoder=[xn.Embedding(V_OUT, 3), xn.LSTM(4, return_sequences=True), xn.CrossAttention(4, heads=2),
                 xn.TimeDistributed(xn.Dense(V_OUT, activation="softmax"))],
        backend=backend, dtype="float64", seed=seed, mask_zero=True)


def transformer(seed=0, backend="numpy"):
    return xn.Transformer(1, 4, 2, 6, V_IN, V_OUT, backend=backend, dtype="float64", seed=seed)


MODELS = {"rnn": rnn, "transformer": transformer}


def _host(model):
    return {k: xn.to_numpy(v).copy() for k, v in model.parameters().items()}


@pytest.mark.parametrize("kind", MODELS)
def test_fit_takes_the_hand_written_steps(kind):
    """Full-batch gradient descent through fit equals forward/cost/backward/update by hand."""
    Xe, Xd, Y = _data()
    model, hand = MODELS[kind](), MODELS[kind]()
    hist = model.fit(Xe, Xd, Y, learning_rate=0.3, epochs=3)
    hand.build((T_ENC,), (T_DEC,))
    loss = xn.losses.get("categorical_crossentropy")
    Y1 = np.moveaxis(np.eye(V_OUT)[Y], -1, 0)  # ids (m, T) -> one-hot (V, m, T)
    costs = []
    for _ in range(3):
        AL, caches = hand.forward(Xe, Xd, training=True)
        costs.append(float(hand.cost(AL, Y1, caches, loss)))
        grads = hand.backward(AL, Y1, caches, loss)
        hand.assign_parameters({k: v - 0.3 * grads["d" + k] for k, v in hand.parameters().items()})
    np.testing.assert_allclose(hist.costs, costs, rtol=1e-12)
    got, want = _host(model), _host(hand)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-13, err_msg=k)
    assert model.epochs_trained == 3 and model.history is hist


@pytest.mark.parametrize("form", ["keras", "flat", "split"])
def test_validation_is_recorded_every_epoch(form):
    Xe, Xd, Y = _data(m=30)
    model = rnn()
    if form == "split":
        hist = model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.02), epochs=3, batch_size=8, validation_split=0.2)
        held = Xe[-6:], Xd[-6:], Y[-6:]  # the last 20% of the examples, before shuffling
    else:
        held = _data(m=10, seed=1)
        data = ((held[0], held[1]), held[2]) if form == "keras" else held
        hist = model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.02), epochs=3, batch_size=8, validation_data=data)
    assert len(hist.history["val_cost"]) == len(hist.history["val_accuracy"]) == 3
    final = model.evaluate(*held)
    assert hist.history["val_cost"][-1] == pytest.approx(final["cost"], rel=1e-12)
    assert hist.history["val_accuracy"][-1] == pytest.approx(final["accuracy"], rel=1e-12)
    if form == "split":  # the held-out examples were not trained on: 24 of 30 per epoch
        seen = []
        real = model.backward
        model.backward = lambda AL, Yb, caches, loss: seen.append(int(Yb.shape[1])) or real(AL, Yb, caches, loss)
        model.fit(Xe, Xd, Y, epochs=2, batch_size=100, validation_split=0.2)
        assert seen == [24, 24]


def test_bad_validation_data_is_a_clear_error():
    Xe, Xd, Y = _data()
    with pytest.raises(xn.XpnetTypeError, match=r"\(\(X_enc_val, X_dec_val\), Y_val\)"):
        rnn().fit(Xe, Xd, Y, epochs=1, validation_data=(Xe, Y))
    with pytest.raises(xn.ShapeError, match="X_enc_val holds 24 examples but X_dec_val holds 3"):
        rnn().fit(Xe, Xd, Y, epochs=1, validation_data=(Xe, Xd[:3], Y))
    with pytest.raises(xn.XpnetValueError, match="not both"):
        rnn().fit(Xe, Xd, Y, epochs=1, validation_data=(Xe, Xd, Y), validation_split=0.5)


def test_early_stopping_stops_and_restores_the_best_epoch():
    Xe, Xd, Y = _data(m=30)
    model = transformer()
    best = {}

    def remember(epoch, logs):
        best.setdefault("all", []).append((logs["val_cost"], _host(model)))

    stop = xn.EarlyStopping(monitor="val_cost", patience=2)
    hist = model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.2), epochs=60, batch_size=10, validation_split=0.3,
                     callbacks=[xn.LambdaCallback(on_epoch_end=remember), stop])
    assert stop.stopped_epoch is not None and hist.epochs == stop.stopped_epoch + 1 < 60
    cost, params = min(best["all"], key=lambda e: e[0])
    assert stop.best == cost
    for k, v in _host(model).items():
        np.testing.assert_array_equal(v, params[k])


def test_a_learning_rate_schedule_drives_the_optimizer():
    Xe, Xd, Y = _data()
    model = rnn()
    hist = model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.04), epochs=4,
                     callbacks=[xn.StepDecay(factor=0.5, interval=2)])
    assert hist.history["learning_rate"] == [0.04, 0.04, 0.02, 0.02]


def test_ctrl_c_mid_epoch_leaves_the_last_completed_epoch(monkeypatch):
    Xe, Xd, Y = _data()
    model, straight = rnn(), rnn()
    straight.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=2, batch_size=8)
    calls = {"n": 0}
    real = model.backward

    def backward(*args):
        calls["n"] += 1
        if calls["n"] == 8:  # epoch 2, second batch: the first batch's update must be undone
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(model, "backward", backward)
    with pytest.raises(KeyboardInterrupt):
        model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=5, batch_size=8)
    assert model.epochs_trained == 2 and model.history.epochs == 2
    assert model.optimizer.iterations == straight.optimizer.iterations == 6
    want = _host(straight)
    for k, v in _host(model).items():
        np.testing.assert_array_equal(v, want[k])


class _OutOfMemory(MemoryError):
    pass


def test_out_of_memory_becomes_a_clear_error_and_rolls_back(monkeypatch):
    Xe, Xd, Y = _data()
    model = transformer()
    model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=1)
    before = _host(model)
    real = model.forward

    def forward(X_enc, X_dec, training=False):
        if training and X_enc.shape[0] > 4:
            raise _OutOfMemory("out of memory")
        return real(X_enc, X_dec, training)

    monkeypatch.setattr(model, "forward", forward)
    with pytest.raises(xn.DeviceOutOfMemoryError, match=r"epoch 0 with batch_size=12; .*batch_size=6\)"):
        model.fit(Xe, Xd, Y, epochs=3, batch_size=12)
    for k, v in _host(model).items():
        np.testing.assert_array_equal(v, before[k])
    assert len(model.fit(Xe, Xd, Y, epochs=2, batch_size=4).costs) == 2  # the suggested fix works


def test_one_transfer_to_the_host_per_epoch(monkeypatch):
    """No per-batch sync: every batch's cost stays on the device until the epoch's end."""
    Xe, Xd, Y = _data()
    model = rnn()
    model.build((T_ENC,), (T_DEC,))
    backend = model.backend
    transfers = []
    real = type(backend).to_numpy
    monkeypatch.setattr(type(backend), "to_numpy", lambda self, x: transfers.append(1) or real(self, x))
    calls = {"float": 0}
    real_step = training.train_step

    class Counted(np.ndarray):  # a 0-d cost that counts its conversions to a Python float
        def __float__(self):
            calls["float"] += 1
            return super().__float__()

    monkeypatch.setattr(training, "train_step", lambda *a, **k: np.asarray(real_step(*a, **k)).view(Counted))
    model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=3, batch_size=5)  # 5 batches per epoch
    # One conversion per epoch: a to_numpy where the kernels stack cost and finite check, or
    # the epoch cost's own float where it already lives on the host (NumPy); 5 batches per
    # epoch would make any per-batch sync count 15 or more.
    assert len(transfers) + calls["float"] == 3


def test_verbose_prints_the_course_line(capsys):
    Xe, Xd, Y = _data()
    rnn().fit(Xe, Xd, Y, epochs=5, learning_rate=0.1, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"Cost after epoch {e}" for e in (0, 2, 4)]


def test_l2_adds_the_penalty_of_every_regularised_weight():
    Xe, Xd, Y = _data()
    plain, reg = transformer(), transformer()
    c0 = plain.fit(Xe, Xd, Y, epochs=1, learning_rate=0.1).costs[0]
    c1 = reg.fit(Xe, Xd, Y, epochs=1, learning_rate=0.1, l2=0.5).costs[0]
    start = transformer()
    start.build((T_ENC,), (T_DEC,))
    squares = sum(float(np.sum(np.asarray(layer.params[name]) ** 2))
                  for layer in start.layers for name in layer.regularized)
    assert squares > 0 and c1 - c0 == pytest.approx(0.5 / (2 * Xe.shape[0]) * squares, rel=1e-10)


@pytest.mark.parametrize("backend", ["array_api_strict", "dask"])
def test_fit_is_the_same_on_every_backend(backend):
    if backend == "dask":
        pytest.importorskip("dask")
    Xe, Xd, Y = _data(m=20)
    runs = {}
    for name in ("numpy", backend):
        model = transformer(backend=name)
        hist = model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=2, batch_size=8, validation_split=0.2)
        runs[name] = (hist.costs + hist.history["val_cost"], _host(model))
    np.testing.assert_allclose(runs[backend][0], runs["numpy"][0], rtol=1e-12)
    for k, v in runs["numpy"][1].items():
        if k.startswith("bk"):
            # An attention key bias adds one constant to a whole row of scores, which leaves
            # its softmax unchanged: its gradient is zero but for rounding, which each
            # backend's kernels round differently, so both must stay at rounding level.
            assert np.abs(v).max() < 1e-9 and np.abs(runs[backend][1][k]).max() < 1e-9, k
            continue
        np.testing.assert_allclose(runs[backend][1][k], v, rtol=1e-10, atol=1e-13, err_msg=k)
