"""Export a run's metrics for other tools: CSV, Parquet, TensorBoard event files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from learnability._validation import check_choice
from learnability.runs import read_run

__all__ = ["FORMATS", "export_run"]

FORMATS = ("csv", "parquet", "tensorboard")


def export_run(run_dir: str | Path, to: str, out: str | Path | None = None) -> Path:
    """Write the metrics of a run folder in another format; return what was written.

    Args:
        run_dir: the run folder.
        to: ``"csv"`` or ``"parquet"`` (the long metrics table: series, tag, step, member, value,
            ...), or ``"tensorboard"`` (event files, one scalar curve per series, tag and member,
            named ``series/tag/member``; needs the optional ``tensorboard`` package).
        out: the file (csv, parquet) or folder (tensorboard) to write; default beside the run's
            files: ``RUN/metrics.csv``, ``RUN/metrics.parquet`` or ``RUN/tensorboard/``.

    Returns:
        The path written.

    Raises:
        ParameterError: for an unknown format.
        ImportError: for ``"tensorboard"`` without the tensorboard package (with the install line).
    """
    check_choice(to, "to", "export", FORMATS)
    run = read_run(run_dir)
    metrics = run.metrics
    if to == "csv":
        path = Path(out) if out is not None else run.path / "metrics.csv"
        metrics.to_csv(path, index=False)
        return path
    if to == "parquet":
        path = Path(out) if out is not None else run.path / "metrics.parquet"
        metrics.to_parquet(path, index=False)
        return path
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch's writer needs the tensorboard package
        raise ImportError(
            "exporting to TensorBoard needs the tensorboard package: pip install 'learnability[tensorboard]'"
        ) from exc
    folder = Path(out) if out is not None else run.path / "tensorboard"
    writer = SummaryWriter(log_dir=str(folder))
    try:
        scalar = metrics[metrics["value"].notna() & metrics["step"].notna()]
        keys = [c for c in ("series", "tag", "member") if c in scalar]
        for group, rows in scalar.groupby(keys, dropna=False, sort=True):
            name = "/".join(_label(g) for g in (group if isinstance(group, tuple) else (group,)) if _present(g))
            for step, value in zip(rows["step"].to_numpy(), rows["value"].to_numpy(dtype=np.float64), strict=True):
                writer.add_scalar(name, float(value), global_step=int(step))
    finally:
        writer.close()
    return folder


def _present(v: object) -> bool:
    return not pd.isna(v)  # a record without a member or tag


def _label(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return f"member{int(v)}"
    if isinstance(v, int | np.integer):
        return f"member{int(v)}"
    return str(v)
