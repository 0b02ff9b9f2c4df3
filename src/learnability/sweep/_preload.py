"""Imported once by the local pool's fork server, so that every worker forks warm.

The fork server imports torch, the worker code and every packaged study (study discovery) before
it forks the first worker: a worker then starts in milliseconds instead of spending seconds of
CPU on imports. A study module that fails to import is not fatal here; the sweep process met the
same error while planning and reported it.
"""

from __future__ import annotations

import contextlib

import learnability.sweep._worker  # noqa: F401 - torch, runner, studies: what every run needs
from learnability.studies import list_studies

with contextlib.suppress(Exception):
    list_studies()
