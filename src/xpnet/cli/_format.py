"""Small helpers the ``xpnet`` commands share: argument values and result tables."""

from __future__ import annotations

__all__ = ["column", "result_table"]


def column(text):
    """--target: a column index when it is a whole number, else a header name."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text



def result_table(sets) -> str:
    rows = [("set", "examples", "cost", "accuracy")]
    for name, result, m in sets:
        acc = f"{100 * result['accuracy']:.2f}%" if "accuracy" in result else "-"
        rows.append((name, str(m), f"{result['cost']:.4f}", acc))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
