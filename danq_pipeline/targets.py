"""The target table: what each model output means, read, chosen, checked and stored once. No torch.

A target table is a DataFrame with columns ``id`` (stable integer, the column order of labels
and outputs), ``name``, ``class`` (DNase | TF | histone) and ``source`` (the peak file, or
where the target came from). It is read from the user's targets sheet (`read_targets_sheet`),
stored in every windows HDF5, checkpoint, prediction and score file (`write_targets_h5`,
`read_targets_h5`, `targets_to_checkpoint`, `targets_from_checkpoint`), compared between a
model and a data file in one way (`check_same_targets`: ids, names and order), and narrowed
to the user's choice (`select_targets`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from danq_pipeline.errors import DanQError, located

TARGET_CLASSES = ("DNase", "TF", "histone")
TARGET_COLUMNS = ("id", "name", "class", "source")
# DeepSEA's (and so DanQ's) 919 outputs, in their fixed order
DEEPSEA_CLASS_COUNTS = (("DNase", 125), ("TF", 690), ("histone", 104))
_STR = h5py.string_dtype("utf-8")


def deepsea_classes() -> list[str]:
    """The class of each of DeepSEA's 919 outputs, in order (125 DNase, 690 TF, 104 histone)."""
    return [cls for cls, n in DEEPSEA_CLASS_COUNTS for _ in range(n)]


def targets_frame(
    names: list[str],
    classes: list[str],
    sources: list[str] | None = None,
    ids: list[int] | None = None,
) -> pd.DataFrame:
    """Build the target table (columns id, name, class, source), checking classes."""
    bad = sorted({c for c in classes if c not in TARGET_CLASSES})
    if bad:
        raise DanQError(f"unknown target class(es) {bad}; use one of {', '.join(TARGET_CLASSES)}")
    n = len(names)
    return pd.DataFrame(
        {
            "id": list(ids) if ids is not None else list(range(n)),
            "name": list(names),
            "class": list(classes),
            "source": list(sources) if sources is not None else [""] * n,
        }
    )


def select_targets(
    targets: pd.DataFrame,
    names: list[str] | str | None = None,
    classes: list[str] | str | None = None,
) -> np.ndarray:
    """Column indices, in model order, of the targets named in `names` plus those of the
    classes in `classes` (the union; all targets when neither is given).

    Both accept a list or a comma-separated string, as the CLI's --targets/--target-class give
    them. Unknown names or classes, or a choice that keeps nothing, raise a one-line DanQError.
    """
    names, classes = _as_list(names), _as_list(classes)
    if not names and not classes:
        return np.arange(len(targets))
    keep = np.zeros(len(targets), dtype=bool)
    if names:
        unknown = sorted(set(names) - set(targets["name"].astype(str)))
        if unknown:
            raise DanQError(
                f"`targets`: unknown target name(s) {', '.join(unknown)}; the model has "
                f"{', '.join(targets['name'].astype(str)[:8])}{'...' if len(targets) > 8 else ''}",
                params="targets",
            )
        keep |= targets["name"].astype(str).isin(names).to_numpy()
    if classes:
        bad = sorted(set(classes) - set(TARGET_CLASSES))
        if bad:
            raise DanQError(
                f"`target_class`: unknown target class(es) {', '.join(bad)}; choose from "
                f"{', '.join(TARGET_CLASSES)}",
                params="target_class",
            )
        keep |= targets["class"].isin(classes).to_numpy()
    if not keep.any():
        raise DanQError(
            "no target matches `targets`/`target_class`; check the names and classes",
            params=("targets", "target_class"),
        )
    return np.flatnonzero(keep)


def _as_list(value: list[str] | str | None) -> list[str]:
    """'a,b' or ['a', 'b'] -> ['a', 'b']."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def check_same_targets(
    expected: pd.DataFrame,
    found: pd.DataFrame,
    where: Any,
    fix: str,
    expected_from: Any = "the model",
) -> None:
    """Refuse a table whose ids, names or order differ from `expected` (one line naming `where`)."""
    same = (
        len(expected) == len(found)
        and expected["id"].astype(int).tolist() == found["id"].astype(int).tolist()
        and expected["name"].astype(str).tolist() == found["name"].astype(str).tolist()
    )
    if not same:
        raise DanQError(
            f"{where}: its {len(found)} targets differ from the {len(expected)} targets of "
            f"{expected_from} (ids/names/order); {fix}"
        )


def write_targets_h5(h5: h5py.File | h5py.Group, targets: pd.DataFrame) -> None:
    """Store the table as /targets/{id,name,class,source} (int32 ids, UTF-8 strings)."""
    group = h5.create_group("targets")
    group.create_dataset("id", data=targets["id"].to_numpy(dtype=np.int32))
    for col in TARGET_COLUMNS[1:]:
        values = targets[col] if col in targets else pd.Series([""] * len(targets))
        group.create_dataset(
            col, data=np.array(values.astype(str).tolist(), dtype=object), dtype=_STR
        )


def read_targets_h5(h5: h5py.File | h5py.Group) -> pd.DataFrame:
    """The table stored by `write_targets_h5` (a missing string column reads as "")."""
    group = h5["targets"]
    ids = group["id"][:].astype(int)
    cols = {
        c: (group[c].asstr()[:] if c in group else np.array([""] * len(ids), dtype=object))
        for c in TARGET_COLUMNS[1:]
    }
    return pd.DataFrame({"id": ids, **cols})


def targets_to_checkpoint(targets: pd.DataFrame) -> dict[str, list]:
    """The table as plain lists (what a weights-only checkpoint may hold)."""
    return targets[list(TARGET_COLUMNS)].to_dict("list")


def targets_from_checkpoint(stored: dict[str, list]) -> pd.DataFrame:
    """The table from `targets_to_checkpoint`'s lists."""
    return pd.DataFrame(stored)[list(TARGET_COLUMNS)]


# ----------------------------------------------------------------------------- targets sheet


def read_targets_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read the targets sheet (TSV with header: name, file, class [, extend, summit]).

    Returns a table with columns id, name, class, file (absolute Path), source (the file as
    written in the sheet), extend (int) and summit (int, -1 = whole peak). Rows keep their
    order; ids are 0..T-1. File paths are relative to the sheet's folder.
    """
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such targets sheet; check the path")
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise located(
            path,
            None,
            f"not a readable TSV ({str(err).splitlines()[0]})",
            "write a tab-separated sheet with a header line: name, file, class",
        ) from None
    missing = [c for c in ("name", "file", "class") if c not in sheet.columns]
    if missing:
        raise located(
            path,
            1,
            f"missing column(s) {', '.join(missing)} (found {', '.join(sheet.columns)})",
            "the header needs name, file and class (optional: extend, summit), tab-separated",
        )
    if sheet.empty:
        raise located(path, None, "no targets listed", "add one row per target under the header")
    rows = [_sheet_row(path, i + 2, row) for i, row in enumerate(sheet.to_dict("records"))]
    table = pd.DataFrame(rows)
    table.insert(0, "id", np.arange(len(table)))
    return table


def _sheet_row(path: Path, line: int, row: dict) -> dict:
    """Validate one sheet row (line = 1-based line number in the file)."""
    name, cls, file = row["name"].strip(), row["class"].strip(), row["file"].strip()
    if not name:
        raise located(path, line, "empty target name", "give every target a name")
    if cls not in TARGET_CLASSES:
        raise located(
            path,
            line,
            f"unknown class {cls!r}",
            f"use one of {', '.join(TARGET_CLASSES)} (ATAC counts as DNase)",
        )
    if not file:
        raise located(
            path, line, "empty file column", "give the peak file, relative to the sheet's folder"
        )
    extend = _int_cell(path, line, row, "extend", 0)
    summit = _int_cell(path, line, row, "summit", -1)
    full = (path.parent / file).resolve()
    if not full.exists():
        raise located(
            path,
            line,
            f"peak file {file!r} not found (looked for {full})",
            "paths are relative to the sheet's folder",
        )
    return {
        "name": name,
        "class": cls,
        "file": full,
        "source": file,
        "extend": extend,
        "summit": summit,
    }


def _int_cell(path: Path, line: int, row: dict, col: str, default: int) -> int:
    """An optional non-negative integer column ('' -> default)."""
    text = str(row.get(col, "") or "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d+", text):
        raise located(
            path,
            line,
            f"column {col} must be a non-negative integer (got {text!r})",
            "write a number of bp or leave it empty",
        )
    return int(text)
