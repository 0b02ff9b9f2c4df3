"""One progress bar per run, shared by every training phase of a study.

Uses ``tqdm.auto`` in notebooks when ipywidgets is installed and the plain text bar otherwise, so a
notebook without ipywidgets shows a text bar instead of a widget error.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress"]


def _in_notebook_with_widgets() -> bool:
    try:
        from IPython import get_ipython  # type: ignore[attr-defined]

        shell = get_ipython()
        if shell is None or "IPKernelApp" not in shell.config:
            return False
        import ipywidgets  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure means: use the text bar
        return False
    return True


class Progress:
    """A single bar whose total grows as phases are planned.

    Args:
        enabled: draw the bar (``--no-progress`` turns it off).
        desc: label shown before the bar.
    """

    def __init__(self, *, enabled: bool = True, desc: str = "", unit: str = "step") -> None:
        self.enabled = enabled
        self._unit = unit
        self._bar: Any = None
        self._desc = desc
        self._total = 0

    def _ensure(self) -> Any:
        if self._bar is None and self.enabled:
            if _in_notebook_with_widgets():
                from tqdm.notebook import tqdm
            else:
                from tqdm import tqdm
            self._bar = tqdm(
                total=self._total, desc=self._desc, unit=self._unit, dynamic_ncols=True, file=sys.stderr, leave=True
            )
        return self._bar

    def add_total(self, n: int) -> None:
        """Announce ``n`` more steps of planned work."""
        self._total += int(n)
        bar = self._ensure()
        if bar is not None:
            bar.total = self._total
            bar.refresh()

    def update(self, n: int) -> None:
        bar = self._ensure()
        if bar is not None:
            bar.update(int(n))

    def skip(self, n: int) -> None:
        """Remove ``n`` planned steps that will not run (early stopping)."""
        self._total -= int(n)
        if self._bar is not None:
            self._bar.total = self._total
            self._bar.refresh()

    def describe(self, text: str) -> None:
        bar = self._ensure()
        if bar is not None:
            bar.set_description(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


NULL_PROGRESS = Progress(enabled=False)
