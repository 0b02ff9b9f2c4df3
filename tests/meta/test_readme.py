"""The README is true: its Python snippets run as written (in a fresh folder, at smoke size)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_snippets() -> None:
    assert SNIPPETS


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_python_snippet_runs(index: int, tmp_path: Path) -> None:
    code = "import torch; torch.set_num_threads(1)\n" + SNIPPETS[index]
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
