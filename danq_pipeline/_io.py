"""Atomic output: every table the package writes appears complete under its final name or not
at all (written under ``<name>.part``, then renamed)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike, float_format: str = "%.6g",
              na_rep: str = "") -> None:
    """Write `frame` as a tab-separated table with a header, atomically (folder created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    frame.to_csv(tmp, sep="\t", index=False, float_format=float_format, na_rep=na_rep)
    os.replace(tmp, path)
