"""Progress reports that also work in a log file.

On a terminal a tqdm bar; otherwise (stderr redirected to a workflow log) plain lines every
`interval_s` seconds with done/total, rate and ETA, and one line at the end, because a tqdm
bar in a log file is a single carriage-return-joined line with no total when it is cut short.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    """Seconds as H:MM:SS."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Progress:
    """Count units of work: a tqdm bar on a TTY, periodic plain lines elsewhere, nothing when disabled.

    Parameters
    ----------
    total : int or None
        Units expected (None: unknown, no percentage or ETA).
    desc, unit : str
        Line prefix and unit name, e.g. "score-variants" and "records".
    enabled : bool
        False: silent.
    interval_s : float
        Seconds between plain lines (0: a line at every update).
    stream : file, optional
        Where to write; default sys.stderr (looked up at construction).
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str,
        enabled: bool = True,
        interval_s: float = 30.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.desc, self.unit, self.interval_s = total, desc, unit, interval_s
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._start = self._last = time.monotonic()
        self._bar: Any = None
        self._plain = False
        if enabled and _isatty(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=desc, leave=False, file=self.stream)
        elif enabled:
            self._plain = True

    def update(self, n: int) -> None:
        """Add n finished units; print a plain line when `interval_s` has passed since the last."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain and time.monotonic() - self._last >= self.interval_s:
            self._last = time.monotonic()
            self._print(self.line())

    def line(self) -> str:
        """'desc: done/total unit (pct%), rate unit/s, ETA H:MM:SS' (total parts left out when unknown)."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total is None:
            return f"{self.desc}: {self.done} {self.unit}, {rate:.1f} {self.unit}/s, elapsed {_clock(elapsed)}"
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = _clock((self.total - self.done) / rate) if rate > 0 else "unknown"
        return (
            f"{self.desc}: {self.done}/{self.total} {self.unit} ({pct:.0f}%), {rate:.1f} {self.unit}/s, "
            f"ETA {eta}"
        )

    def close(self) -> None:
        """End the bar, or print the final plain line (done, elapsed time, mean rate)."""
        if self._bar is not None:
            self._bar.close()
        elif self._plain:
            elapsed = max(time.monotonic() - self._start, 1e-9)
            self._print(
                f"{self.desc}: done, {self.done} {self.unit} in {_clock(elapsed)} "
                f"({self.done / elapsed:.1f} {self.unit}/s)"
            )
        self._plain = False

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _isatty(stream: Any) -> bool:
    """True when `stream` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
