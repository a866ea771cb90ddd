"""Compare per-target metrics with a reference table (a published per-target AUC table).

Two formats, told apart by the header:

* the DanQ paper's table (``data/deepsea/danq_paper_aucs.tsv``): ``Cell Type``,
  ``TF/DNase/HistoneMark``, ``Treatment``, then ROC AUC and PR AUC for DeepSEA, DanQ and
  DanQ-JASPAR; 919 rows in DeepSEA's target order, matched by row order = target id;
* a generic TSV: ``id`` or ``name`` plus ``auroc`` and/or ``auprc`` (matched by id when
  the column is there, else by name where the name is unique on both sides).

No torch here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from danq_pipeline.errors import DanQError, located
from danq_pipeline.metrics import SUMMARY_GROUPS
from danq_pipeline.targets import deepsea_classes

PAPER_N_TARGETS = 919
PAPER_COLUMNS = {
    "DeepSEA ROC AUC": "paper_deepsea_auroc",
    "DanQ ROC AUC": "paper_danq_auroc",
    "DanQ-JASPAR ROC AUC": "paper_danq_jaspar_auroc",
    "DeepSEA PR AUC": "paper_deepsea_auprc",
    "DanQ PR AUC": "paper_danq_auprc",
    "DanQ-JASPAR PR AUC": "paper_danq_jaspar_auprc",
}
#: tolerance of the "within" fraction (ours >= reference - tolerance)
WITHIN = 0.01


class Reference(NamedTuple):
    """A parsed reference table: `kind` ("paper" or "generic"), `table`, `path`, and the
    comparisons it offers as (our column, reference column, label)."""

    kind: str
    table: pd.DataFrame
    path: Path
    comparisons: tuple[tuple[str, str, str], ...]


def read_reference(path: str | os.PathLike) -> Reference:
    """Read a reference table, detecting its format from the header."""
    path = Path(path)
    if not path.exists():
        raise DanQError(
            f"{path}: no such reference table; give a TSV with name/id + auroc/auprc columns "
            "or data/deepsea/danq_paper_aucs.tsv"
        )
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise located(
            path,
            None,
            f"not a readable TSV ({str(err).splitlines()[0]})",
            "save the reference table as tab-separated text",
        ) from None
    if "DanQ ROC AUC" in table.columns:
        return _paper_reference(table, path)
    return _generic_reference(table, path)


def _numbers(col: pd.Series) -> pd.Series:
    """Numeric values; text such as 'NA (No positive in Test region)' becomes NaN."""
    return pd.to_numeric(col.str.strip(), errors="coerce")


def _paper_reference(table: pd.DataFrame, path: Path) -> Reference:
    missing = [c for c in PAPER_COLUMNS if c not in table.columns]
    if missing:
        raise located(
            path,
            1,
            f"looks like the DanQ paper table but lacks columns {missing}",
            "use the file shipped as data/deepsea/danq_paper_aucs.tsv",
        )
    if len(table) != PAPER_N_TARGETS:
        raise located(
            path,
            None,
            f"the DanQ paper table has {len(table)} rows, expected {PAPER_N_TARGETS}",
            "use the unmodified data/deepsea/danq_paper_aucs.tsv",
        )
    out = pd.DataFrame({"row": np.arange(len(table))})
    label_cols = [
        c for c in ("Cell Type", "TF/DNase/HistoneMark", "Treatment") if c in table.columns
    ]
    out["paper_label"] = table[label_cols].agg("|".join, axis=1) if label_cols else ""
    out["paper_class"] = deepsea_classes()
    for src, dst in PAPER_COLUMNS.items():
        out[dst] = _numbers(table[src])
    comparisons = (
        ("auroc", "paper_danq_auroc", "DanQ (paper)"),
        ("auroc", "paper_danq_jaspar_auroc", "DanQ-JASPAR (paper)"),
        ("auroc", "paper_deepsea_auroc", "DeepSEA (paper)"),
        ("auprc", "paper_danq_auprc", "DanQ (paper)"),
        ("auprc", "paper_danq_jaspar_auprc", "DanQ-JASPAR (paper)"),
        ("auprc", "paper_deepsea_auprc", "DeepSEA (paper)"),
    )
    return Reference("paper", out, path, comparisons)


def _generic_reference(table: pd.DataFrame, path: Path) -> Reference:
    cols = {c.strip().lower(): c for c in table.columns}
    key = "id" if "id" in cols else "name" if "name" in cols else None
    metrics = [m for m in ("auroc", "auprc") if m in cols]
    if key is None or not metrics:
        raise located(
            path,
            1,
            f"reference header {list(table.columns)} lacks an id or name column and an "
            "auroc/auprc column",
            "name the columns id (or name), auroc and/or auprc",
        )
    out = pd.DataFrame({key: table[cols[key]].str.strip()})
    if key == "id":
        ids = pd.to_numeric(out["id"], errors="coerce")
        if ids.isna().any():
            bad = int(np.flatnonzero(ids.isna())[0])
            raise located(
                path,
                bad + 2,
                f"id {out['id'].iloc[bad]!r} is not an integer",
                "use the target ids of metrics.tsv",
            )
        out["id"] = ids.astype(np.int64)
    for m in metrics:
        out[f"ref_{m}"] = _numbers(table[cols[m]])
    comparisons = tuple((m, f"ref_{m}", "reference") for m in metrics)
    return Reference("generic", out, path, comparisons)


def attach_reference(metrics: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """Add the reference columns (and ours-minus-reference differences) to a metrics table."""
    metrics = metrics.copy()
    if ref.kind == "paper":
        joined = _match_paper(metrics, ref)
    else:
        joined = _match_generic(metrics, ref)
    for col in joined.columns:
        metrics[col] = joined[col].to_numpy()
    for ours, theirs, _ in ref.comparisons:
        metrics[f"{ours}_minus_{theirs.removesuffix('_' + ours)}"] = metrics[ours] - metrics[theirs]
    return metrics


def _match_paper(metrics: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    if len(metrics) != PAPER_N_TARGETS:
        raise DanQError(
            f"{ref.path}: the DanQ paper table covers DeepSEA's {PAPER_N_TARGETS} targets but this model "
            f"has {len(metrics)}; use it only for a model trained on the DeepSEA bundle "
            "(`danq import-deepsea`)"
        )
    ids = metrics["id"].to_numpy()
    rows = ids if sorted(ids) == list(range(PAPER_N_TARGETS)) else np.arange(PAPER_N_TARGETS)
    joined = ref.table.iloc[rows].reset_index(drop=True)
    mismatch = int((joined["paper_class"].to_numpy() != metrics["class"].to_numpy()).sum())
    if mismatch:
        raise DanQError(
            f"{ref.path}: {mismatch} targets differ in class from the paper's DeepSEA order "
            "(125 DNase, 690 TF, 104 histone); the model's targets are not in DeepSEA order"
        )
    names = metrics["name"].astype(str).to_numpy()
    if all("|" in n for n in names):  # DeepSEA import naming: cell|assay|treatment
        differ = int((joined["paper_label"].to_numpy() != names).sum())
        if differ:
            raise DanQError(
                f"{ref.path}: {differ} target names differ from the paper's cell|assay|treatment "
                "labels in the same order; the model's targets are not in DeepSEA order"
            )
    return joined.drop(columns=["row", "paper_class"])


def _match_generic(metrics: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    table = ref.table
    key = "id" if "id" in table.columns else "name"
    dup = table[key].duplicated(keep=False)
    if key == "id" and dup.any():
        raise DanQError(
            f"{ref.path}: id {table.loc[dup, 'id'].iloc[0]} appears more than once; ids must be unique"
        )
    unique = table[~dup]
    ours_dup = metrics[key].duplicated(keep=False).to_numpy()
    joined = metrics[[key]].merge(unique, on=key, how="left").drop(columns=[key])
    joined.loc[ours_dup, :] = np.nan  # an ambiguous name cannot be matched
    return joined


def reference_summary(
    metrics: pd.DataFrame, ref: Reference, within: float = WITHIN
) -> pd.DataFrame:
    """Per class and overall, for each comparison: medians, median difference, fractions.

    Columns: class, metric, reference, n_compared, median_ours, median_reference,
    median_diff (median of per-target ours - reference), frac_ge (ours >= reference),
    frac_within (ours >= reference - `within`).
    """
    rows = []
    for ours, theirs, label in ref.comparisons:
        for group in SUMMARY_GROUPS:
            sub = metrics if group == "all" else metrics[metrics["class"] == group]
            both = sub[[ours, theirs]].dropna()
            diff = both[ours] - both[theirs]
            n = len(both)
            rows.append(
                {
                    "class": group,
                    "metric": ours,
                    "reference": label,
                    "n_compared": n,
                    "median_ours": both[ours].median() if n else np.nan,
                    "median_reference": both[theirs].median() if n else np.nan,
                    "median_diff": diff.median() if n else np.nan,
                    "frac_ge": float((diff >= 0).mean()) if n else np.nan,
                    "frac_within": float((diff >= -within).mean()) if n else np.nan,
                }
            )
    return pd.DataFrame(rows)
