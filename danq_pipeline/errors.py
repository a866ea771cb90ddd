"""The package's own error and warning classes.

`DanQError` marks a *user* error (bad input file, wrong option): the CLI prints its
message as one line and exits non-zero, without a traceback. Messages name the file,
the line where there is one, and the fix. A message about an argument names the API
parameter in backticks (```min_overlap` must be in (0, 1]``) and lists it in `params`; the
CLI shows that parameter as its flag (``--min-overlap must be in (0, 1]``), so the library
never quotes a command line it may not have been called from.
"""

from __future__ import annotations


class DanQError(Exception):
    """A problem with the user's input that they can fix; printed as one line by the CLI.

    `params` names the API parameters the message mentions, each in backticks in it; the CLI
    replaces each with its command-line flag.
    """

    def __init__(self, message: str, *, params: str | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.params = (params,) if isinstance(params, str) else tuple(params)


class DanQWarning(UserWarning):
    """Something the user should know about but that does not stop the run."""


def located(path: object, line: int | None, problem: str, fix: str | None = None) -> DanQError:
    """Build a `DanQError` reading ``path:line: problem (fix)``."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return DanQError(f"{where}: {problem}" + (f"; {fix}" if fix else ""))
