"""Chart traces that several reports draw the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from learnability.report.charts import Line

__all__ = ["CLASS_COLOURS", "class_scatter"]

# The two classes of a binary data set, in the report palette's first two colours.
CLASS_COLOURS = ("#0072B2", "#D55E00")


def class_scatter(points: np.ndarray, labels: np.ndarray, names: Sequence[str] = ("class 0", "class 1")) -> list[Line]:
    """Marker traces of ``points: (N, 2)`` coloured by binary ``labels: (N,)``."""
    out = []
    for c, (name, colour) in enumerate(zip(names, CLASS_COLOURS, strict=True)):
        sel = labels == c
        out.append(Line(points[sel, 0], points[sel, 1], label=name, mode="markers", color=colour))
    return out
