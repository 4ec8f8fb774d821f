"""The scikit-learn estimators: scikit-learn's own estimator checks, pipelines, grid search."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import xpnet as xn  # noqa: E402
from xpnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


# Every check scikit-learn has for a classifier and a regressor, with no expected failures.
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_classifier_learns_string_labels_and_gives_probabilities():
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, n_classes=3, random_state=0)
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), epochs=100, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    assert clf.n_features_in_ == 5
    assert clf.model_.parameters()["W1"].shape == (16, 5)  # course layout inside
    assert len(clf.loss_curve_) == 100 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    P = clf.predict_proba(X)
    assert P.shape == (200, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert clf.score(X, labels) > 0.75  # chance is 1/3


def test_binary_classifier_probability_columns_follow_classes():
    X, y = make_classification(n_samples=150, n_features=4, random_state=1)
    clf = MLPClassifier(hidden_layer_sizes=(8,), epochs=60, random_state=0).fit(X, y * 5 + 2)
    assert list(clf.classes_) == [2, 7]
    P = clf.predict_proba(X)
    assert P.shape == (150, 2)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(P, axis=1)])
    assert clf.score(X, y * 5 + 2) > 0.85


def test_regressor_fits_a_linear_target():
    X, y = make_regression(n_samples=200, n_features=3, noise=0.1, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(16,), epochs=150, random_state=0).fit(X, y / y.std())
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y / y.std()) > 0.9


def test_pipeline_and_grid_search():
    X, y = make_classification(n_samples=120, n_features=4, random_state=2)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(epochs=30, random_state=0))
    grid = GridSearchCV(
        pipe,
        {"mlpclassifier__learning_rate": [0.001, 0.01], "mlpclassifier__hidden_layer_sizes": [(4,), (8, 8)]},
        cv=2,
    ).fit(X, y)
    assert set(grid.best_params_) == {"mlpclassifier__learning_rate", "mlpclassifier__hidden_layer_sizes"}
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.score(X, y) > 0.8


def test_same_random_state_same_model_and_float32_dtype():
    X, y = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=3)
    a = MLPClassifier(hidden_layer_sizes=(4,), epochs=5, random_state=7).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(4,), epochs=5, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = MLPClassifier(hidden_layer_sizes=(4,), epochs=5, random_state=7, dtype="float32").fit(X, y)
    assert c.model_.parameters()["W1"].dtype == np.float32


@pytest.mark.parametrize("params, error, pattern", [
    ({"hidden_layer_sizes": (0,)}, xn.XpnetValueError, "hidden_layer_sizes must be a tuple of positive ints"),
    ({"hidden_layer_sizes": "big"}, xn.XpnetValueError, "hidden_layer_sizes must be a tuple of positive ints"),
    ({"activation": "swish"}, xn.XpnetValueError, "unknown activation 'swish'; valid names are"),
    ({"optimizer": "lbfgs"}, xn.XpnetValueError, "unknown optimizer 'lbfgs'; valid names are"),
    ({"learning_rate": 0.0}, xn.XpnetValueError, "learning_rate must be a finite number > 0"),
    ({"epochs": -1}, xn.XpnetValueError, "epochs must be a positive int"),
    ({"batch_size": 0}, xn.XpnetValueError, "batch_size must be a positive int"),
    ({"l2": -1.0}, xn.XpnetValueError, "l2 must be a finite number >= 0"),
    ({"dtype": "float16"}, xn.XpnetValueError, "dtype must be one of"),
    ({"random_state": -3}, xn.XpnetValueError, "random_state must be None"),
])
def test_bad_hyperparameters_raise_at_fit(params, error, pattern):
    X, y = make_classification(n_samples=20, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    clf = MLPClassifier(**params)  # never raises in __init__ (scikit-learn convention)
    with pytest.raises(error, match=pattern):
        clf.fit(X, y)


def test_sklearn_side_errors_are_xpnet_errors():
    clf = MLPClassifier()
    with pytest.raises(xn.NotFittedError):
        clf.predict(np.ones((2, 3)))
    with pytest.raises(xn.XpnetValueError, match="Unknown label type"):
        clf.fit(np.ones((4, 2)), np.array([0.5, 1.5, 2.5, 3.5]))
    with pytest.raises(xn.XpnetValueError, match="only one class"):
        clf.fit(np.ones((4, 2)), np.zeros(4))
    with pytest.raises(xn.XpnetValueError, match="NaN"):
        clf.fit(np.full((4, 2), np.nan), np.array([0, 1, 0, 1]))
    clf = MLPRegressor(epochs=2).fit(np.ones((4, 2)), np.arange(4.0))
    with pytest.raises(xn.XpnetValueError, match="X has 3 features, but MLPRegressor is expecting 2"):
        clf.predict(np.ones((4, 3)))
