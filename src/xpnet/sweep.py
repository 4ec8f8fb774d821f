"""Hyperparameter sweeps: the course's "empirical process" as one call.

:func:`sweep` trains one network per configuration (a grid, or random draws) over learning
rates, hidden layer sizes, activations and initialisers, scores each on a validation set
and returns a :class:`SweepResult`: a list of dicts that prints as a table and draws its
learning curves to a PNG (matplotlib, the ``plot`` extra, imported only then).
"""

from __future__ import annotations

import itertools
import math
import warnings

from array_api_compat import array_namespace
from array_api_compat import device as _device

from ._validation import OUTPUT_ACTIVATIONS, check_positive, check_positive_int, holdout_size, output_kind
from .errors import TrainingDivergedError, XpnetTypeError, XpnetValueError
from .initializers import host_rng

__all__ = ["sweep", "SweepResult", "LogUniform"]

AXES = ("learning_rate", "hidden", "activation", "init")
_OVERFLOW = "(overflow|invalid value|divide by zero) encountered"


class LogUniform:
    """A range sampled on a log scale by random search: 10 ** uniform(log10 low, log10 high).

    The course's way to draw a learning rate (``r = -4 * rand(); alpha = 10 ** r``) is
    ``LogUniform(1e-4, 1.0)``.
    """

    def __init__(self, low: float, high: float):
        self.low, self.high = check_positive(low, "LogUniform low"), check_positive(high, "LogUniform high")
        if not self.low < self.high:
            raise XpnetValueError(f"LogUniform needs low < high, got low={low!r}, high={high!r}")

    def sample(self, rng) -> float:
        return 10.0 ** float(rng.uniform(math.log10(self.low), math.log10(self.high)))

    def __repr__(self):
        return f"LogUniform({self.low!r}, {self.high!r})"


class SweepResult(list):
    """One dict per configuration, best first (lowest validation cost; diverged runs last).

    Keys: ``learning_rate``, ``hidden``, ``activation``, ``init``, ``cost`` (final training
    cost), ``val_cost``, ``val_accuracy`` (classifiers), ``epochs`` (run) and ``diverged``.
    ``curves[i]`` holds configuration i's per-epoch ``cost`` and ``val_cost`` lists.
    """

    def __init__(self, rows=(), curves=()):
        super().__init__(rows)
        self.curves = list(curves)

    @property
    def best(self) -> dict:
        if not self:
            raise XpnetValueError("the sweep has no results")
        return self[0]

    def table(self) -> str:
        """The results as an aligned text table."""
        columns = ["learning_rate", "hidden", "activation", "init", "epochs", "cost", "val_cost", "val_accuracy"]
        columns = [c for c in columns if any(c in row for row in self)]

        def fmt(value):
            if isinstance(value, float):
                return f"{value:.4g}"
            if value is None:
                return "default"
            if isinstance(value, tuple):
                return "-".join(str(v) for v in value) or "()"
            return str(value)

        cells = [[fmt(row.get(c, "")) for c in columns] for row in self]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot(self, path, title="sweep"):
        """Save the sweep to a PNG: every configuration ranked by validation cost (bars) and
        the best five validation-cost curves (log scale); returns the path."""
        from .plot import plot_sweep

        return plot_sweep([_label(row) for row in self], [row["val_cost"] for row in self],
                          [curve["val_cost"] for curve in self.curves], path, title=title)


def _label(row) -> str:
    hidden = "-".join(str(n) for n in row["hidden"]) or "none"
    return f"lr={row['learning_rate']:.3g} h={hidden} {row['activation']} {row['init'] or 'default'}"


def _as_list(name, value):
    if isinstance(value, LogUniform):
        return value
    if isinstance(value, (list, tuple)) and not (name == "hidden" and value and isinstance(value[0], int)):
        values = list(value)
    else:
        values = [value]
    if not values:
        raise XpnetValueError(f"sweep {name} needs at least one value")
    return values


def _hidden(value):
    sizes = value if isinstance(value, (list, tuple)) else (value,)
    try:
        return tuple(check_positive_int(n, "layer size") for n in sizes)
    except XpnetValueError:
        raise XpnetValueError(f"sweep hidden must hold layer sizes such as (8,) or (16, 16), got {value!r}") from None


def _configs(space, search, n_trials, seed):
    if search == "grid":
        for name, values in space.items():
            if isinstance(values, LogUniform):
                raise XpnetValueError(f"sweep {name}={values!r} is a range: use search='random', or give a list")
        return [dict(zip(space, combo)) for combo in itertools.product(*space.values())]
    if search != "random":
        raise XpnetValueError(f"search must be 'grid' or 'random', got {search!r}")
    n_trials = check_positive_int(n_trials, "n_trials (search='random')")
    rng = host_rng([seed, 2])
    out = []
    for _ in range(n_trials):
        config = {}
        for name, values in space.items():
            config[name] = values.sample(rng) if isinstance(values, LogUniform) else values[int(rng.integers(len(values)))]
        out.append(config)
    return out


def _split(X, Y, fraction, seed):
    m = int(X.shape[1])
    n_val = holdout_size(m, fraction)
    # Shuffle before holding out: data sets are often sorted by class.
    perm = host_rng([seed, 3]).permutation(m)
    xp = array_namespace(X)
    idx = xp.asarray(perm, device=_device(X))
    Xs, Ys = xp.take(X, idx, axis=1), xp.take(Y, xp.asarray(perm, device=_device(Y)), axis=1)
    cut = m - n_val
    return Xs[:, :cut], Ys[:, :cut], (Xs[:, cut:], Ys[:, cut:])


def sweep(
    X,
    Y,
    *,
    learning_rate=(0.01,),
    hidden=((8,),),
    activation=("relu",),
    init=(None,),
    validation_data=None,
    validation_split=0.2,
    search="grid",
    n_trials=None,
    optimizer="gradient_descent",
    epochs=100,
    batch_size=None,
    loss=None,
    output_activation=None,
    backend=None,
    dtype="float32",
    seed=1,
    plot=None,
    verbose=False,
) -> SweepResult:
    """Train one network per configuration and compare them on a validation set.

    Parameters
    ----------
    X, Y : arrays, shapes (n_x, m) and (n_out, m)
        The training data in course layout.
    learning_rate : float, list of float or LogUniform
        Values to try (a :class:`LogUniform` range needs ``search="random"``).
    hidden : tuple of int, or list of them
        Hidden layer sizes: ``(8,)`` is one layer of 8; ``[(4,), (16, 16)]`` tries two nets.
    activation : str or list of str
        Hidden activation(s).
    init : str, None or list of them
        Initialiser(s) of the hidden layers (None: the activation's default).
    validation_data : (X_val, Y_val), optional
        The validation set; otherwise ``validation_split`` of the examples, drawn at random
        (from ``seed``) before training.
    search : {"grid", "random"}
        Every combination, or ``n_trials`` random draws (lists sampled uniformly).
    optimizer : str
        An optimiser name (``"gradient_descent"``, ``"momentum"``, ``"rmsprop"``, ``"adam"``);
        a fresh one per configuration, with that configuration's learning rate.
    epochs, batch_size, loss : passed to :meth:`Sequential.fit`.
    output_activation : str, optional
        Default: softmax for several output rows, sigmoid for 0/1 labels, linear otherwise.
    backend, dtype, seed : passed to :class:`Sequential`; every configuration starts from
        the same seed, so they differ only in what is swept.
    plot : str or path, optional
        Save a PNG: the configurations ranked by validation cost, and the best five
        curves (needs matplotlib, checked before the first run).
    verbose : bool
        Print one line per configuration.

    Returns
    -------
    SweepResult
        One dict per configuration, sorted by validation cost (diverged runs last).

    Examples
    --------
    >>> import xpnet as xn
    >>> from xpnet.data import planar_flower
    >>> X, Y = planar_flower(m=200, seed=1)
    >>> result = xn.sweep(X, Y, learning_rate=[0.1, 1.0], hidden=[(4,), (8,)], activation="tanh",
    ...                   epochs=20, backend="numpy", seed=1)
    >>> len(result), sorted(result.best)[:3]
    (4, ['activation', 'cost', 'diverged'])
    """
    from . import optim as _optim
    from .layers import Dense
    from .model import Sequential

    if plot is not None:
        from .plot import require_matplotlib

        require_matplotlib("sweep(plot=...)")  # before the runs, not after them
    if isinstance(optimizer, _optim.Optimizer):
        raise XpnetTypeError("sweep needs an optimizer name such as 'adam' (each configuration gets a fresh one)")
    space = {name: _as_list(name, value) for name, value in
             (("learning_rate", learning_rate), ("hidden", hidden), ("activation", activation), ("init", init))}
    if not isinstance(space["hidden"], LogUniform):
        space["hidden"] = [_hidden(h) for h in space["hidden"]]
    configs = _configs(space, search, n_trials, seed)
    if validation_data is not None:
        Xt, Yt, validation = X, Y, validation_data
    else:
        Xt, Yt, validation = _split(X, Y, validation_split, seed)
    out_activation = output_activation or OUTPUT_ACTIVATIONS[output_kind(Yt)]
    n_out = int(Yt.shape[0])
    rows, curves = [], []
    for config in configs:
        lr = config["learning_rate"]
        layers = [Dense(n, activation=config["activation"], init=config["init"]) for n in config["hidden"]]
        layers.append(Dense(n_out, activation=out_activation))
        net = Sequential(layers, input_size=int(Xt.shape[0]), backend=backend, dtype=dtype, seed=seed)
        row = {"learning_rate": float(lr), "hidden": config["hidden"], "activation": config["activation"],
               "init": config["init"]}
        try:
            with warnings.catch_warnings():
                # A diverging configuration is an expected outcome of a sweep, reported in its row;
                # the array library's overflow warnings on the way there are noise.
                warnings.filterwarnings("ignore", message=_OVERFLOW, category=RuntimeWarning)
                hist = net.fit(Xt, Yt, loss=loss, optimizer=_optim.get(optimizer, lr), epochs=epochs,
                               batch_size=batch_size, validation_data=validation)
            row.update(epochs=hist.epochs, cost=hist.costs[-1], diverged=False)
            row.update({k: v[-1] for k, v in hist.history.items() if k.startswith("val_")})
            curve = {"cost": list(hist.costs), "val_cost": list(hist.history["val_cost"])}
        except TrainingDivergedError:
            row.update(epochs=net.epochs_trained, cost=math.inf, val_cost=math.inf, diverged=True)
            curve = {"cost": [], "val_cost": []}
        if verbose:
            print(_label(row), f"val_cost {row['val_cost']:.4g}", "(diverged)" if row["diverged"] else "")
        rows.append(row)
        curves.append(curve)
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["diverged"], rows[i]["val_cost"]))
    result = SweepResult([rows[i] for i in order], [curves[i] for i in order])
    if plot is not None:
        result.plot(plot)
    return result

