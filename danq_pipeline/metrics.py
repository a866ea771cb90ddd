"""Per-target AUROC / AUPRC, vectorised over targets and equal to scikit-learn.

`roc_auc_score` and `average_precision_score` from scikit-learn loop in Python over one
target at a time; at DeepSEA's scale (919 targets x 227k-455k windows) that is minutes.
Here each block of targets is sorted once (columns side by side) and both metrics are read
off the cumulative true/false positive counts, with ties grouped exactly as scikit-learn
groups them (one ROC / PR point per distinct score). Tests check equality with scikit-learn.

An undefined metric (no positives or no negatives for a target) is NaN with its reason in
`note`, never a silent skip. No torch here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from danq_pipeline.errors import DanQError
from danq_pipeline.targets import TARGET_CLASSES

#: targets with fewer positives than this get a warning note (the metric is still given)
FEW_POSITIVES = 10
SUMMARY_GROUPS = (*TARGET_CLASSES, "all")


def _sorted_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort each row of `s` (targets, n) descending; return sorted labels, group-end and group-start index.

    Group = run of equal scores; `end[t, i]` is the last index of the group holding position i,
    `start[t, i]` the first one.
    """
    order = np.argsort(-s, axis=1)  # order inside a tie group does not matter
    ss = np.take_along_axis(s, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    n = s.shape[1]
    idx = np.arange(n)
    is_end = np.ones_like(ss, dtype=bool)
    is_end[:, :-1] = ss[:, :-1] != ss[:, 1:]
    end = np.where(is_end, idx, n)[:, ::-1]
    end = np.minimum.accumulate(end, axis=1)[:, ::-1]
    is_start = np.ones_like(ss, dtype=bool)
    is_start[:, 1:] = is_end[:, :-1]
    start = np.maximum.accumulate(np.where(is_start, idx, 0), axis=1)
    return ys, end, start


def _block_metrics(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and AUPRC (average precision) of each row; y (T, n) bool, s (T, n) float."""
    ys, end, start = _sorted_counts(y, s)
    tp = np.cumsum(ys, axis=1, dtype=np.int64)
    fp = np.cumsum(~ys, axis=1, dtype=np.int64)
    n_pos = tp[:, -1].astype(np.float64)
    n_neg = fp[:, -1].astype(np.float64)
    tp_end = np.take_along_axis(tp, end, axis=1)
    fp_end = np.take_along_axis(fp, end, axis=1)
    # AP = sum over positives of precision at the end of their tie group, / n_pos
    prec = tp_end / (end + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auprc = np.where(ys, prec, 0.0).sum(axis=1) / n_pos
        # AUROC = P(score_pos > score_neg) + 0.5 P(tie): negatives above each positive's group,
        # plus half of the negatives inside it
        fp_before = np.take_along_axis(fp, np.maximum(start - 1, 0), axis=1)
        fp_before = np.where(start > 0, fp_before, 0)
        wrong = np.where(ys, fp_before + 0.5 * (fp_end - fp_before), 0.0).sum(axis=1)
        auroc = 1.0 - wrong / (n_pos * n_neg)
    return auroc, auprc


def auroc_auprc(
    y_true: np.ndarray, y_score: np.ndarray, block: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and AUPRC of every column, equal to scikit-learn's per-column results.

    Parameters
    ----------
    y_true : numpy.ndarray, shape=(n, T)
        Binary labels (any integer or bool dtype; nonzero = positive).
    y_score : numpy.ndarray or array-like, shape=(n, T)
        Scores (probabilities or logits; only their order matters). Anything with `.shape`
        and ``[:, a:b]`` slicing works (e.g. an h5py dataset), read one target block at a time.
    block : int, optional
        Targets sorted at once; bounds memory to ~30 bytes x n x block. Default is 16.

    Returns
    -------
    auroc, auprc : numpy.ndarray, shape=(T,), float64
        NaN where a column has no positives or no negatives.
    """
    y_true = np.asarray(y_true)
    if not hasattr(y_score, "shape"):
        y_score = np.asarray(y_score)
    if tuple(y_true.shape) != tuple(y_score.shape) or y_true.ndim != 2:
        raise DanQError(
            f"labels {y_true.shape} and scores {y_score.shape} must be equal 2-D shapes"
        )
    n_t = y_true.shape[1]
    auroc = np.full(n_t, np.nan)
    auprc = np.full(n_t, np.nan)
    if y_true.shape[0] == 0:
        return auroc, auprc
    for a in range(0, n_t, block):
        b = min(a + block, n_t)
        y = np.ascontiguousarray(y_true[:, a:b].T != 0)
        s = np.ascontiguousarray(np.asarray(y_score[:, a:b]).T)
        if not np.isfinite(s).all():
            raise DanQError(
                f"scores of targets {a}-{b - 1} contain NaN or infinite values (a diverged model?)"
            )
        auroc[a:b], auprc[a:b] = _block_metrics(y, s)
    undefined = (y_true != 0).all(axis=0) | (y_true == 0).all(axis=0)
    auroc[undefined] = np.nan
    auprc[undefined] = np.nan
    return auroc, auprc


def undefined_note(n_pos: int, n_neg: int) -> str:
    """The reason a target's metrics are undefined or shaky ("" when fine)."""
    if n_pos + n_neg == 0:
        return "no test windows"
    if n_pos == 0:
        return "undefined: no positives in test set"
    if n_neg == 0:
        return "undefined: no negatives in test set (every window positive)"
    if n_pos < FEW_POSITIVES:
        return f"few positives ({n_pos} < {FEW_POSITIVES}): metric unreliable"
    return ""


def per_target_metrics(
    y_true: np.ndarray, y_score: np.ndarray, targets: pd.DataFrame, block: int = 16
) -> pd.DataFrame:
    """One row per target: id, name, class, n_pos, n_neg, auroc, auprc, auprc_random, note.

    `auprc_random` is the AUPRC of a random ranking (the positive rate), the floor to read
    AUPRC against. Undefined metrics are NaN and `note` says why.
    """
    y_true = np.asarray(y_true)
    if y_true.shape[1] != len(targets):
        raise DanQError(f"{y_true.shape[1]} label columns but {len(targets)} targets")
    n_pos = (y_true != 0).sum(axis=0).astype(np.int64)
    n_neg = y_true.shape[0] - n_pos
    auroc, auprc = auroc_auprc(y_true, y_score, block=block)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_pos + n_neg > 0, n_pos / np.maximum(n_pos + n_neg, 1), np.nan)
    return pd.DataFrame(
        {
            "id": targets["id"].to_numpy(),
            "name": targets["name"].to_numpy(),
            "class": targets["class"].to_numpy(),
            "n_pos": n_pos,
            "n_neg": n_neg,
            "auroc": auroc,
            "auprc": auprc,
            "auprc_random": rate,
            "note": [undefined_note(int(p), int(n)) for p, n in zip(n_pos, n_neg, strict=True)],
        }
    )


def summarize(metrics: pd.DataFrame, columns: tuple[str, ...] = ("auroc", "auprc")) -> pd.DataFrame:
    """Mean and median of each metric column per class (DNase, TF, histone) and over all targets.

    Targets whose first column (normally ``auroc``) is undefined are counted in
    ``n_undefined`` and left out of every mean/median, so all columns (e.g. ``auprc_random``,
    the baseline's) describe the same targets; other NaN values are skipped too. Classes with no targets get a row of NaN
    with ``n_targets`` 0, so the table always has the same four rows.
    """
    rows = []
    for group in SUMMARY_GROUPS:
        sub = metrics if group == "all" else metrics[metrics["class"] == group]
        row: dict[str, object] = {
            "class": group,
            "n_targets": len(sub),
            "n_undefined": int(sub[columns[0]].isna().sum()) if len(sub) else 0,
        }
        defined = sub[sub[columns[0]].notna()]
        for col in columns:
            if col not in sub:
                continue
            vals = defined[col].dropna()
            row[f"mean_{col}"] = float(vals.mean()) if len(vals) else np.nan
            row[f"median_{col}"] = float(vals.median()) if len(vals) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
