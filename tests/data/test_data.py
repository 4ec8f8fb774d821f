"""xpnet.data: shipped datasets, file loaders, split and standardisation, in course layout."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet as xn
from xpnet import data


def test_digits_ten_classes_in_course_layout():
    ds = data.load_digits()
    assert ds.X_train.shape == (64, 1438) and ds.X_test.shape == (64, 359)
    assert ds.Y_train.shape == (10, 1438) and ds.Y_test.shape == (10, 359)
    assert ds.classes == [str(d) for d in range(10)] and ds.task == "multiclass"
    # one-hot: every column has exactly one 1; all ten classes appear in both sets
    for Y in (ds.Y_train, ds.Y_test):
        assert set(np.unique(Y)) == {0.0, 1.0}
        np.testing.assert_array_equal(Y.sum(axis=0), 1.0)
        assert (Y.sum(axis=1) > 0).all()
    X, Y, _ = data.load_arrays("digits")
    assert X.shape == (64, 1797) and X.min() == 0 and X.max() == 16  # raw 8x8 pixel counts


def test_digits_binary_is_it_a_k():
    ds = data.load_digits(digit=3, standardize=False)
    raw = data.load_digits(standardize=False)
    assert ds.Y_train.shape == (1, 1438) and ds.classes == ["not 3", "3"] and ds.task == "binary"
    # the same split: label 1 exactly where the 10-class label is 3
    np.testing.assert_array_equal(ds.X_train, raw.X_train)
    np.testing.assert_array_equal(ds.Y_train[0, ...], raw.Y_train[3, ...])
    assert 0.05 < ds.Y_train.mean() < 0.15


def test_breast_cancer_binary():
    ds = data.load_breast_cancer()
    assert ds.X_train.shape == (30, 455) and ds.Y_test.shape == (1, 114)
    assert ds.classes == ["malignant", "benign"]
    X, Y, _ = data.load_arrays("breast_cancer")
    assert X.shape == (30, 569) and int(Y.sum()) == 357  # 357 benign, 212 malignant


def test_split_is_seeded_disjoint_and_complete():
    a, b, c = data.load_digits(seed=5, standardize=False), data.load_digits(seed=5, standardize=False), \
        data.load_digits(seed=6, standardize=False)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X_test, c.X_test)
    X = np.arange(20.0).reshape(1, 20)
    Xtr, Ytr, Xte, Yte = data.train_test_split(X, X * 2, test_size=0.25, seed=0)
    assert Xte.shape == (1, 5) and sorted(np.concatenate([Xtr, Xte], axis=1)[0].tolist()) == X[0].tolist()
    np.testing.assert_array_equal(Ytr, Xtr * 2)  # columns stay paired


def test_standardisation_is_fitted_on_the_training_set_only():
    raw = data.load_breast_cancer(standardize=False)
    ds = data.load_breast_cancer()
    mean, std = raw.X_train.mean(axis=1, keepdims=True), raw.X_train.std(axis=1, keepdims=True)
    np.testing.assert_allclose(ds.X_train, (raw.X_train - mean) / std)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - mean) / std)  # the TRAIN statistics, not the test's
    assert np.abs(ds.X_test.mean(axis=1)).max() > 1e-3
    # constant features (blank corner pixels) map to 0 instead of dividing by zero
    digits = data.load_digits()
    assert np.isfinite(digits.X_train).all() and (digits.X_train[0, ...] == 0).all()
    restored = data.Standardizer.from_config(ds.standardizer.to_config())
    np.testing.assert_allclose(restored.transform(raw.X_test), ds.X_test)


def test_flower_by_name_and_generator():
    X, Y = data.planar_flower(m=400, seed=1)
    assert X.shape == (2, 400) and Y.shape == (1, 400)
    assert data.load_dataset("flower").X_train.shape == (2, 320)
    assert xn.data is data


def _cat_file(path, m_train=6, m_test=4, both=True):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["train_set_x"] = rng.integers(0, 256, size=(m_train, 64, 64, 3), dtype=np.uint8)
        f["train_set_y"] = np.array([0, 1] * (m_train // 2), dtype=np.int64)
        if both:
            f["test_set_x"] = rng.integers(0, 256, size=(m_test, 64, 64, 3), dtype=np.uint8)
            f["test_set_y"] = np.array([1, 0] * (m_test // 2), dtype=np.int64)
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    return path


def test_cat_hdf5_loader_unrolls_and_scales(tmp_path):
    path = _cat_file(tmp_path / "cats.h5")
    import h5py

    with h5py.File(path, "r") as f:
        first = f["train_set_x"][0]
    ds = data.load_cat_hdf5(path)
    assert ds.X_train.shape == (12288, 6) and ds.X_test.shape == (12288, 4)
    assert ds.Y_train.shape == (1, 6) and ds.classes == ["non-cat", "cat"]
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0
    np.testing.assert_allclose(ds.X_train[:, 0], first.reshape(-1) / 255.0)  # the course's unrolling
    assert data.load_dataset(str(path)).X_train.shape == (12288, 6)


def test_cat_hdf5_two_files_and_missing_keys(tmp_path):
    train = _cat_file(tmp_path / "train.h5", both=False)
    with pytest.raises(xn.XpnetValueError, match="test_set_x"):
        data.load_cat_hdf5(train)
    test = _cat_file(tmp_path / "test.h5")
    assert data.load_cat_hdf5(train, test).X_test.shape == (12288, 4)


def test_npz_loader_both_layouts(tmp_path):
    rng = np.random.default_rng(1)
    X, labels = rng.normal(size=(3, 50)), rng.integers(0, 3, size=50)
    np.savez(tmp_path / "a.npz", X=X, Y=labels)
    ds = data.load_npz(tmp_path / "a.npz", test_size=0.2, standardize=False)
    assert ds.Y_train.shape == (3, 40) and ds.task == "multiclass"
    np.savez(tmp_path / "b.npz", X_train=X[:, :40], Y_train=(labels[:40] > 0) * 1.0,
             X_test=X[:, 40:], Y_test=(labels[40:] > 0) * 1.0)
    ds = data.load_dataset(tmp_path / "b.npz", standardize=False)
    np.testing.assert_array_equal(ds.X_test, X[:, 40:])
    assert ds.Y_train.shape == (1, 40) and ds.task == "binary"
    np.savez(tmp_path / "c.npz", features=X)
    with pytest.raises(xn.XpnetValueError, match="must hold arrays X and Y"):
        data.load_npz(tmp_path / "c.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    (tmp_path / "obj.npz").write_bytes((tmp_path / "obj.npy").read_bytes())
    with pytest.raises(xn.XpnetValueError, match="cannot read"):
        data.load_npz(tmp_path / "obj.npz")


def test_csv_loader_rows_are_examples(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("a,b,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n7,8,versicolor\n9,10,setosa\n")
    ds = data.load_csv(path, test_size=0.4, standardize=False)
    assert ds.X_train.shape == (2, 3) and ds.Y_train.shape == (3, 3)
    assert ds.classes == ["setosa", "versicolor", "virginica"]
    binary = tmp_path / "b.csv"
    binary.write_text("0.5,1\n0.1,0\n0.7,1\n0.2,0\n")
    ds = data.load_dataset(binary, test_size=0.5, standardize=False)
    assert ds.Y_train.shape == (1, 2) and ds.classes == ["0", "1"]
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,0\n3,x,1\n")
    with pytest.raises(xn.XpnetValueError, match="row 2 has a non-numeric feature"):
        data.load_csv(bad)


@pytest.mark.parametrize("call, match", [
    (lambda: data.load_dataset("mnist"), "unknown dataset 'mnist'"),
    (lambda: data.load_dataset("digits:12"), "digits:K"),
    (lambda: data.load_digits(digit=10), "digit must be an int 0..9"),
    (lambda: data.load_digits(test_size=1.5), "test_size must be a float in"),
    (lambda: data.load_dataset("/nonexistent/x.npz"), "does not exist"),
    (lambda: data.load_dataset(3), "dataset name or a file path"),
])
def test_bad_data_arguments_raise_clear_errors(call, match):
    with pytest.raises(xn.XpnetError, match=match):
        call()


def test_hdf5_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    import sys

    (tmp_path / "x.h5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(xn.XpnetValueError, match=r"pip install 'xpnet\[hdf5\]'"):
        data.load_cat_hdf5(tmp_path / "x.h5")
