"""Course-style plots (matplotlib, from the ``plot`` extra): learning curves and comparisons.

Everything is drawn with matplotlib's object API on the Agg canvas: no pyplot global
state, no display needed, nothing left open.
"""

from __future__ import annotations

import os

__all__ = ["plot_curves", "plot_learning_curve", "matplotlib_missing_note"]


def matplotlib_missing_note(what: str = "the learning-curve PNG") -> str:
    return f"note: matplotlib is not installed, so {what} was not drawn; pip install 'xpnet[plot]' to get it"


def _figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'xpnet[plot]'") from exc
    fig = Figure(figsize=(7, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_curves(curves, path, *, title, xlabel="epoch", ylabel="cost", log_y=False, styles=None):
    """Save several curves on one set of axes as a PNG; returns the path.

    Parameters
    ----------
    curves : dict of str to sequence of float
        Label -> values; values[i] is drawn at x = i + 1 (epoch or layer numbers).
        Non-finite values (a diverged run) end that curve.
    path : str or PathLike
        The PNG to write (its folder is created).
    title, xlabel, ylabel : str
        The course always labels both axes.
    log_y : bool
        Logarithmic y axis (costs over orders of magnitude, gradient norms).
    styles : dict of str to dict, optional
        Extra matplotlib line arguments per label (``{"after": {"linestyle": "--"}}``).
    """
    import math

    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, values in curves.items():
        values = list(values)
        finite = next((i for i, v in enumerate(values) if not math.isfinite(v) or (log_y and v <= 0)), len(values))
        values = values[:finite]
        ax.plot(range(1, len(values) + 1), values, label=label, **(styles or {}).get(label, {}))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = os.fspath(path)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    return path


def plot_learning_curve(costs, path, title=None, val_costs=None, xlabel="epoch"):
    """Save the cost per epoch as a PNG, as the course plots it (cost on y, epochs on x).

    Parameters
    ----------
    costs : sequence of float
        ``History.costs``.
    path : str or PathLike
        The PNG to write.
    title : str, optional
        E.g. ``"Learning rate = 0.01"`` (the course's title).
    val_costs : sequence of float, optional
        Drawn as a second curve when given.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'xpnet[plot]'``).
    """
    curves = {"training cost": costs}
    if val_costs:
        curves["test cost"] = val_costs
    return plot_curves(curves, path, title=title or "Learning curve", xlabel=xlabel,
                       styles={"test cost": {"linestyle": "--"}})
