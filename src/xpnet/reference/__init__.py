"""Reference implementations written with explicit loops: the oracle and the baseline.

This package is deliberately slow. It is what the course's vectorization lesson compares
against, and what the tests check the vectorized model code against. It may use NumPy (it
is not model code), and its loops never call the code under test: activations and losses
are written out again in :mod:`xpnet.reference._scalar`.

* :mod:`~xpnet.reference.demos`: the course's small demos, :func:`loop_dot` /
  :func:`vectorized_dot`, :func:`loop_matvec` / :func:`vectorized_matvec`,
  :func:`loop_exp` / :func:`vectorized_exp`;
* :mod:`~xpnet.reference.dense`: one dense training step as explicit loops (``loop``) and
  as a loop over examples (``per_example``);
* :mod:`~xpnet.reference.vectorized`: xpnet itself behind the same signatures
  (``vectorized``);
* :mod:`~xpnet.reference.sequence`: the sequence layers one example and one step at a time
  (:func:`rnn_forward_loop`, :func:`lstm_forward_loop`, :func:`conv1d_forward_loop`, ...).

Each dense implementation provides ``forward(params, X, activations) -> (AL, caches)``,
``cost(AL, Y, loss)``, ``gradients(params, X, Y, activations, loss=None) -> {"dW1": ...}``
(the same dict as :meth:`Sequential.gradients`), ``update(params, grads, learning_rate)`` and
``train_step(params, X, Y, activations, learning_rate, loss=None) -> (cost, params)``.
``params`` is ``{"W1": ..., "b1": ..., ...}`` in course shapes; ``activations`` lists one
activation per layer (names such as ``"relu"``, or xpnet activation objects); ``loss`` is a
loss name, defaulting from the output activation as ``fit`` does.
"""

from __future__ import annotations

from types import SimpleNamespace

from .dense import (
    loop_cost,
    loop_forward,
    loop_gradients,
    loop_train_step,
    loop_update,
    per_example_cost,
    per_example_forward,
    per_example_gradients,
    per_example_train_step,
    per_example_update,
)
from .demos import loop_dot, loop_exp, loop_matvec, vectorized_dot, vectorized_exp, vectorized_matvec
from .sequence import (
    attention_forward_loop,
    conv1d_forward_loop,
    lstm_backward_loop,
    lstm_forward_loop,
    rnn_backward_loop,
    rnn_forward_loop,
)
from .vectorized import (
    vectorized_cost,
    vectorized_forward,
    vectorized_gradients,
    vectorized_net,
    vectorized_train_step,
    vectorized_update,
)

__all__ = [
    "loop_dot", "vectorized_dot", "loop_matvec", "vectorized_matvec", "loop_exp", "vectorized_exp",
    "loop_forward", "loop_cost", "loop_gradients", "loop_update", "loop_train_step",
    "per_example_forward", "per_example_cost", "per_example_gradients", "per_example_update",
    "per_example_train_step",
    "vectorized_net", "vectorized_forward", "vectorized_cost", "vectorized_gradients", "vectorized_update",
    "vectorized_train_step",
    "IMPLEMENTATIONS",
    "rnn_forward_loop", "lstm_forward_loop", "rnn_backward_loop", "lstm_backward_loop",
    "conv1d_forward_loop", "attention_forward_loop",
]

#: The three dense implementations by name, each with ``forward``, ``cost``, ``gradients``,
#: ``update`` and ``train_step`` of the signatures above.
IMPLEMENTATIONS = {
    "loop": SimpleNamespace(
        name="loop", forward=loop_forward, cost=loop_cost, gradients=loop_gradients, update=loop_update,
        train_step=loop_train_step,
    ),
    "per_example": SimpleNamespace(
        name="per_example", forward=per_example_forward, cost=per_example_cost, gradients=per_example_gradients,
        update=per_example_update, train_step=per_example_train_step,
    ),
    "vectorized": SimpleNamespace(
        name="vectorized", forward=vectorized_forward, cost=vectorized_cost, gradients=vectorized_gradients,
        update=vectorized_update, train_step=vectorized_train_step,
    ),
}
