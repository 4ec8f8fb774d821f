"""What a network answers once built: predictions, probabilities, cost, accuracy, a summary.

:class:`Inference` is the part of :class:`~xpnet.Sequential` that runs forward propagation
only (as Keras keeps its ``Trainer`` beside ``Model``). It relies on the model's public
surface: ``forward``, ``cost``, ``prepare_input``, ``prepare_targets``, ``backend``.
"""

from __future__ import annotations

from ._friendly import summary as _summary
from ._validation import output_kind_of_activation

__all__ = ["Inference"]


class Inference:
    """``predict``, ``predict_proba``, ``evaluate``, ``compute_metrics``, ``compute_cost``, ``summary``."""

    def predict_proba(self, X):
        """A_L, the network's output for X (probabilities for sigmoid/softmax outputs)."""
        self.require_built()
        with self.backend.context():
            host = self._returns_host(X)
            AL, _ = self.forward(self.prepare_input(X))
            return self.backend.to_numpy(AL) if host else AL

    def predict(self, X):
        """Predictions: 0/1 (threshold 0.5) for sigmoid, class index (1, m) for softmax, A_L otherwise."""
        self.require_built()
        with self.backend.context():
            host = self._returns_host(X)
            AL, _ = self.forward(self.prepare_input(X))
            out = self._labels(AL)
            return self.backend.to_numpy(out) if host else out

    def _labels(self, AL):
        xp = self.xp
        kind = output_kind_of_activation(self.output_activation)
        if kind == "binary":
            return xp.astype(AL > 0.5, xp.int64)
        if kind == "multiclass":
            return xp.argmax(AL, axis=0, keepdims=True)  # (1, m), or (1, m, T) for sequences
        return AL

    def evaluate(self, X, Y, loss=None) -> dict:
        """``{"cost": J, "accuracy": fraction correct}`` (accuracy only for classifiers)."""
        self.require_built()
        loss = self._resolve_loss(loss)
        with self.backend.context():
            X = self.prepare_input(X)
            return self.compute_metrics(X, self.prepare_targets(Y, self.n_examples(X), loss=loss), loss)

    def compute_metrics(self, X, Y, loss) -> dict:
        """``{"cost": J, "accuracy": ...}`` of device arrays already checked (:meth:`evaluate` without the checks)."""
        AL, caches = self.forward(X)
        metrics = {"cost": self.cost(AL, Y, caches, loss)}
        kind = output_kind_of_activation(self.output_activation)
        xp = self.xp
        if kind == "binary":
            metrics["accuracy"] = xp.mean(xp.astype((AL > 0.5) == (Y > 0.5), AL.dtype))
        elif kind == "multiclass":
            hits = xp.argmax(AL, axis=0) == xp.argmax(Y, axis=0)
            metrics["accuracy"] = xp.mean(xp.astype(hits, AL.dtype))
        # Every metric in one device -> host transfer (one GPU sync, one dask compute).
        values = self.backend.to_numpy(xp.stack(list(metrics.values())))
        return {key: float(v) for key, v in zip(metrics, values)}

    def compute_cost(self, X, Y, loss=None) -> float:
        """J at the current parameters (no update)."""
        return self.evaluate(X, Y, loss)["cost"]

    def summary(self, print_fn=print) -> str:
        """Print and return a table of the layers, output shapes and parameter counts.

        Parameters
        ----------
        print_fn : callable or None
            Where the table goes (``print`` by default, as Keras); None prints nothing.

        Returns
        -------
        str
            The table: one row per layer (output shapes in course layout, ``m`` the
            examples), the total parameter count and bytes, the backend and the dtype.

        Raises
        ------
        NotFittedError
            The network has no parameters yet (no ``input_size`` and no ``fit``).
        """
        self.require_built()
        text = _summary(self)
        if print_fn is not None:
            print_fn(text)
        return text
