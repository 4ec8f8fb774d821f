"""Course-style plots (matplotlib, from the ``plot`` extra): learning curves and comparisons.

Everything is drawn with matplotlib's object API on the Agg canvas: no pyplot global
state, no display needed, nothing left open.
"""

from __future__ import annotations

import os

__all__ = ["plot_curves", "plot_learning_curve", "plot_sweep", "plot_panels", "matplotlib_missing_note", "require_matplotlib"]


def matplotlib_missing_note(what: str = "the learning-curve PNG") -> str:
    return f"note: matplotlib is not installed, so {what} was not drawn; pip install 'xpnet[plot]' to get it"


def require_matplotlib(what: str = "plotting") -> None:
    """Raise ImportError now, before any work whose result would then be lost, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{what} needs matplotlib: pip install 'xpnet[plot]'") from exc


def _figure(size=(7, 4.5)):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    return path


def _finite_prefix(values, log_y=False):
    import math

    values = list(values)
    end = next((i for i, v in enumerate(values) if not math.isfinite(v) or (log_y and v <= 0)), len(values))
    return values[:end]


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
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    _draw_curves(ax, curves, xlabel=xlabel, ylabel=ylabel, log_y=log_y, styles=styles)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _draw_curves(ax, curves, *, xlabel, ylabel, log_y=False, styles=None):
    for label, values in curves.items():
        values = _finite_prefix(values, log_y)
        ax.plot(range(1, len(values) + 1), values, label=label, **(styles or {}).get(label, {}))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)


def plot_learning_curve(costs, path, title=None, val_costs=None, xlabel="epoch", *,
                        train_label="training cost (mean over each epoch's mini-batches, before each update)",
                        val_label="test cost (after each epoch)", accuracy=None, val_accuracy=None):
    """Save the cost per epoch as a PNG, as the course plots it (cost on y, epochs on x).

    The two costs of :class:`~xpnet.History` are measured differently: ``costs[i]`` is the
    mean of epoch i's mini-batch costs, each before its update (with dropout on), while
    ``val_cost`` is measured on the whole validation set after the epoch. The legend says
    which is which; pass costs measured the same way (what ``xpnet train`` does) and say so
    with ``train_label``.

    Parameters
    ----------
    costs : sequence of float
        ``History.costs`` (or the training set's cost after each epoch).
    path : str or PathLike
        The PNG to write.
    title : str, optional
        E.g. ``"Learning rate = 0.01"`` (the course's title).
    val_costs : sequence of float, optional
        Drawn as a second, dashed curve when given.
    xlabel : str
        The x axis (epochs, or iterations).
    train_label, val_label : str
        Legend entries: what each curve measures.
    accuracy, val_accuracy : sequence of float, optional
        Fractions correct per epoch: drawn in a second panel when either is given.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'xpnet[plot]'``).
    """
    curves = {train_label: costs}
    if val_costs:
        curves[val_label] = val_costs
    styles = {val_label: {"linestyle": "--"}}
    accuracies = {label.replace("cost", "accuracy"): [100.0 * a for a in values]
                  for label, values in ((train_label, accuracy), (val_label, val_accuracy)) if values}
    if not accuracies:
        return plot_curves(curves, path, title=title or "Learning curve", xlabel=xlabel, styles=styles)
    fig = _figure((11, 4.5))
    ax_cost, ax_acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _draw_curves(ax_cost, curves, xlabel=xlabel, ylabel="cost", styles=styles)
    ax_cost.set_title("cost")
    styles = {val_label.replace("cost", "accuracy"): {"linestyle": "--"}}
    _draw_curves(ax_acc, accuracies, xlabel=xlabel, ylabel="accuracy (%)", styles=styles)
    ax_acc.set_title("accuracy")
    fig.suptitle(title or "Learning curve")
    fig.tight_layout()
    return _save(fig, path)


def plot_sweep(labels, final, curves, path, *, title="sweep", metric="validation cost", top=5):
    """A sweep as two panels: every configuration ranked (bars), the best ``top`` learning curves.

    Readable at any number of configurations: the bar chart grows one row per configuration
    (diverged runs last, marked), and only the best few curves share the curve panel.

    Parameters
    ----------
    labels : sequence of str
        One label per configuration, best first.
    final : sequence of float
        The final ``metric`` of each configuration (inf for a diverged run).
    curves : sequence of sequence of float
        The ``metric`` per epoch of each configuration.
    path : str or PathLike
        The PNG to write.
    title, metric : str
        The figure's title and what ``final`` and ``curves`` measure.
    top : int
        How many of the best configurations get a curve.

    Returns
    -------
    str
        The path written.
    """
    import math

    n = len(labels)
    fig = _figure((12, max(4.5, 1.6 + 0.27 * n)))
    grid = fig.add_gridspec(1, 2, width_ratios=[1.1, 1])
    bars, lines = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    finite = [v for v in final if math.isfinite(v) and v > 0]
    ceiling = max(finite) * 3 if finite else 1.0
    floor = min(finite) / 3 if finite else 0.1
    y = list(range(n))
    values = [v if math.isfinite(v) and v > 0 else ceiling for v in final]
    colors = ["tab:green" if i < top else "tab:blue" for i in range(n)]
    colors = [c if math.isfinite(v) else "lightgray" for c, v in zip(colors, final)]
    bars.barh(y, [v - floor for v in values], color=colors, left=floor)  # bars end at their value
    for i, v in enumerate(final):
        text = f"{v:.3g}" if math.isfinite(v) else "diverged"
        bars.text(values[i] * 1.05 if math.isfinite(v) else floor * 1.1, i, text, va="center", fontsize=7)
    bars.set_yticks(y)
    bars.set_yticklabels(labels, fontsize=7 if n > 12 else 9)
    bars.invert_yaxis()
    bars.set_xscale("log")
    bars.set_xlim(floor, ceiling * 2)
    bars.set_xlabel(f"final {metric} (log scale; best at the top)")
    bars.set_title(f"{n} configurations, ranked")
    bars.grid(True, axis="x", alpha=0.3)
    best = {labels[i]: curves[i] for i in range(min(top, n)) if math.isfinite(final[i])}
    _draw_curves(lines, best, xlabel="epoch", ylabel=metric, log_y=True)
    lines.set_title(f"the best {len(best)}: {metric} per epoch")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_panels(curves, path, *, title, xlabel="epoch", ylabel="cost", log_y=False, notes=None, hline=None):
    """Small multiples: one panel per curve on shared axes, so no curve can hide another.

    Parameters
    ----------
    curves : dict of str to sequence of float
        Label -> values, one panel each (values[i] at x = i + 1; a non-finite value ends the curve).
    path : str or PathLike
        The PNG to write.
    title, xlabel, ylabel : str
        The figure's title and the axes' labels.
    log_y : bool
        Logarithmic y axis.
    notes : dict of str to str, optional
        A line of text per label, written inside its panel (``"diverged at epoch 12"``).
    hline : tuple of (float, str), optional
        A dashed reference line drawn in every panel, with its legend label (``(log 2, "log 2")``).

    Returns
    -------
    str
        The path written.
    """
    n = len(curves)
    fig = _figure((max(7.0, 3.6 * n), 4.2))
    axes = fig.subplots(1, n, sharex=True, sharey=True, squeeze=False)[0]
    for k, (ax, (label, values)) in enumerate(zip(axes, curves.items())):
        values = _finite_prefix(values, log_y)
        ax.plot(range(1, len(values) + 1), values, color=f"C{k}", marker="." if len(values) < 40 else None)
        if hline is not None:
            ax.axhline(hline[0], color="gray", linestyle="--", linewidth=1, label=hline[1])
            ax.legend(fontsize="small", loc="upper right")
        if notes and notes.get(label):
            ax.text(0.03, 0.04, notes[label], transform=ax.transAxes, fontsize="small")
        ax.set_title(label)
        ax.set_xlabel(xlabel)
        if log_y:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
