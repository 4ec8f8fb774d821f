"""Datasets in course layout: X is (n_x, m), one example per column; Y is (1, m) or one-hot (k, m).

Two real datasets ship inside the package (``xpnet/datasets/``, copied once from
scikit-learn's data files; attribution in the README): the UCI handwritten digits (1,797
8x8 images, 64 features) and the Wisconsin diagnostic breast-cancer set (569 x 30). Loaders
for the course's cat/non-cat HDF5 files, ``.npz`` and ``.csv`` files give the same layout.

Every ``load_*`` returns a :class:`Dataset`: a seeded train/test split (unless the source
is already split), standardised with the training set's mean and standard deviation only,
so nothing about the test set leaks into training.
"""

from __future__ import annotations

import csv
import gzip
import os
import zipfile
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .._validation import holdout_size, is_integer, output_kind
from ..errors import XpnetTypeError, XpnetValueError

__all__ = [
    "Dataset",
    "planar_flower",
    "load_digits",
    "load_breast_cancer",
    "load_cat_hdf5",
    "load_npz",
    "load_csv",
    "load_dataset",
    "load_arrays",
    "train_test_split",
    "one_hot",
    "Standardizer",
    "DATASET_NAMES",
]

#: Names :func:`load_dataset` and ``xpnet train --data`` accept besides file paths.
DATASET_NAMES = ("digits", "digits:K", "breast_cancer", "flower")


@dataclass
class Standardizer:
    """x -> (x - mean) / std per feature (row), fitted on training data only.

    Features that are constant in the training set (std 0, e.g. the always-blank corner
    pixels of the digits) keep std 1, so they map to 0 instead of dividing by zero.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X_train) -> "Standardizer":
        X_train = np.asarray(X_train, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # context-local; overflow is checked below
            mean = X_train.mean(axis=1, keepdims=True)
            std = X_train.std(axis=1, keepdims=True)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
        if bad.size:
            k = int(bad[0])
            row = X_train[k]
            if not np.all(np.isfinite(row)):
                why = "contains NaN or infinite values; clean or impute them"
            else:
                why = (f"has values as large as {np.max(np.abs(row)):.3g}, so its standard deviation overflows; "
                       "rescale that feature (other units) or drop it")
            raise XpnetValueError(f"cannot standardise feature {k} (row {k} of X, {bad.size} such feature(s)): it {why}")
        std[std == 0.0] = 1.0
        return cls(mean, std)

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.mean.shape[0]:
            raise XpnetValueError(
                f"X must have {self.mean.shape[0]} rows (features) to be standardised like the training data, "
                f"got shape {X.shape}"
            )
        return (X - self.mean) / self.std

    def to_config(self) -> dict:
        return {"mean": self.mean[:, 0].tolist(), "std": self.std[:, 0].tolist()}

    @classmethod
    def from_config(cls, config: dict) -> "Standardizer":
        try:
            mean = np.asarray(config["mean"], dtype=np.float64).reshape(-1, 1)
            std = np.asarray(config["std"], dtype=np.float64).reshape(-1, 1)
        except (KeyError, TypeError, ValueError) as exc:
            raise XpnetValueError(f"a standardizer needs lists of numbers 'mean' and 'std': {exc!r}") from None
        if mean.shape != std.shape or not np.all(np.isfinite(mean)) or not np.all(np.isfinite(std)) or np.any(std <= 0):
            raise XpnetValueError(
                f"a standardizer needs 'mean' and 'std' of equal length, finite, std > 0; "
                f"got {mean.shape[0]} means and {std.shape[0]} stds"
            )
        return cls(mean, std)


@dataclass
class Dataset:
    """A train/test split in course layout; unpacks as ``X_train, Y_train, X_test, Y_test``.

    Attributes
    ----------
    X_train, X_test : ndarray, shape (n_x, m_train), (n_x, m_test)
    Y_train, Y_test : ndarray, shape (1, m) of 0/1, (k, m) one-hot, or (1, m) values
    classes : list of str
        Class names (index i is class i); empty for regression targets.
    name : str
    standardizer : Standardizer or None
        The statistics the features were standardised with (None when not standardised).
    """

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    classes: list = field(default_factory=list)
    name: str = ""
    standardizer: Standardizer | None = None

    def __iter__(self):
        return iter((self.X_train, self.Y_train, self.X_test, self.Y_test))

    @property
    def task(self) -> str:
        """``"binary"``, ``"multiclass"`` or ``"regression"``: decides the output layer."""
        return output_kind(self.Y_train, self.classes)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, X_train {self.X_train.shape}, Y_train {self.Y_train.shape}, "
            f"X_test {self.X_test.shape}, Y_test {self.Y_test.shape}, classes={self.classes})"
        )


# -- helpers -----------------------------------------------------------------------------------
def one_hot(labels, k: int | None = None) -> np.ndarray:
    """Integer class labels -> one-hot columns ``(k, m)``, the layout a softmax output trains on.

    Parameters
    ----------
    labels : array_like of int, shape (m,) or (1, m); (m, T) or (1, m, T) for sequences
        Class indices 0..k-1, one per example (and time step).
    k : int, optional
        The number of classes (default: the largest label + 1).

    Returns
    -------
    numpy.ndarray, shape (k, m) or (k, m, T)
        Column j is 1 in row ``labels[j]`` and 0 elsewhere (float64).

    Raises
    ------
    XpnetValueError
        A label is negative or not a whole number.

    Examples
    --------
    >>> from xpnet.data import one_hot
    >>> one_hot([2, 0, 1])
    array([[0., 1., 0.],
           [0., 0., 1.],
           [1., 0., 0.]])
    """
    labels = np.asarray(labels)
    # (1, m[, T]) is a row of labels, as Y is laid out: the leading 1 is not a class axis.
    shape = labels.shape[1:] if labels.ndim >= 2 and labels.shape[0] == 1 else labels.shape
    labels = labels.reshape(-1)
    if labels.size and (labels.min() < 0 or not np.all(labels == np.round(labels))):
        raise XpnetValueError("one_hot needs non-negative integer labels")
    labels = labels.astype(np.int64)
    k = int(labels.max()) + 1 if k is None else k
    Y = np.zeros((k, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y.reshape((k, *shape))


def train_test_split(X, Y, test_size: float = 0.2, seed: int = 0):
    """Shuffle the columns with ``seed`` and hold out ``test_size`` of them: X_tr, Y_tr, X_te, Y_te."""
    m = X.shape[1]
    if Y.shape[1] != m:
        raise XpnetValueError(f"X has m = {m} examples (columns) but Y has {Y.shape[1]}")
    n_test = holdout_size(m, test_size, "test_size", "test")
    order = np.random.default_rng(seed).permutation(m)
    test, train = order[:n_test], order[n_test:]
    return X[:, train], Y[:, train], X[:, test], Y[:, test]


def _encode_labels(y, source: str):
    """1-D labels -> (Y, classes): two classes give (1, m) of 0/1, more give one-hot (k, m).

    Non-integer numeric labels are a regression target (1, m) with no classes.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        values, index = np.unique(y.astype(str), return_inverse=True)
        classes = [str(v) for v in values]
    else:
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise XpnetValueError(f"{source}: the labels contain NaN or infinite values")
        if not np.all(y == np.round(y)):
            return y.reshape(1, -1), []
        values, index = np.unique(y, return_inverse=True)
        classes = [str(int(v)) for v in values]
    if len(classes) < 2:
        raise XpnetValueError(f"{source}: the labels have a single class {classes}; a classifier needs two or more")
    if len(classes) == 2:
        return index.reshape(1, -1).astype(np.float64), classes
    return one_hot(index, len(classes)), classes


def _finish(name, X_train, Y_train, X_test, Y_test, classes, standardize) -> Dataset:
    standardizer = None
    if standardize:
        standardizer = Standardizer.fit(X_train)
        X_train, X_test = standardizer.transform(X_train), standardizer.transform(X_test)
    return Dataset(
        np.ascontiguousarray(X_train, dtype=np.float64), np.ascontiguousarray(Y_train, dtype=np.float64),
        np.ascontiguousarray(X_test, dtype=np.float64), np.ascontiguousarray(Y_test, dtype=np.float64),
        list(classes), name, standardizer,
    )


def _check_file(path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise XpnetValueError(f"data file {path!r} does not exist (or is not a file)")
    return path


# -- the embedded datasets ---------------------------------------------------------------------
def _package_file(name: str):
    return resources.files("xpnet").joinpath("datasets", name)


def _digits_raw():
    with _package_file("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :64].T, data[:, 64].astype(np.int64)  # X (64, 1797) of 0..16; labels (1797,)


def _check_digit(digit):
    if digit is not None and (not is_integer(digit) or not 0 <= digit <= 9):
        raise XpnetValueError(f"digit must be an int 0..9 (binary 'is it a k?') or None (10 classes), got {digit!r}")


def load_digits(digit: int | None = None, test_size: float = 0.2, seed: int = 0, standardize: bool = True) -> Dataset:
    """The UCI handwritten digits: 1,797 8x8 images (64 features, 0..16), 10 classes.

    Parameters
    ----------
    digit : int, optional
        None: 10 classes, Y one-hot (10, m). An int k: the binary task "is it a k?",
        Y (1, m) of 0/1 (classes ``["not k", "k"]``).
    test_size : float
        Fraction of the examples held out as the test set.
    seed : int
        Seed of the shuffle before the split.
    standardize : bool
        Standardise every pixel with the training set's mean and std.

    Examples
    --------
    >>> from xpnet.data import load_digits
    >>> X_train, Y_train, X_test, Y_test = load_digits()
    >>> X_train.shape, Y_train.shape, X_test.shape
    ((64, 1438), (10, 1438), (64, 359))
    """
    _check_digit(digit)
    X, labels = _digits_raw()
    if digit is None:
        Y, classes, name = one_hot(labels, 10), [str(d) for d in range(10)], "digits"
    else:
        Y, classes, name = (labels == digit).astype(np.float64).reshape(1, -1), [f"not {digit}", str(digit)], f"digits:{digit}"
    return _finish(name, *train_test_split(X, Y, test_size, seed), classes, standardize)


def _breast_cancer_raw():
    with _package_file("breast_cancer.csv").open("r") as f:
        next(f)  # "569,30,malignant,benign": sizes and class names
        data = np.loadtxt(f, delimiter=",")
    return data[:, :30].T, data[:, 30]


def load_breast_cancer(test_size: float = 0.2, seed: int = 0, standardize: bool = True) -> Dataset:
    """The Wisconsin diagnostic breast-cancer set: 569 examples x 30 features, Y (1, m).

    Y is 1 for benign and 0 for malignant (the original coding; classes
    ``["malignant", "benign"]``). Other parameters as in :func:`load_digits`.
    """
    X, y = _breast_cancer_raw()
    return _finish("breast_cancer", *train_test_split(X, y.reshape(1, -1), test_size, seed),
                   ["malignant", "benign"], standardize)


def planar_flower(m: int = 400, seed: int = 1, noise: float = 0.2):
    """The course's planar "flower": two classes of points on the petals of a rose curve.

    Parameters
    ----------
    m : int
        Number of examples (half per class).
    seed : int
        Seed of the generator, so the same call always gives the same data.
    noise : float
        Standard deviation of the angular and radial noise.

    Returns
    -------
    X : ndarray, shape (2, m)
    Y : ndarray, shape (1, m), values 0.0 / 1.0
    """
    rng = np.random.default_rng(seed)
    half = m // 2
    X = np.zeros((2, 2 * half))
    Y = np.zeros((1, 2 * half))
    petals = 4.0
    for j in range(2):
        cols = slice(half * j, half * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, half) + rng.standard_normal(half) * noise
        r = petals * np.sin(4 * t) + rng.standard_normal(half) * noise
        X[0, cols], X[1, cols] = r * np.sin(t), r * np.cos(t)
        Y[0, cols] = j
    return X, Y


# -- files ---------------------------------------------------------------------------------------
_CAT_KEYS = ("train_set_x", "train_set_y", "test_set_x", "test_set_y")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise XpnetValueError("reading HDF5 files needs h5py: pip install 'xpnet[hdf5]'") from None
    return h5py


def _cat_arrays(f, prefix, path):
    try:
        images = np.asarray(f[f"{prefix}_set_x"][()])
        labels = np.asarray(f[f"{prefix}_set_y"][()])
    except KeyError:
        raise XpnetValueError(
            f"{path!r} has no '{prefix}_set_x'/'{prefix}_set_y'; the course's cat files hold the keys "
            f"{', '.join(_CAT_KEYS)} and list_classes (found: {', '.join(sorted(f.keys()))})"
        ) from None
    if images.ndim < 2 or labels.reshape(-1).shape[0] != images.shape[0]:
        raise XpnetValueError(
            f"{path!r}: {prefix}_set_x has shape {images.shape} and {prefix}_set_y {labels.shape}; "
            "expected (m, height, width, channels) images and m labels"
        )
    X = images.reshape(images.shape[0], -1).T / 255.0  # unrolled to (64*64*3, m) = (12288, m), in [0, 1]
    return X, labels.reshape(1, -1).astype(np.float64)


def load_cat_hdf5(train_path, test_path=None, standardize: bool = False) -> Dataset:
    """The course's cat/non-cat images from HDF5 (``train_catvnoncat.h5``, ``test_catvnoncat.h5``).

    Images (m, 64, 64, 3) of 0..255 are unrolled to X (12288, m) and scaled to [0, 1];
    labels become Y (1, m). ``train_path`` holds ``train_set_x``/``train_set_y`` (and
    ``list_classes``); the test set comes from ``test_path`` or, if None, the same file.
    Needs h5py (``pip install 'xpnet[hdf5]'``).
    """
    h5py = _h5py()
    train_path = _check_file(train_path)
    test_path = train_path if test_path is None else _check_file(test_path)
    try:
        with h5py.File(train_path, "r") as f:
            X_train, Y_train = _cat_arrays(f, "train", train_path)
            classes = [c.decode() if isinstance(c, bytes) else str(c) for c in f["list_classes"][()]] \
                if "list_classes" in f else ["non-cat", "cat"]
        with h5py.File(test_path, "r") as f:
            X_test, Y_test = _cat_arrays(f, "test", test_path)
    except OSError as exc:
        raise XpnetValueError(f"cannot read HDF5 data {train_path!r}: {exc}") from None
    return _finish("cat", X_train, Y_train, X_test, Y_test, classes, standardize)


def _targets(Y, source):
    Y = np.asarray(Y)
    if Y.ndim == 1 or (Y.ndim == 2 and Y.shape[0] == 1 and Y.dtype.kind in "iub"):
        return _encode_labels(Y.reshape(-1), source)
    if Y.ndim != 2:
        raise XpnetValueError(f"{source}: Y must be 1-D labels or 2-D (k, m), got shape {Y.shape}")
    Y = Y.astype(np.float64)
    if Y.shape[0] == 1:
        values = np.unique(Y)
        return Y, (["0", "1"] if set(values.tolist()) <= {0.0, 1.0} else [])
    return Y, [str(i) for i in range(Y.shape[0])]


def load_npz(path, test_size: float = 0.2, seed: int = 0, standardize: bool = True) -> Dataset:
    """A ``.npz`` file in course layout (read with ``allow_pickle=False``).

    Keys ``X`` (n_x, m) and ``Y`` ((1, m), (k, m) or 1-D labels) are split with ``test_size``
    and ``seed``; or ``X_train``, ``Y_train``, ``X_test``, ``Y_test`` are used as given.
    """
    path = _check_file(path)
    try:
        with open(path, "rb") as fh:
            # np.load guesses the format from the content, and calls anything else a pickle.
            if not zipfile.is_zipfile(fh):
                raise XpnetValueError(f"cannot read {path!r}: not a .npz archive (a ZIP of arrays, as np.savez writes)")
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
    except XpnetValueError:
        raise
    except Exception as exc:  # zipfile, numpy's .npy parser, pickled members: all mean "not usable data"
        raise XpnetValueError(f"cannot read {path!r} as a .npz file of numeric arrays: {exc}") from None
    name = os.path.basename(path)
    if {"X_train", "Y_train", "X_test", "Y_test"} <= arrays.keys():
        # Encode train and test labels together, so both use one class -> index mapping.
        y_tr, y_te = np.asarray(arrays["Y_train"]), np.asarray(arrays["Y_test"])
        if y_tr.ndim != y_te.ndim or (y_tr.ndim == 2 and y_tr.shape[0] != y_te.shape[0]):
            raise XpnetValueError(f"{path!r}: Y_train {y_tr.shape} and Y_test {y_te.shape} have different layouts")
        m_train = y_tr.shape[-1]
        Y, classes = _targets(np.concatenate([y_tr, y_te], axis=-1), path)
        Y_train, Y_test = Y[:, :m_train], Y[:, m_train:]
        return _finish(name, _features(arrays["X_train"], path), Y_train, _features(arrays["X_test"], path),
                       Y_test, classes, standardize)
    if {"X", "Y"} <= arrays.keys():
        Y, classes = _targets(arrays["Y"], path)
        return _finish(name, *train_test_split(_features(arrays["X"], path), Y, test_size, seed), classes, standardize)
    raise XpnetValueError(
        f"{path!r} must hold arrays X and Y (or X_train, Y_train, X_test, Y_test); found {sorted(arrays)}"
    )


def _features(X, source):
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise XpnetValueError(f"{source}: X must be a 2-D numeric array (n_x, m), got {X.dtype} shape {X.shape}")
    return X.astype(np.float64)


def _label_index(header, label_column, path):
    """The label column's index: an int (negative counts from the end) or a header name."""
    width = len(header)
    if isinstance(label_column, str):
        names = [h.strip() for h in header]
        if label_column.strip() not in names:
            raise XpnetValueError(
                f"{path!r} has no column named {label_column!r}; its columns are: {', '.join(names)}"
            )
        return names.index(label_column.strip())
    if isinstance(label_column, bool) or not isinstance(label_column, int):
        raise XpnetTypeError(f"label_column must be a column index or a header name, got {label_column!r}")
    if not -width <= label_column < width:
        raise XpnetValueError(f"label_column={label_column} is out of range for {width} columns in {path!r}")
    return label_column % width


def _read_csv(path, label_column):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise XpnetValueError(f"{path!r} is not a text CSV file (binary data?): {exc}") from None
    if not rows:
        raise XpnetValueError(f"{path!r} is empty")

    def numeric(row):
        try:
            [float(v) for v in row]
            return True
        except ValueError:
            return False

    header = None
    if isinstance(label_column, str) or not numeric([v for i, v in enumerate(rows[0])
                                                     if i != label_column % len(rows[0])]):
        header, rows = rows[0], rows[1:]  # a header line
    width = len(rows[0]) if rows else len(header or ())
    if width < 2:
        raise XpnetValueError(f"{path!r} needs at least one feature column and one label column")
    col = _label_index(header or [str(i) for i in range(width)], label_column, path)
    X, y = [], []
    for n, row in enumerate(rows, start=1):
        if len(row) != width:
            raise XpnetValueError(f"{path!r}: row {n} has {len(row)} fields, expected {width}")
        try:
            X.append([float(v) for i, v in enumerate(row) if i != col])
        except ValueError as exc:
            raise XpnetValueError(f"{path!r}: row {n} has a non-numeric feature ({exc})") from None
        y.append(row[col])
    try:
        labels = np.asarray([float(v) for v in y])
    except ValueError:
        labels = np.asarray(y)
    return np.asarray(X).T, labels


def load_csv(path, label_column: int = -1, test_size: float = 0.2, seed: int = 0, standardize: bool = True) -> Dataset:
    """A CSV file with one example per ROW (the usual spreadsheet layout), transposed to (n_x, m).

    One column holds the labels: ``label_column`` is its index (the last, -1, by default) or
    its name in the header line. Two distinct values give Y (1, m) of 0/1 (sorted values map
    to 0 and 1), more give one-hot (k, m); non-integer numbers are a regression target. A
    first line that is not numeric is taken as a header.
    """
    path = _check_file(path)
    X, labels = _read_csv(path, label_column)
    Y, classes = _encode_labels(labels, path)
    return _finish(os.path.basename(path), *train_test_split(X, Y, test_size, seed), classes, standardize)


def _parse_name(spec: str):
    key = spec.strip().lower().replace("-", "_")
    if key == "digits":
        return "digits", None
    if key.startswith("digits:") or key.startswith("digits_"):
        tail = key.split(":", 1)[-1] if ":" in key else key.split("_", 1)[-1]
        if tail.isdigit() and 0 <= int(tail) <= 9:
            return "digits", int(tail)
        raise XpnetValueError(f"dataset {spec!r}: write digits:K with K a digit 0..9 for 'is it a K?'")
    if key in ("breast_cancer", "cancer"):
        return "breast_cancer", None
    if key in ("flower", "planar_flower", "planar"):
        return "flower", None
    return None, None


def load_dataset(spec, test_size: float = 0.2, seed: int = 0, standardize: bool = True, target=None) -> Dataset:
    """A dataset by name or path: ``"digits"`` (10 classes), ``"digits:3"`` (is it a 3?),
    ``"breast_cancer"``, ``"flower"``, or a ``.npz``, ``.csv`` or ``.h5``/``.hdf5`` file.

    ``target`` names a CSV file's label column (its header name or index; default the last).
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise XpnetTypeError(f"data must be a dataset name or a file path, got {type(spec).__name__}")
    spec = os.fspath(spec)
    if target is not None and os.path.splitext(spec)[1].lower() not in (".csv", ".txt"):
        raise XpnetValueError(f"target= names a column of a .csv file; {spec!r} is not one")
    name, arg = _parse_name(spec)
    if name == "digits":
        return load_digits(arg, test_size, seed, standardize)
    if name == "breast_cancer":
        return load_breast_cancer(test_size, seed, standardize)
    if name == "flower":
        X, Y = planar_flower(m=400, seed=1)
        return _finish("flower", *train_test_split(X, Y, test_size, seed), ["red", "blue"], standardize)
    ext = os.path.splitext(spec)[1].lower()
    if ext == ".npz":
        return load_npz(spec, test_size, seed, standardize)
    if ext in (".csv", ".txt"):
        return load_csv(spec, -1 if target is None else target, test_size=test_size, seed=seed,
                        standardize=standardize)
    if ext in (".h5", ".hdf5"):
        return load_cat_hdf5(spec, standardize=standardize)
    raise XpnetValueError(
        f"unknown dataset {spec!r}: give one of {', '.join(DATASET_NAMES)} (K = 0..9) "
        "or a path ending in .npz, .csv, .h5 or .hdf5"
    )


def load_arrays(spec, target=None):
    """Every example of a dataset, unsplit and unstandardised: ``(X, Y, classes)``.

    A CSV file comes in file order (example i is row i); for an HDF5 cat file: its test
    set. What ``xpnet predict`` reads.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise XpnetTypeError(f"data must be a dataset name or a file path, got {type(spec).__name__}")
    spec = os.fspath(spec)
    name, _ = _parse_name(spec)
    if os.path.splitext(spec)[1].lower() in (".csv", ".txt") and name is None:
        path = _check_file(spec)
        X, labels = _read_csv(path, -1 if target is None else target)
        Y, classes = _encode_labels(labels, path)
        return X, Y, classes
    if os.path.splitext(spec)[1].lower() in (".h5", ".hdf5") and name is None:
        ds = load_cat_hdf5(spec)
        return ds.X_test, ds.Y_test, ds.classes
    ds = load_dataset(spec, standardize=False)
    X = np.concatenate([ds.X_train, ds.X_test], axis=1)
    Y = np.concatenate([ds.Y_train, ds.Y_test], axis=1)
    return X, Y, ds.classes
