"""Sequential passes the padding mask of an Embedding(mask_zero=True) first layer to the layers
that take one (attention, Transformer blocks, GlobalAveragePooling1D, recurrent layers), as
Keras does."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn

from gradcheck import numeric_gradient, relative_error

V, D, T, K = 6, 4, 5, 3


def _ids(m=4, seed=0):
    g = np.random.default_rng(seed)
    X = g.integers(1, V, size=(m, T))
    lengths = [T, 3, 1, 4, 2, 5][:m]
    for j, n in enumerate(lengths):
        X[j, n:] = 0
    return X, lengths


# Each kind: the layers between the embedding and the output, and whether a masked pooling
# turns the sequence into one vector (the recurrent kinds without it end on a final state).
KINDS = {
    "block": (lambda: [xn.TransformerEncoderBlock(D, heads=2, d_ff=6)], True),
    "attention": (lambda: [xn.MultiHeadAttention(D, heads=2)], True),
    "pool": (lambda: [], True),
    "lstm_sequence": (lambda: [xn.LSTM(3, return_sequences=True)], True),
    "gru_last": (lambda: [xn.GRU(3)], False),
    "rnn_last": (lambda: [xn.SimpleRNN(3)], False),
    "bidirectional": (lambda: [xn.Bidirectional(xn.LSTM(3))], False),
    "stacked": (lambda: [xn.SimpleRNN(3, return_sequences=True), xn.LSTM(2)], False),
}


def net(kind="block", mask_zero=True, backend="numpy", T_in=T, seed=0):
    body, pooled = KINDS[kind]
    return xn.Sequential([xn.Embedding(V, D, mask_zero=mask_zero), xn.PositionalEncoding(), *body(),
                          *([xn.GlobalAveragePooling1D()] if pooled else []), xn.Dense(K, activation="softmax")],
                         input_size=(T_in,), backend=backend, dtype="float64", seed=seed)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_example_equals_its_unpadded_self(kind):
    """Padding changes nothing: example j padded to T gives what its first len_j tokens give alone."""
    X, lengths = _ids()
    model = net(kind)
    P = model.predict_proba(X)
    for j, n in enumerate(lengths):
        alone = net(kind, T_in=n)
        alone.set_parameters(model.parameters())  # no parameter depends on T
        np.testing.assert_allclose(alone.predict_proba(X[j:j + 1, :n])[:, 0], P[:, j], rtol=1e-12, atol=1e-14)
    unmasked = net(kind, mask_zero=False)
    unmasked.set_parameters(model.parameters())
    assert not np.allclose(unmasked.predict_proba(X), P)  # the mask is what makes it so


@pytest.mark.parametrize("kind", list(KINDS))
def test_float64_gradient_check_with_a_mask(kind):
    X, _ = _ids()
    Y = np.random.default_rng(1).integers(0, K, size=(1, X.shape[0]))
    model = net(kind)
    grads = model.gradients(X, Y)
    params = {k: np.array(v) for k, v in model.parameters().items()}
    for name, value in params.items():
        def cost(x, name=name):
            model.set_parameters({**params, name: x})
            return model.compute_cost(X, Y)

        numeric = numeric_gradient(cost, value)
        model.set_parameters(params)
        if np.abs(numeric).max() < 1e-9:  # bk: a key bias shifts every score of a query alike
            np.testing.assert_allclose(grads["d" + name], 0.0, atol=1e-12, err_msg=name)
        else:
            assert relative_error(grads["d" + name], numeric) < 1e-7, name
    assert np.all(grads["dE1"][:, 0] == 0.0)  # the padding id's vector never reaches the output


def test_masked_pooling_backward_against_the_formula():
    g = np.random.default_rng(2)
    A = g.normal(size=(3, 4, T))
    mask = np.ones((4, T), dtype=bool)
    mask[1, 2:] = False
    mask[3, :] = False  # all padding: output 0, gradient 0
    pool = xn.GlobalAveragePooling1D()
    pool.build((3, T), backend=xn.get_backend("numpy"), dtype="float64", rng=None)
    out, cache = pool.forward(A, mask=mask)
    for j in range(4):
        real = mask[j]
        want = A[:, j, real].mean(axis=1) if real.any() else np.zeros(3)
        np.testing.assert_allclose(out[:, j], want, rtol=1e-12, atol=1e-15)
    dA = g.normal(size=(3, 4))
    dA_prev, _ = pool.backward(dA, cache)
    numeric = numeric_gradient(lambda a: float(np.sum(pool.forward(a, mask=mask)[0] * dA)), A)
    np.testing.assert_allclose(dA_prev, numeric, rtol=1e-7, atol=1e-10)
    with pytest.raises(xn.ShapeError, match=r"\(m, T\) = \(4, 5\)"):
        pool.forward(A, mask=mask[:, :2])


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_masked_models_agree_across_backends(backend):
    X, _ = _ids()
    ref, other = net(), net(backend=backend)
    np.testing.assert_allclose(xn.to_numpy(other.predict_proba(X)), ref.predict_proba(X), rtol=1e-12, atol=1e-15)


def test_a_recurrent_layer_that_takes_no_mask_is_refused_after_a_masking_embedding():
    class NoMaskLSTM(xn.LSTM):  # a user's layer whose forward has no mask argument
        def forward(self, A_prev, training=False):
            return super().forward(A_prev, training)

    with pytest.raises(xn.XpnetValueError, match="padded steps as tokens"):
        xn.Sequential([xn.Embedding(V, D, mask_zero=True), NoMaskLSTM(4), xn.Dense(1, activation="sigmoid")])
    xn.Sequential([xn.Embedding(V, D), NoMaskLSTM(4), xn.Dense(1, activation="sigmoid")])  # no mask: allowed
    with pytest.raises(xn.XpnetTypeError, match="mask_zero must be True or False"):
        xn.Embedding(V, D, mask_zero=1)


@pytest.mark.parametrize("layer", [xn.SimpleRNN(3), xn.LSTM(3), xn.GRU(3)], ids=["rnn", "lstm", "gru"])
def test_a_padded_step_carries_the_state_and_gets_no_gradient(layer):
    """With the mask, a_t = a_{t-1} on padding, and a padded input step gets no gradient."""
    g = np.random.default_rng(3)
    layer.build((2, T), backend=xn.get_backend("numpy"), dtype="float64", rng=g)
    X = g.normal(size=(2, 4, T))
    mask = np.ones((4, T), dtype=bool)
    mask[1, 3:] = mask[2, 1:] = False
    mask[3, :] = False  # all padding: the output stays the initial state
    seq = type(layer)(3, return_sequences=True)
    seq.build((2, T), backend=xn.get_backend("numpy"), dtype="float64", rng=g)
    seq.params = layer.params
    A, cache = seq.forward(X, mask=mask)
    for j, t in [(1, 3), (1, 4), (2, 1), (2, 4)]:
        np.testing.assert_array_equal(A[:, j, t], A[:, j, t - 1])
    np.testing.assert_array_equal(A[:, 3, :], 0.0)
    dX, grads = seq.backward(g.normal(size=A.shape), cache)
    np.testing.assert_array_equal(dX[:, ~mask], 0.0)  # a padded input never reaches the output
    with pytest.raises(xn.ShapeError, match=r"padding mask must have shape \(m, T_keys\) = \(4, 5\)"):
        seq.forward(X, mask=mask[:, :2])


def test_mask_zero_survives_save_and_load(tmp_path):
    X, _ = _ids()
    model = net()
    loaded = xn.load(xn.save(model, tmp_path / "m.npz"))
    assert loaded.layers[0].mask_zero
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=0, atol=0)
    plain = xn.Embedding(V, D)
    assert "mask_zero" not in plain.get_config()  # files of unmasked models are unchanged


def test_a_masked_transformer_classifier_learns_a_padded_task():
    """Label: which of the tokens 1 and 2 is the majority among the real tokens (odd lengths 1
    to 9, padded to 10), learnt through the masked attention and pooling. (That padding has no
    effect at all is test_each_example_equals_its_unpadded_self's job.)"""
    g = np.random.default_rng(0)
    m, T_pad = 600, 10
    lengths = g.integers(1, T_pad, size=m) | 1  # odd lengths: no ties
    X = np.zeros((m, T_pad), dtype=np.int64)
    for j, n in enumerate(lengths):
        X[j, :n] = g.integers(1, 3, size=n)
    Y = np.array([[int((row == 2).sum() > (row == 1).sum()) for row in X]])
    model = xn.Sequential([xn.Embedding(3, 8, mask_zero=True), xn.PositionalEncoding(),
                           xn.TransformerEncoderBlock(8, heads=2, d_ff=16), xn.GlobalAveragePooling1D(),
                           xn.Dense(1, activation="sigmoid")], input_size=(T_pad,), backend="numpy", seed=0)
    model.fit(X[:500], Y[:, :500], optimizer=xn.Adam(0.01), epochs=40, batch_size=50)
    assert model.evaluate(X[500:], Y[:, 500:])["accuracy"] >= 0.95
