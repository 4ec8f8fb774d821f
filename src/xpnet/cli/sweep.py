"""``xpnet sweep``: turn parsed arguments into one :func:`xpnet.sweep` call and print its table."""

from __future__ import annotations

from ..errors import XpnetValueError

__all__ = ["run"]


def _hidden(specs) -> list[tuple]:
    """``["8", "16,16"]`` -> ``[(8,), (16, 16)]``."""
    hidden = []
    for spec in specs:
        try:
            hidden.append(tuple(int(n) for n in spec.split(",") if n))
        except ValueError:
            raise XpnetValueError(f"--hidden takes layer sizes like 8 or 16,16; got {spec!r}") from None
    return hidden


def _data(name: str, seed: int):
    if name == "digits":
        from ..data import load_digits

        ds = load_digits(test_size=0.2, seed=0)  # standardised, one-hot Y (10, m)
        return ds.X_train, ds.Y_train
    from ..data import planar_flower

    return planar_flower(m=400, seed=seed)


def run(args) -> int:
    """Run :func:`xpnet.sweep` from the ``xpnet sweep`` arguments and print the result table."""
    from ..sweep import sweep

    if args.plot:  # before the runs: a missing plotting library must not cost the whole sweep
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise XpnetValueError("--plot needs matplotlib: pip install 'xpnet[plot]' "
                                  "(or leave out --plot for the table alone); nothing was run") from None
    X, Y = _data(args.data, args.seed)
    result = sweep(X, Y, learning_rate=args.learning_rate, hidden=_hidden(args.hidden), activation=args.activation,
                   init=args.init, optimizer=args.optimizer, epochs=args.epochs, batch_size=args.batch_size,
                   search=args.search, n_trials=args.trials, backend=args.backend, dtype=args.dtype,
                   seed=args.seed, plot=args.plot)
    print(result.table())
    if args.plot:
        print(f"saved {args.plot}")
    return 0
