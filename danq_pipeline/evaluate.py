"""Evaluate a trained model on a test windows file: predictions, per-target metrics, baseline, figures.

`evaluate_model` streams batched predictions (averaged over the forward and the
reverse-complement strand, as the DanQ paper evaluated) into ``predictions.h5``, computes
per-target AUROC/AUPRC (`danq_pipeline.metrics`), fits the k-mer baseline on the training file
(`danq_pipeline.baseline`), optionally compares with a reference table
(`danq_pipeline.reference`), and writes metrics.tsv, summary.tsv and figures. Memory stays
bounded: predictions go to disk in row blocks and metrics read them back in target blocks;
only the test labels (1 byte per window and target) are held whole.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from danq_pipeline import __version__
from danq_pipeline._io import atomic_path, ensure_writable, output_folder, write_json, write_tsv
from danq_pipeline.dataset import WindowsH5
from danq_pipeline.errors import DanQError, DanQWarning
from danq_pipeline.metrics import auroc_auprc, per_target_metrics, summarize
from danq_pipeline.model import TrainedModel, load_model
from danq_pipeline.predictor import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PRECISION,
    Predictor,
    as_predictor,
    check_precision,
)
from danq_pipeline.targets import check_same_targets, write_targets_h5

PREDICTIONS_FORMAT = "danq-predictions"
BLOCK_ROWS = 8192  # rows predicted and written per HDF5 block
ALL_CURVES_MAX = 24  # up to this many targets, every target gets a curve panel
_STR = h5py.string_dtype("utf-8")


class EvaluationResult(NamedTuple):
    """What `evaluate_model` returns (everything is also written under `out_dir`)."""

    metrics: pd.DataFrame
    summary: pd.DataFrame
    reference_summary: pd.DataFrame | None
    out_dir: Path
    info: dict


def check_compatible(model: TrainedModel, data: WindowsH5, model_path: Any) -> None:
    """Refuse a test file whose targets or window length differ from the checkpoint's."""
    if data.window != model.window:
        raise DanQError(
            f"{data.path}: windows are {data.window} bp but {model_path} was trained on "
            f"{model.window} bp windows; prepare the test file with the training window size"
        )
    check_same_targets(
        model.targets,
        data.targets,
        data.path,
        "prepare it from the same targets sheet",
        expected_from=model_path,
    )


def _block_plan(data: WindowsH5, block_rows: int) -> tuple[int, list[tuple[int, int]]]:
    """(rows scored, [(start, stop)]): the forward half for rc-pair files, else every row."""
    n = len(data)
    if data.rc_pairs and n % 2:
        raise DanQError(
            f"{data.path}: marked rc_pairs but holds an odd number of windows ({n}); re-import it"
        )
    n_eval = n // 2 if data.rc_pairs else n
    return n_eval, [(a, min(a + block_rows, n_eval)) for a in range(0, n_eval, block_rows)]


def iter_predictions(
    predictor: Predictor, data: WindowsH5, *, block_rows: int = BLOCK_ROWS, progress: bool = True
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray | None]]:
    """Yield (start, stop, p_forward_rows, p_partner_rows) blocks of probabilities.

    For an ordinary file the partner is None and each window's probability is the
    predictor's (averaged with its computed reverse complement when `rc_average`). For a
    file with ``rc_pairs`` (DeepSEA import: the second half holds the reverse complements
    of the first), blocks cover the first half; the partner block is rows
    [start + N/2, stop + N/2], and with `rc_average` both hold the pair's mean.
    """
    n_eval, plan = _block_plan(data, block_rows)
    half = n_eval if data.rc_pairs else 0

    def read(block: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
        a, b = block
        fwd = data.read_codes(a, b)[0]
        return fwd, (data.read_codes(a + half, b + half)[0] if data.rc_pairs else None)

    with (
        ThreadPoolExecutor(1) as pool,
        tqdm(
            total=len(data), unit="win", desc="predict", disable=None if progress else True
        ) as bar,
    ):
        nxt = pool.submit(read, plan[0]) if plan else None
        for i, (a, b) in enumerate(plan):
            fwd, partner = nxt.result()
            nxt = pool.submit(read, plan[i + 1]) if i + 1 < len(plan) else None
            p = predictor.probabilities(fwd, reverse=partner)
            other = None
            if partner is not None:
                other = p if predictor.rc_average else predictor.probabilities(partner)
            bar.update((b - a) * (2 if partner is not None else 1))
            yield a, b, p, other


def _create_predictions(path: Path, data: WindowsH5, attrs: dict, with_baseline: bool) -> h5py.File:
    """Open `path` for writing with the predictions layout (see docs/formats.md)."""
    n, t = len(data), data.n_targets
    h5 = h5py.File(path, "w")
    chunks = (max(1, min(n, BLOCK_ROWS)), max(1, min(t, 16)))
    for name in ("probabilities", "baseline") if with_baseline else ("probabilities",):
        h5.create_dataset(
            name, (n, t), dtype="f4", chunks=chunks if n and t else None, fillvalue=np.nan
        )
    write_targets_h5(h5, data.targets)
    coords = data.coordinates()
    index = {name: i for i, name in enumerate(data.contigs)}
    h5.create_dataset("windows/chrom", data=coords["chrom"].map(index).to_numpy(dtype=np.int32))
    for name in ("start", "end"):
        h5.create_dataset(f"windows/{name}", data=coords[name].to_numpy(dtype=np.int64))
    h5.create_dataset("contigs", data=np.array(data.contigs, dtype=object), dtype=_STR)
    for key, value in {
        "format": PREDICTIONS_FORMAT,
        "format_version": 1,
        "package_version": __version__,
        **attrs,
    }.items():
        h5.attrs[key] = (
            json.dumps(value) if isinstance(value, (dict, list)) or value is None else value
        )
    return h5


class _Rows:
    """The first `stop` rows of a 2-D HDF5 dataset, sliced by columns lazily (for metrics)."""

    def __init__(self, ds: h5py.Dataset, stop: int) -> None:
        self.ds, self.stop = ds, stop
        self.shape = (stop, ds.shape[1])

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        return self.ds[: self.stop, key[1]]


def _write_predictions(
    h5: h5py.File, blocks: Iterator, half: int, name: str = "probabilities"
) -> None:
    """Store prediction blocks; partner blocks (rc-pair files) go to rows shifted by `half`."""
    ds = h5[name]
    for a, b, p, partner in blocks:
        ds[a:b] = p
        if partner is not None:
            ds[a + half : b + half] = partner


def _baseline_blocks(base: Any, data: WindowsH5, n_eval: int, half: int) -> Iterator:
    """Baseline probabilities over the scored rows, in blocks (partner rows get the same values:
    strand-collapsed k-mer features are identical for a window and its reverse complement)."""
    for a in tqdm(range(0, n_eval, BLOCK_ROWS), desc="baseline", unit="block", disable=None):
        b = min(a + BLOCK_ROWS, n_eval)
        p = base.predict_proba(data.read_codes(a, b)[0])
        yield a, b, p, (p if half else None)


def _labels(data: WindowsH5, n_eval: int) -> np.ndarray:
    """Labels of the scored rows; for rc-pair files, warn when the two halves disagree."""
    labels = data.labels()
    if data.rc_pairs:
        differ = int((labels[:n_eval] != labels[n_eval:]).any(axis=1).sum())
        if differ:
            warnings.warn(
                f"{data.path}: {differ} windows have labels different from their reverse-complement "
                "partner; metrics use the first (forward) half",
                DanQWarning,
                stacklevel=2,
            )
    return labels[:n_eval]


def _fit_baseline(
    train: str | os.PathLike | None, test: WindowsH5, k: int, max_train: int, c: float | None
) -> Any:
    """Fit the k-mer baseline on `train` (checked to have the test file's targets)."""
    from danq_pipeline.baseline import fit_kmer_baseline

    tr = WindowsH5(train)
    if (
        tr.targets["id"].tolist() != test.targets["id"].tolist()
        or tr.targets["name"].tolist() != test.targets["name"].tolist()
    ):
        raise DanQError(
            f"{tr.path}: its targets differ from those of {test.path}; give the training file of "
            "the same prepared dataset to --train"
        )
    return fit_kmer_baseline(tr, k=k, max_train=max_train, c=c)


def _add_baseline(
    metrics: pd.DataFrame, labels: np.ndarray, h5: h5py.File | None, n_eval: int, base: Any
) -> pd.DataFrame:
    """Add baseline_auroc / baseline_auprc (NaN when there is no baseline or it was not fitted)."""
    metrics = metrics.copy()
    if base is None:
        metrics["baseline_auroc"] = np.nan
        metrics["baseline_auprc"] = np.nan
        return metrics
    auroc, auprc = auroc_auprc(labels, _Rows(h5["baseline"], n_eval))
    unfit = ~base.fitted
    auroc[unfit] = np.nan
    auprc[unfit] = np.nan
    metrics["baseline_auroc"], metrics["baseline_auprc"] = auroc, auprc
    extra = np.where(unfit, "baseline not fitted: one class only in its training sample", "")
    metrics["note"] = [
        "; ".join(x for x in pair if x) for pair in zip(metrics["note"], extra, strict=True)
    ]
    return metrics


def select_curve_targets(metrics: pd.DataFrame, top_n: int = 12) -> list[tuple[int, str]]:
    """Targets to draw curves for: all when at most max(`top_n`, 24), else the best and worst
    `top_n` by AUROC (half each).

    Returns (row index, group) pairs with group "" (all shown), "best" or "worst".
    """
    defined = metrics["auroc"].dropna().sort_values(ascending=False, kind="stable")
    if len(metrics) <= max(top_n, ALL_CURVES_MAX):
        return [(int(i), "") for i in defined.index]
    n_best = (top_n + 1) // 2
    best = [(int(i), "best") for i in defined.index[:n_best]]
    rest = defined.index[n_best:]
    worst = [(int(i), "worst") for i in rest[max(0, len(rest) - (top_n - n_best)) :]]
    return best + worst


def curve_data(
    metrics: pd.DataFrame,
    labels: np.ndarray,
    h5: h5py.File,
    n_eval: int,
    chosen: list[tuple[int, str]],
) -> list[dict]:
    """ROC and PR curves (scikit-learn) of the chosen targets, model and baseline."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    out = []
    for i, group in chosen:
        y = labels[:, i] != 0
        row = metrics.iloc[i]
        item = {
            "name": str(row["name"]),
            "id": int(row["id"]),
            "class": str(row["class"]),
            "group": group,
            "auroc": float(row["auroc"]),
            "auprc": float(row["auprc"]),
            "baseline_auroc": float(row["baseline_auroc"]),
            "baseline_auprc": float(row["baseline_auprc"]),
            "positive_rate": float(row["auprc_random"]),
        }
        for key in ("probabilities", "baseline"):
            if key not in h5:
                continue
            s = h5[key][:n_eval, i]
            fpr, tpr, _ = roc_curve(y, s)
            prec, rec, _ = precision_recall_curve(y, s)
            item[key] = {"fpr": fpr, "tpr": tpr, "precision": prec, "recall": rec}
        out.append(item)
    return out


def _write_tsv(frame: pd.DataFrame, path: Path) -> None:
    """Metric tables: undefined values written as NaN (spreadsheets read it as text, not 0)."""
    write_tsv(frame, path, float_format="%.6g", na_rep="NaN")


METRIC_ORDER = (
    "id",
    "name",
    "class",
    "n_pos",
    "n_neg",
    "auroc",
    "auprc",
    "auprc_random",
    "baseline_auroc",
    "baseline_auprc",
)


def _order_columns(metrics: pd.DataFrame) -> pd.DataFrame:
    """Fixed columns first, reference columns next, note last."""
    ref = [c for c in metrics.columns if c not in METRIC_ORDER and c != "note"]
    return metrics[[*METRIC_ORDER, *ref, "note"]]


def evaluate_model(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    train: str | os.PathLike | None = None,
    baseline: bool = True,
    baseline_k: int = 5,
    baseline_max_train: int = 20000,
    baseline_c: float | None = None,
    reference: str | os.PathLike | None = None,
    rc_average: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    top_n: int = 12,
    figures: bool = True,
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate checkpoint `model` on windows file `data`; write every output under `out_dir`.

    Parameters
    ----------
    model, data : path
        Checkpoint from `danq train` and a windows HDF5 file with the same targets and
        window length.
    out_dir : path
        Receives metrics.tsv, summary.tsv, predictions.h5, run_info.json, figures/ and,
        with `reference`, reference_summary.tsv (docs/formats.md).
    train : path, optional
        Training windows file for the k-mer baseline; without it there is no baseline
        (its columns are NaN and run_info.json says why). Default is None.
    baseline, baseline_k, baseline_max_train, baseline_c : optional
        Fit the baseline (default True), its k-mer length (5), training-row cap (20000) and
        L2 strength C (None: chosen on held-out training windows, see baseline.py).
    reference : path, optional
        Reference per-target table (DanQ paper table or generic TSV; see reference.py).
    rc_average : bool, optional
        Average each window's probability with its reverse complement's. Default is True.
    batch_size, device, precision, top_n, figures, progress : optional
        Prediction batch size (256), device ("auto"), "fp32" or "bf16" (predictor.py), panels per
        curve figure (12), draw figures (True), progress bars (True; off when not a TTY).
    """
    from danq_pipeline.reference import attach_reference, read_reference, reference_summary

    t0 = time.perf_counter()
    ensure_writable(out_dir, "out_dir", folder=True)
    test = WindowsH5(data)
    if len(test) == 0:
        raise DanQError(
            f"{test.path}: holds no windows; check the test holdout given to `danq prepare`"
        )
    check_precision(precision)
    trained = load_model(model, device=None)
    check_compatible(trained, test, model)
    ref = read_reference(reference) if reference is not None else None
    with output_folder(out_dir) as out:  # removed again if anything below fails
        base = (
            _fit_baseline(train, test, baseline_k, baseline_max_train, baseline_c)
            if (baseline and train)
            else None
        )
        info = _run_info(model, test, train, baseline, base, rc_average, reference) | {
            "precision": precision
        }
        predictor = as_predictor(
            trained,
            device=device,
            precision=precision,
            batch_size=batch_size,
            rc_average=rc_average,
        )
        metrics, curves, n_eval, seconds = _predict_and_score(
            predictor, test, out, base, info, top_n=top_n if figures else 0, progress=progress
        )
        ref_summary = None
        if ref is not None:
            metrics = attach_reference(metrics, ref)
            ref_summary = reference_summary(metrics, ref)
            _write_tsv(ref_summary, out / "reference_summary.tsv")
        metrics = _order_columns(metrics)
        summary = summarize(
            metrics, ("auroc", "auprc", "auprc_random", "baseline_auroc", "baseline_auprc")
        )
        _write_tsv(metrics, out / "metrics.tsv")
        _write_tsv(summary, out / "summary.tsv")
        info.update(
            n_scored_windows=n_eval,
            predict_seconds=round(seconds, 2),
            total_seconds=round(time.perf_counter() - t0, 2),
        )
        if figures:
            from danq_pipeline.figures import evaluation_figures

            info["figures"] = evaluation_figures(out / "figures", metrics, curves, ref)
        write_json(info, out / "run_info.json")
        return EvaluationResult(metrics, summary, ref_summary, out, info)


def _predict_and_score(
    predictor: Predictor,
    test: WindowsH5,
    out: Path,
    base: Any,
    info: dict,
    *,
    top_n: int,
    progress: bool,
) -> tuple[pd.DataFrame, list[dict], int, float]:
    """Write predictions.h5 (atomically) and compute per-target metrics and curve data."""
    n_eval, _ = _block_plan(test, BLOCK_ROWS)
    half = n_eval if test.rc_pairs else 0
    with atomic_path(out / "predictions.h5") as tmp:
        with _create_predictions(tmp, test, info, base is not None) as h5:
            t0 = time.perf_counter()
            _write_predictions(h5, iter_predictions(predictor, test, progress=progress), half)
            seconds = time.perf_counter() - t0
            if base is not None:
                _write_predictions(h5, _baseline_blocks(base, test, n_eval, half), half, "baseline")
            labels = _labels(test, n_eval)
            metrics = per_target_metrics(labels, _Rows(h5["probabilities"], n_eval), test.targets)
            metrics = _add_baseline(metrics, labels, h5, n_eval, base)
            curves = (
                curve_data(metrics, labels, h5, n_eval, select_curve_targets(metrics, top_n))
                if top_n
                else []
            )
    return metrics, curves, n_eval, seconds


def _run_info(
    model: Any,
    test: WindowsH5,
    train: Any,
    baseline: bool,
    base: Any,
    rc_average: bool,
    reference: Any,
) -> dict:
    """Provenance and settings recorded in run_info.json and the predictions file attributes."""
    if base is not None:
        why = ""
    elif not baseline:
        why = "baseline switched off (--no-baseline)"
    else:
        why = "no training file given (--train), so no baseline was fitted"
    mode = (
        "rc_pairs partner average"
        if (test.rc_pairs and rc_average)
        else "computed reverse complement average"
        if rc_average
        else "forward strand only"
    )
    return {
        "model": str(model),
        "data": str(test.path),
        "train": str(train) if train else None,
        "rc_pairs": test.rc_pairs,
        "rc_average": rc_average,
        "strand_mode": mode,
        "n_windows": len(test),
        "n_targets": test.n_targets,
        "window_size": test.window,
        "scored_rows": "first half (forward windows)" if test.rc_pairs else "all",
        "baseline": base.info | {"seconds": round(base.seconds, 2)} if base is not None else None,
        "baseline_missing_reason": why,
        "reference": str(reference) if reference else None,
        "package_version": __version__,
    }
