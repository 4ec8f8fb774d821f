"""Callbacks: early stopping with restore, learning-rate schedules, the per-epoch hook."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from conftest import planar_xor


def _net(seed=1):
    return xn.Sequential([xn.Dense(5, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                         input_size=2, backend="numpy", dtype="float64", seed=seed)


class Scripted(xn.Callback):
    """Feeds EarlyStopping a scripted val_cost and remembers the parameters of each epoch."""

    def __init__(self, values):
        super().__init__()
        self.values, self.params = values, []

    def on_epoch_end(self, epoch, logs):
        logs["val_cost"] = self.values[epoch]
        self.params.append(self.model.parameters())


def test_early_stopping_stops_after_patience_and_restores_the_best():
    X, Y = planar_xor(20)
    script = Scripted([5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 1.0, 0.5])
    stop = xn.EarlyStopping(patience=2)
    net = _net()
    hist = net.fit(X, Y, epochs=8, learning_rate=0.5, callbacks=[script, stop])
    assert hist.epochs == 5  # epochs 3 and 4 did not improve on 3.0: two in a row, patience 2
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (3.0, 2, 4)
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(v, script.params[2][k])


def test_min_delta_and_no_restore():
    X, Y = planar_xor(20)
    script = Scripted([1.0, 0.95, 0.9, 0.5])
    stop = xn.EarlyStopping(patience=1, min_delta=0.1, restore_best=False)
    net = _net()
    hist = net.fit(X, Y, epochs=4, learning_rate=0.5, callbacks=[script, stop])
    assert hist.epochs == 2 and stop.best == 1.0  # 0.95 is not 0.1 better than 1.0
    for k, v in net.parameters().items():  # kept the last parameters
        np.testing.assert_array_equal(v, script.params[-1][k])


def test_early_stopping_on_a_real_validation_set_runs_to_the_end_when_improving():
    X, Y = planar_xor(60, seed=1)
    stop = xn.EarlyStopping(monitor="val_cost", patience=3)
    hist = _net().fit(X, Y, epochs=20, learning_rate=0.5, validation_split=0.25, callbacks=[stop])
    assert stop.stopped_epoch is None and hist.epochs == 20
    assert stop.best == min(hist.history["val_cost"])


def test_accuracy_is_maximised():
    assert xn.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert xn.EarlyStopping(monitor="cost").mode == "min"


def test_early_stopping_without_validation_says_what_to_do():
    X, Y = planar_xor(20)
    with pytest.raises(xn.XpnetValueError, match="validation_data"):
        _net().fit(X, Y, epochs=3, callbacks=[xn.EarlyStopping()])


@pytest.mark.parametrize("kwargs, pattern", [({"patience": -1}, "patience"), ({"min_delta": -0.1}, "min_delta"),
                                             ({"mode": "up"}, "mode"), ({"monitor": 3}, "monitor")])
def test_bad_early_stopping_arguments(kwargs, pattern):
    with pytest.raises(xn.XpnetError, match=pattern):
        xn.EarlyStopping(**kwargs)


def test_inverse_time_decay_is_the_course_formula_and_drives_the_optimizer():
    X, Y = planar_xor(20)
    decay = xn.InverseTimeDecay(decay_rate=0.5, interval=3)
    hist = _net().fit(X, Y, epochs=10, optimizer=xn.GradientDescent(0.2), callbacks=[decay])
    want = [0.2 / (1 + 0.5 * np.floor(e / 3)) for e in range(10)]
    np.testing.assert_allclose(hist.history["learning_rate"], want, rtol=1e-15)


def test_step_decay_changes_the_update_itself():
    X, Y = planar_xor(20)
    a, b = _net(), _net()
    a.fit(X, Y, epochs=4, optimizer=xn.GradientDescent(0.4), callbacks=[xn.StepDecay(factor=0.25, interval=2)])
    for lr in (0.4, 0.4, 0.1, 0.1):  # the same run, by hand
        b.fit(X, Y, epochs=1, learning_rate=lr)
    for k, v in a.parameters().items():
        np.testing.assert_allclose(v, b.parameters()[k], rtol=1e-12)


def test_schedule_with_an_explicit_initial_rate():
    s = xn.StepDecay(factor=0.5, interval=10, initial_learning_rate=0.1)
    assert [s.rate(e) for e in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]


@pytest.mark.parametrize("make, pattern", [
    (lambda: xn.StepDecay(factor=0.0), "factor"),
    (lambda: xn.StepDecay(interval=0), "interval"),
    (lambda: xn.InverseTimeDecay(decay_rate=-1.0), "decay_rate"),
    (lambda: xn.InverseTimeDecay(initial_learning_rate=0.0), "initial_learning_rate"),
    (lambda: xn.LambdaCallback(on_epoch_end=3), "on_epoch_end"),
])
def test_bad_schedule_arguments(make, pattern):
    with pytest.raises(xn.XpnetError, match=pattern):
        make()


def test_lambda_callback_sees_every_hook_and_can_stop():
    X, Y = planar_xor(20)
    events = []
    hook = xn.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"e{epoch}"),
        on_epoch_end=lambda epoch, logs: events.append(round(logs["cost"], 12)) or epoch == 1,
        on_train_end=lambda logs: events.append("end"),
    )
    hist = _net().fit(X, Y, epochs=5, learning_rate=0.1, callbacks=[hook])
    assert events == ["begin", "e0", round(hist.costs[0], 12), "e1", round(hist.costs[1], 12), "end"]


def test_callbacks_module_is_exported():
    assert xn.callbacks.EarlyStopping is xn.EarlyStopping
    assert issubclass(xn.InverseTimeDecay, xn.callbacks.LearningRateSchedule)
