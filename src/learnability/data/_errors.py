"""Errors raised where data files enter the library.

Bad *parameters* raise :class:`learnability._validation.ParameterError`; bad *files* raise the
errors below, whose messages always name the file (or directory) and the problem, so that a user
can fix the data without reading the code.
"""

from __future__ import annotations

__all__ = ["DataFileError", "MissingDataError"]


class DataFileError(ValueError):
    """A data file exists but its content is not what its format promises (corrupt, truncated,
    wrong magic number, wrong shape, unsafe pickle, ...).

    Attributes:
        path: the offending file.
        problem: what is wrong with it, in words.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


class MissingDataError(FileNotFoundError):
    """The files a loader needs are not there; the message lists where it looked, what it
    expected and how to obtain them (nothing is ever downloaded by the library)."""
