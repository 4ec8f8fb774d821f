"""The training loop and optimisers: exact updates, NumPy references, mini-batches, L2, clipping."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import training

from conftest import planar_xor
from gradcheck import numeric_gradient, relative_error

# -- optimisers, one update at a time -----------------------------------------------------------

SHAPES = {"W1": (3, 2), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)}


def _steps(n=4, seed=0):
    g = np.random.default_rng(seed)
    params = {k: g.normal(size=s) for k, s in SHAPES.items()}
    grads = [{"d" + k: g.normal(size=s) for k, s in SHAPES.items()} for _ in range(n)]
    return params, grads


def _hand_momentum(params, grads, lr, beta):
    v = {k: np.zeros_like(p) for k, p in params.items()}
    out = []
    for g in grads:
        for k in params:
            v[k] = beta * v[k] + (1 - beta) * g["d" + k]
            params = {**params, k: params[k] - lr * v[k]}
        out.append(params)
    return out


def _hand_rmsprop(params, grads, lr, beta, eps):
    s = {k: np.zeros_like(p) for k, p in params.items()}
    out = []
    for g in grads:
        for k in params:
            s[k] = beta * s[k] + (1 - beta) * g["d" + k] ** 2
            params = {**params, k: params[k] - lr * g["d" + k] / (np.sqrt(s[k]) + eps)}
        out.append(params)
    return out


def _hand_adam(params, grads, lr, b1, b2, eps):
    v = {k: np.zeros_like(p) for k, p in params.items()}
    s = {k: np.zeros_like(p) for k, p in params.items()}
    out = []
    for t, g in enumerate(grads, start=1):
        for k in params:
            v[k] = b1 * v[k] + (1 - b1) * g["d" + k]
            s[k] = b2 * s[k] + (1 - b2) * g["d" + k] ** 2
            v_hat, s_hat = v[k] / (1 - b1**t), s[k] / (1 - b2**t)
            params = {**params, k: params[k] - lr * v_hat / (np.sqrt(s_hat) + eps)}
        out.append(params)
    return out


def _hand_gd(params, grads, lr):
    out = []
    for g in grads:
        params = {k: p - lr * g["d" + k] for k, p in params.items()}
        out.append(params)
    return out


@pytest.mark.parametrize(
    "make, hand",
    [
        (lambda: xn.GradientDescent(0.1), lambda p, g: _hand_gd(p, g, 0.1)),
        (lambda: xn.Momentum(0.1, beta=0.8), lambda p, g: _hand_momentum(p, g, 0.1, 0.8)),
        (lambda: xn.RMSprop(0.01, beta=0.9, epsilon=1e-6), lambda p, g: _hand_rmsprop(p, g, 0.01, 0.9, 1e-6)),
        (lambda: xn.Adam(0.01, beta1=0.8, beta2=0.95, epsilon=1e-7), lambda p, g: _hand_adam(p, g, 0.01, 0.8, 0.95, 1e-7)),
    ],
    ids=["gd", "momentum", "rmsprop", "adam"],
)
def test_each_update_equals_the_hand_computed_one(backend, make, hand):
    params, grads = _steps()
    expected = hand(params, grads)
    opt = make()
    current = {k: backend.asarray(v, "float64") for k, v in params.items()}
    for step, (g, want) in enumerate(zip(grads, expected), start=1):
        current = opt.update(current, {k: backend.asarray(v, "float64") for k, v in g.items()})
        for k in params:
            got = backend.to_numpy(current[k])
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, want[k], rtol=1e-12, atol=1e-12, err_msg=f"{k} at step {step}")
    assert opt.iterations == (0 if isinstance(opt, xn.GradientDescent) else len(grads))
    for v in opt.state.values():  # the state lives on the model's device
        assert backend.owns(v)


def test_optimizer_state_is_per_parameter_and_resets():
    params, grads = _steps(2)
    opt = xn.Adam(0.01)
    opt.update(params, grads[0])
    assert sorted(opt.state) == sorted([f"{m}_{k}" for k in SHAPES for m in ("v", "s")])
    opt.reset()
    assert opt.state == {} and opt.iterations == 0


@pytest.mark.parametrize("bad, pattern", [
    (lambda: xn.Momentum(0.1, beta=1.0), "beta"),
    (lambda: xn.Adam(beta2=-0.1), "beta2"),
    (lambda: xn.RMSprop(epsilon=0.0), "epsilon"),
    (lambda: xn.GradientDescent(learning_rate=-1), "learning_rate"),
    (lambda: xn.GradientDescent(learning_rate="fast"), "learning_rate"),
])
def test_bad_optimizer_hyperparameters(bad, pattern):
    with pytest.raises(xn.XpnetError, match=pattern):
        bad()


# -- trajectories against a plain NumPy network ----------------------------------------------------

def _reference_fit(params, X, Y, epochs, hand_update):
    """A tanh -> sigmoid network trained by full-batch steps in plain NumPy."""
    m = X.shape[1]
    costs, state = [], {}
    for _ in range(epochs):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        A1 = np.tanh(W1 @ X + b1)
        A2 = 1.0 / (1.0 + np.exp(-(W2 @ A1 + b2)))
        costs.append(float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))))
        dZ2 = (A2 - Y) / m
        dA1 = W2.T @ dZ2
        dZ1 = dA1 * (1 - A1**2)
        grads = {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
                 "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True)}
        params = hand_update(params, grads, state)
    return params, costs


def _ref_momentum(lr, beta):
    def update(params, grads, state):
        out = {}
        for k, p in params.items():
            state[k] = beta * state.get(k, 0.0) + (1 - beta) * grads["d" + k]
            out[k] = p - lr * state[k]
        return out
    return update


def _ref_rmsprop(lr, beta, eps):
    def update(params, grads, state):
        out = {}
        for k, p in params.items():
            state[k] = beta * state.get(k, 0.0) + (1 - beta) * grads["d" + k] ** 2
            out[k] = p - lr * grads["d" + k] / (np.sqrt(state[k]) + eps)
        return out
    return update


def _ref_adam(lr, b1, b2, eps):
    def update(params, grads, state):
        state["t"] = t = state.get("t", 0) + 1
        out = {}
        for k, p in params.items():
            state["v" + k] = b1 * state.get("v" + k, 0.0) + (1 - b1) * grads["d" + k]
            state["s" + k] = b2 * state.get("s" + k, 0.0) + (1 - b2) * grads["d" + k] ** 2
            out[k] = p - lr * (state["v" + k] / (1 - b1**t)) / (np.sqrt(state["s" + k] / (1 - b2**t)) + eps)
        return out
    return update


@pytest.mark.parametrize(
    "optimizer, reference",
    [
        (lambda: xn.Momentum(0.5, beta=0.9), _ref_momentum(0.5, 0.9)),
        (lambda: xn.RMSprop(0.01, beta=0.999, epsilon=1e-8), _ref_rmsprop(0.01, 0.999, 1e-8)),
        (lambda: xn.Adam(0.02, beta1=0.9, beta2=0.999, epsilon=1e-8), _ref_adam(0.02, 0.9, 0.999, 1e-8)),
    ],
    ids=["momentum", "rmsprop", "adam"],
)
def test_trajectory_equals_a_plain_numpy_reference(backend, optimizer, reference):
    X, Y = planar_xor(60, seed=4)
    net = xn.Sequential([xn.Dense(4, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend=backend, dtype="float64", seed=2)
    start = {k: backend.to_numpy(v) for k, v in net.parameters().items()}
    want_params, want_costs = _reference_fit(start, X, Y, 30, reference)
    hist = net.fit(X, Y, optimizer=optimizer(), epochs=30)
    np.testing.assert_allclose(hist.costs, want_costs, rtol=1e-10)
    for k, v in net.parameters().items():
        np.testing.assert_allclose(backend.to_numpy(v), want_params[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert np.ptp(hist.costs) > 1e-3  # the test would notice a trajectory that did not move


# -- L2 -------------------------------------------------------------------------------------------

def test_l2_passes_a_gradient_check(backend):
    X, Y = planar_xor(20, seed=1)
    lam, m = 0.7, 20
    net = xn.Sequential([xn.Dense(3, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend=backend, dtype="float64", seed=5)
    params = {k: backend.to_numpy(v) for k, v in net.parameters().items()}
    grads = net.gradients(X, Y)
    training.add_l2_gradients(net, grads, lam, m)

    def J(name, value):
        net.set_parameters({**params, name: value})
        return net.compute_cost(X, Y) + float(training.l2_penalty(net, lam, m))

    for name in params:
        numeric = numeric_gradient(lambda v, name=name: J(name, v), params[name])
        assert relative_error(backend.to_numpy(grads["d" + name]), numeric) < 1e-7, name
    net.set_parameters(params)
    # Biases are not regularised; weights are, by exactly lambda/m W.
    plain = net.gradients(X, Y)
    np.testing.assert_array_equal(backend.to_numpy(grads["db1"]), backend.to_numpy(plain["db1"]))
    np.testing.assert_allclose(backend.to_numpy(grads["dW1"] - plain["dW1"]), lam / m * params["W1"], rtol=1e-12)


def test_fit_with_l2_takes_the_regularised_step_and_reports_the_penalised_cost():
    X, Y = planar_xor(30, seed=2)
    lam, lr = 2.0, 0.3
    net = xn.Sequential([xn.Dense(3, activation="tanh"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend="numpy", dtype="float64", seed=5)
    p0 = net.parameters()
    g = net.gradients(X, Y)
    penalty = lam / (2 * 30) * sum(float(np.sum(p0[k] ** 2)) for k in ("W1", "W2"))
    cost0 = net.compute_cost(X, Y)
    hist = net.fit(X, Y, learning_rate=lr, epochs=1, l2=lam)
    assert hist.costs[0] == pytest.approx(cost0 + penalty, rel=1e-12)
    after = net.parameters()
    np.testing.assert_allclose(after["W1"], p0["W1"] - lr * (g["dW1"] + lam / 30 * p0["W1"]), rtol=1e-12)
    np.testing.assert_allclose(after["b2"], p0["b2"] - lr * g["db2"], rtol=1e-12)


# -- mini-batches ----------------------------------------------------------------------------------

def _net(backend="numpy", seed=3, dtype="float64"):
    return xn.Sequential([xn.Dense(5, activation="relu"), xn.Dense(1, activation="sigmoid")],
                         input_size=2, backend=backend, dtype=dtype, seed=seed)


@pytest.mark.parametrize("batch_size", [40, 1000])
def test_batch_size_m_equals_full_batch_exactly(backend, batch_size):
    X, Y = planar_xor(40, seed=3)
    full, mini = _net(backend), _net(backend)
    h_full = full.fit(X, Y, optimizer=xn.Adam(0.01), epochs=15)
    h_mini = mini.fit(X, Y, optimizer=xn.Adam(0.01), epochs=15, batch_size=batch_size, shuffle=True)
    assert h_full.costs == h_mini.costs
    for k, v in full.parameters().items():
        np.testing.assert_array_equal(backend.to_numpy(v), backend.to_numpy(mini.parameters()[k]))


def _record_batches(net):
    """Wrap net.forward to record, for every training batch, the example ids (row 0 of X)."""
    seen = []
    inner = net.forward

    def forward(X, training=False):
        if training:
            seen.append([int(round(v)) for v in xn.to_numpy(X)[0]])
        return inner(X, training=training)

    net.forward = forward
    return seen


def _ids_data(m=23):
    X = np.vstack([np.arange(m, dtype=np.float64), np.random.default_rng(0).normal(size=m)])
    Y = (X[1:2] > 0).astype(np.float64)
    return X, Y


def test_shuffled_mini_batches_keep_the_partial_last_batch_and_cover_every_example():
    X, Y = _ids_data(23)
    net = _net()
    seen = _record_batches(net)
    net.fit(X, Y, epochs=3, batch_size=7, learning_rate=0.1)
    assert [len(b) for b in seen] == [7, 7, 7, 2] * 3
    epochs = [sum(seen[i:i + 4], []) for i in range(0, 12, 4)]
    for order in epochs:
        assert sorted(order) == list(range(23))
    assert epochs[0] != list(range(23)) and epochs[0] != epochs[1]  # shuffled, anew every epoch


def test_unshuffled_mini_batches_are_in_order():
    X, Y = _ids_data(10)
    net = _net()
    seen = _record_batches(net)
    net.fit(X, Y, epochs=1, batch_size=4, shuffle=False, learning_rate=0.1)
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_shuffling_is_reproducible_per_seed_and_identical_across_backends(backend):
    X, Y = _ids_data(23)
    ref, same, other, here = _net(seed=3), _net(seed=3), _net(seed=4), _net(backend, seed=3)
    orders = []
    for net in (ref, same, other, here):
        seen = _record_batches(net)
        net.fit(X, Y, epochs=2, batch_size=5, learning_rate=0.1)
        orders.append(seen)
    assert orders[0] == orders[1] == orders[3]
    assert orders[0] != orders[2]
    for k, v in here.parameters().items():
        np.testing.assert_allclose(backend.to_numpy(v), ref.parameters()[k], rtol=1e-12, atol=1e-14)


def test_shuffled_mini_batches_do_not_depend_on_the_layout_of_X(backend):
    """X in C order and the same X as the transpose of row-major data train identically."""
    X, Y = _ids_data(23)
    nets = [_net(backend, seed=3), _net(backend, seed=3)]
    for net, X_in in zip(nets, (np.ascontiguousarray(X), np.ascontiguousarray(X.T).T)):
        net.fit(X_in, Y, epochs=2, batch_size=5, learning_rate=0.1)
    for k, v in nets[0].parameters().items():
        np.testing.assert_array_equal(backend.to_numpy(v), backend.to_numpy(nets[1].parameters()[k]))


def test_epoch_cost_is_the_mean_over_examples_of_each_batch_cost_before_its_update():
    X, Y = _ids_data(10)
    net = _net()
    p0 = net.parameters()
    hist = net.fit(X, Y, epochs=1, batch_size=4, shuffle=False, learning_rate=0.5)
    # Replay by hand: batch costs at the parameters each batch saw, weighted by its size.
    replay = _net()
    replay.set_parameters(p0)
    total = 0.0
    for cols in (slice(0, 4), slice(4, 8), slice(8, 10)):
        Xb, Yb = X[:, cols], Y[:, cols]
        total += replay.compute_cost(Xb, Yb) * Xb.shape[1] / 10
        replay.fit(Xb, Yb, epochs=1, learning_rate=0.5)
    assert hist.costs[0] == pytest.approx(total, rel=1e-12)
    for k, v in net.parameters().items():
        np.testing.assert_allclose(v, replay.parameters()[k], rtol=1e-12)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_bad_batch_size(batch_size):
    X, Y = planar_xor(10)
    with pytest.raises(xn.XpnetValueError, match="batch_size"):
        _net().fit(X, Y, epochs=1, batch_size=batch_size)


# -- validation ------------------------------------------------------------------------------------

def test_validation_data_is_recorded_every_epoch(backend):
    X, Y = planar_xor(40, seed=1)
    Xv, Yv = planar_xor(25, seed=2)
    net = _net(backend)
    hist = net.fit(X, Y, epochs=4, learning_rate=0.5, validation_data=(Xv, Yv))
    assert len(hist.history["val_cost"]) == len(hist.history["val_accuracy"]) == 4
    final = net.evaluate(Xv, Yv)
    assert hist.history["val_cost"][-1] == pytest.approx(final["cost"], rel=1e-12)
    assert hist.history["val_accuracy"][-1] == pytest.approx(final["accuracy"])
    assert hist.history["val_cost"][0] != hist.history["val_cost"][-1]
    assert hist.history["learning_rate"] == [0.5] * 4


def test_validation_split_holds_out_the_last_columns():
    X, Y = planar_xor(50, seed=1)
    net, ref = _net(), _net()
    hist = net.fit(X, Y, epochs=3, learning_rate=0.5, validation_split=0.2)
    ref_hist = ref.fit(X[:, :40], Y[:, :40], epochs=3, learning_rate=0.5, validation_data=(X[:, 40:], Y[:, 40:]))
    assert hist.costs == ref_hist.costs
    assert hist.history["val_cost"] == ref_hist.history["val_cost"]


def test_validation_split_and_data_together_is_an_error():
    X, Y = planar_xor(20)
    with pytest.raises(xn.XpnetValueError, match="not both"):
        _net().fit(X, Y, epochs=1, validation_split=0.2, validation_data=(X, Y))


# -- clipping -------------------------------------------------------------------------------------

def test_clip_norm_rescales_the_global_gradient_norm(backend):
    X, Y = planar_xor(30, seed=6)
    lr, clip = 1.0, 1e-3
    net = _net(backend)
    p0 = {k: backend.to_numpy(v) for k, v in net.parameters().items()}
    g = {k: backend.to_numpy(v) for k, v in net.gradients(X, Y).items()}
    norm = np.sqrt(sum(float(np.sum(v**2)) for v in g.values()))
    assert norm > clip
    net.fit(X, Y, learning_rate=lr, epochs=1, clip_norm=clip)
    step = {k: p0[k] - backend.to_numpy(v) for k, v in net.parameters().items()}
    step_norm = np.sqrt(sum(float(np.sum(v**2)) for v in step.values()))
    assert step_norm == pytest.approx(lr * clip, rel=1e-9)
    for k in p0:  # the direction is the gradient's
        np.testing.assert_allclose(step[k], lr * g["d" + k] * clip / norm, rtol=1e-9, atol=1e-15)


def test_clip_norm_above_the_gradient_norm_changes_nothing():
    X, Y = planar_xor(30, seed=6)
    a, b = _net(), _net()
    a.fit(X, Y, learning_rate=0.5, epochs=3)
    b.fit(X, Y, learning_rate=0.5, epochs=3, clip_norm=1e6)
    for k, v in a.parameters().items():
        np.testing.assert_allclose(v, b.parameters()[k], rtol=1e-12)


@pytest.mark.parametrize("kwargs, pattern", [({"clip_norm": 0.0}, "clip_norm"), ({"clip_norm": "1"}, "clip_norm"),
                                             ({"l2": -1.0}, "l2"), ({"l2": float("nan")}, "l2")])
def test_bad_regularisation_arguments(kwargs, pattern):
    X, Y = planar_xor(10)
    with pytest.raises(xn.XpnetError, match=pattern):
        _net().fit(X, Y, epochs=1, **kwargs)


# -- the course's claim on real data -----------------------------------------------------------------

def _digits():
    from xpnet.data import load_digits

    return tuple(load_digits(test_size=0.2, seed=0))


def _epochs_to_reach(net, X, Y, Xte, Yte, target, max_epochs, **fit):
    hit = []

    def check(epoch, logs):
        if net.evaluate(Xte, Yte)["accuracy"] >= target:
            hit.append(epoch + 1)
            return True
        return False

    net.fit(X, Y, epochs=max_epochs, callbacks=[xn.LambdaCallback(on_epoch_end=check)], **fit)
    return hit[0] if hit else None


def test_minibatch_adam_reaches_full_batch_gd_accuracy_in_fewer_epochs():
    X, Y, Xte, Yte = _digits()

    def net():
        return xn.Sequential([xn.Dense(32, activation="relu"), xn.Dense(10, activation="softmax")],
                             input_size=64, backend="numpy", dtype="float32", seed=1)

    gd_epochs = 300
    gd = net()
    gd.fit(X, Y, optimizer=xn.GradientDescent(0.1), epochs=gd_epochs)
    target = gd.evaluate(Xte, Yte)["accuracy"]
    assert target > 0.85  # full-batch GD has learnt something worth matching
    adam_epochs = _epochs_to_reach(net(), X, Y, Xte, Yte, target, gd_epochs,
                                   optimizer=xn.Adam(0.001), batch_size=64)
    assert adam_epochs is not None, f"mini-batch Adam never reached GD's {target:.3f} in {gd_epochs} epochs"
    assert adam_epochs * 5 <= gd_epochs, f"Adam needed {adam_epochs} epochs for GD's {gd_epochs}-epoch {target:.3f}"


# -- the one training step -----------------------------------------------------------------------
@pytest.mark.parametrize("l2, clip_norm", [(0.0, None), (0.3, 0.05)])
def test_train_step_is_the_step_fit_takes(backend, l2, clip_norm):
    X, Y = planar_xor(40)
    fitted, stepped = _net(backend), _net(backend)
    hist = fitted.fit(X, Y, learning_rate=0.5, epochs=3, l2=l2, clip_norm=clip_norm)
    loss, optimizer = xn.losses.get("binary_crossentropy"), xn.GradientDescent(0.5)
    with stepped.backend.context():
        Xd = stepped.prepare_input(X)
        Yd = stepped.prepare_targets(Y, stepped.n_examples(Xd), loss=loss)
        costs = [
            float(backend.to_numpy(training.train_step(stepped, Xd, Yd, loss=loss, optimizer=optimizer, l2=l2,
                                                       clip_norm=clip_norm)))
            for _ in range(3)
        ]
    np.testing.assert_allclose(costs, hist.costs, rtol=1e-12)
    for k, W in fitted.parameters().items():
        np.testing.assert_allclose(backend.to_numpy(stepped.parameters()[k]), backend.to_numpy(W), rtol=1e-12)


def test_train_step_checks_its_hyperparameters():
    X, Y = planar_xor(10)
    net = _net()
    loss = xn.losses.get("binary_crossentropy")
    Xd, Yd = net.prepare_input(X), net.prepare_targets(Y, 10, loss=loss)
    with pytest.raises(xn.XpnetValueError, match="l2 must be a finite number >= 0, got -1"):
        training.train_step(net, Xd, Yd, loss=loss, optimizer=xn.GradientDescent(0.1), l2=-1)
    with pytest.raises(xn.XpnetValueError, match="clip_norm must be a finite number > 0, got 0"):
        training.train_step(net, Xd, Yd, loss=loss, optimizer=xn.GradientDescent(0.1), clip_norm=0)
