"""Course-style plots (matplotlib, from the ``plot`` extra): the learning curve."""

from __future__ import annotations

import os

__all__ = ["plot_learning_curve", "matplotlib_missing_note"]


def matplotlib_missing_note(what: str = "the learning-curve PNG") -> str:
    return f"note: matplotlib is not installed, so {what} was not drawn; pip install 'xpnet[plot]' to get it"


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
    # The object API with the Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    epochs = range(1, len(costs) + 1)
    ax.plot(epochs, list(costs), label="training cost")
    if val_costs:
        ax.plot(range(1, len(val_costs) + 1), list(val_costs), label="test cost", linestyle="--")
        ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cost")
    ax.set_title(title or "Learning curve")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    return os.fspath(path)
