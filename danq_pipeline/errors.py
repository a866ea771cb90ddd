"""The package's own error and warning classes.

`DanQError` marks a *user* error (bad input file, wrong option): the CLI prints its
message as one line and exits non-zero, without a traceback. Messages name the file,
the line where there is one, and the fix.
"""

from __future__ import annotations


class DanQError(Exception):
    """A problem with the user's input that they can fix; printed as one line by the CLI."""


class DanQWarning(UserWarning):
    """Something the user should know about but that does not stop the run."""


def located(path: object, line: int | None, problem: str, fix: str | None = None) -> DanQError:
    """Build a `DanQError` reading ``path:line: problem (fix)``."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return DanQError(f"{where}: {problem}" + (f"; {fix}" if fix else ""))
