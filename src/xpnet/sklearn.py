"""scikit-learn estimators backed by an xpnet :class:`~xpnet.Sequential` network.

``MLPClassifier`` and ``MLPRegressor`` follow scikit-learn's conventions, not the course's:
``X`` is ``(n_samples, n_features)``, one example per ROW, and ``y`` is 1-D. They transpose
to the course's ``(n_x, m)`` internally, so they drop into a :class:`~sklearn.pipeline.Pipeline`
or :class:`~sklearn.model_selection.GridSearchCV` like any scikit-learn model:

>>> from sklearn.datasets import make_classification
>>> from xpnet.sklearn import MLPClassifier
>>> X, y = make_classification(n_samples=100, n_features=4, random_state=0)
>>> clf = MLPClassifier(hidden_layer_sizes=(8,), epochs=50, random_state=0).fit(X, y)
>>> clf.predict(X[:3]).shape
(3,)

This module needs scikit-learn (``pip install 'xpnet[sklearn]'``); importing ``xpnet`` does
not import it.
"""

from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    from .errors import XpnetError

    raise XpnetError(
        f"xpnet.sklearn needs scikit-learn ({exc}); install it with pip install 'xpnet[sklearn]'"
    ) from exc

from ._validation import OUTPUT_ACTIVATIONS, check_positive_int, is_integer
from .errors import NotFittedError, XpnetTypeError, XpnetValueError
from .layers import Dense
from .model import Sequential

__all__ = ["MLPClassifier", "MLPRegressor", "EstimatorNotFittedError"]


class EstimatorNotFittedError(NotFittedError, _SklearnNotFittedError):
    """``predict`` before ``fit``: both xpnet's and scikit-learn's ``NotFittedError``."""


def _sklearn_errors(call, *args, **kwargs):
    """Run a scikit-learn validation and re-raise its errors as xpnet errors (same message)."""
    try:
        return call(*args, **kwargs)
    except (XpnetValueError, XpnetTypeError):
        raise
    except TypeError as exc:
        raise XpnetTypeError(str(exc)) from exc
    except ValueError as exc:
        raise XpnetValueError(str(exc)) from exc


class _BaseMLP(BaseEstimator):
    """Shared hyperparameters, network construction and training."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        optimizer="adam",
        learning_rate=0.01,
        epochs=200,
        batch_size="auto",
        l2=0.0,
        backend=None,
        dtype="float64",
        random_state=None,
        verbose=False,
    ):
        # scikit-learn convention: store the arguments untouched; fit validates them.
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.l2 = l2
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # -- helpers ---------------------------------------------------------------------------
    def _hidden_sizes(self) -> tuple:
        sizes = self.hidden_layer_sizes
        if is_integer(sizes):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise XpnetTypeError(
                f"hidden_layer_sizes must be a tuple of positive ints like (100,) or (64, 32), got {sizes!r}"
            ) from None
        try:
            return tuple(check_positive_int(n, "layer size") for n in sizes)
        except XpnetValueError:
            raise XpnetValueError(
                f"hidden_layer_sizes must be a tuple of positive ints like (100,) or (64, 32), got {sizes!r}"
            ) from None

    def _seed(self):
        if self.random_state is None:
            return None
        if is_integer(self.random_state):
            if self.random_state < 0:
                raise XpnetValueError(f"random_state must be None, an int >= 0 or a RandomState, got {self.random_state!r}")
            return int(self.random_state)
        rs = _sklearn_errors(check_random_state, self.random_state)
        return int(rs.randint(np.iinfo(np.int32).max))

    def _batch_size(self, m: int):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(200, m)
        if self.batch_size is None:
            return None
        return self.batch_size  # the training loop validates it (NumPy ints included)

    def _fit_network(self, X, Y, kind):
        """Train a network whose output suits ``kind`` (binary, multiclass, regression) on Y (n_out, m)."""
        layers = [Dense(n, activation=self.activation) for n in self._hidden_sizes()]
        layers.append(Dense(int(Y.shape[0]), activation=OUTPUT_ACTIVATIONS[kind]))
        model = Sequential(layers, input_size=X.shape[1], backend=self.backend, dtype=self.dtype, seed=self._seed())
        history = model.fit(
            X.T,
            Y,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self._batch_size(X.shape[0]),
            l2=self.l2,
            verbose=self.verbose,
        )
        self.model_ = model
        self.loss_curve_ = list(history.costs)
        self.loss_ = self.loss_curve_[-1]
        self.n_iter_ = len(self.loss_curve_)
        return self

    def _check_fitted(self):
        try:
            check_is_fitted(self, "model_")
        except _SklearnNotFittedError as exc:
            raise EstimatorNotFittedError(str(exc)) from None

    def _output(self, X):
        """A_L as a host array of shape (n_samples, n_out)."""
        self._check_fitted()
        X = _sklearn_errors(validate_data, self, X, reset=False, dtype=(np.float64, np.float32))
        return np.asarray(self.model_.predict_proba(X.T)).T


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier trained by xpnet.

    Two classes give one sigmoid output unit and binary cross-entropy; more give a softmax
    layer and categorical cross-entropy. Labels can be any values (strings included):
    ``classes_`` holds them sorted, and ``predict`` returns them.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units of each hidden layer, e.g. ``(64, 32)``.
    activation : str
        Hidden activation: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"``, ``"linear"``.
    optimizer : str or xpnet Optimizer
        ``"adam"`` (default), ``"gradient_descent"``, ``"momentum"``, ``"rmsprop"``.
    learning_rate : float
        The optimiser's step size alpha.
    epochs : int
        Passes over the training set (200 by default).
    batch_size : int, "auto" or None
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``, None the full batch.
    l2 : float
        lambda of L2 regularisation (scikit-learn's ``alpha``).
    backend : str, optional
        xpnet backend (``"numpy"``, ``"gpu"``, ...); default as :class:`xpnet.Sequential`.
    dtype : {"float64", "float32"}
        float64 by default, so that results match scikit-learn's numerical checks.
    random_state : int, RandomState or None
        Seeds the initial weights and the mini-batch order.
    verbose : bool or int
        Print the cost every 100 (or ``verbose``) epochs.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    model_ : xpnet.Sequential
        The trained network (course layout: ``model_.parameters()["W1"]`` is (n_1, n_features)).
    loss_curve_ : list of float
        The training cost of each epoch.
    loss_ : float
        The last epoch's training cost.
    n_iter_ : int
        Epochs run.
    """

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        X, y = _sklearn_errors(validate_data, self, X, y, dtype=(np.float64, np.float32))
        _sklearn_errors(check_classification_targets, y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise XpnetValueError(
                f"y has only one class ({self.classes_[0]!r}); a classifier needs at least 2 classes"
            )
        if k == 2:
            Y = codes.reshape(1, -1).astype(np.float64)
            return self._fit_network(X, Y, "binary")
        Y = np.zeros((k, codes.shape[0]))
        Y[codes, np.arange(codes.shape[0])] = 1.0
        return self._fit_network(X, Y, "multiclass")

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        A = self._output(X)
        if A.shape[1] == 1:
            return np.hstack([1.0 - A, A])
        return A

    def predict(self, X):
        """The most probable class of each sample, as values of ``classes_``."""
        P = self.predict_proba(X)
        if P.shape[1] == 2:
            # Threshold 0.5 as xpnet's Sequential.predict does; equal to argmax (ties -> classes_[0]).
            return self.classes_[(P[:, 1] > 0.5).astype(np.intp)]
        return self.classes_[np.argmax(P, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor (linear output, mean squared error) trained by xpnet.

    Takes the same parameters as :class:`MLPClassifier`; ``y`` is 1-D (n_samples,).
    ``predict`` returns (n_samples,). Targets are used as given: standardise them (e.g. with
    :class:`~sklearn.compose.TransformedTargetRegressor`) when their scale is far from 1.
    """

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,)."""
        X, y = _sklearn_errors(validate_data, self, X, y, dtype=(np.float64, np.float32), y_numeric=True)
        Y = np.asarray(y, dtype=np.float64).reshape(1, -1)
        return self._fit_network(X, Y, "regression")

    def predict(self, X):
        """Predicted targets, shape (n_samples,)."""
        return self._output(X)[:, 0]
