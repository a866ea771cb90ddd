"""The k-mer baseline: what a bag of short words predicts, so users see what DanQ adds.

Each window becomes its k-mer spectrum (frequency of every k-mer, a k-mer and its reverse
complement counted together, so both strands give the same features), and one L2
logistic regression per target (scikit-learn) is fit on a subsample of the training file.
It is evaluated on the same test windows as the model. No torch here.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from danq_pipeline.dataset import WindowsH5
from danq_pipeline.errors import DanQError


def canonical_kmer_map(k: int) -> tuple[np.ndarray, int]:
    """Map every k-mer index (base-4, A=0 C=1 G=2 T=3) to a column of its strand-collapsed class.

    Returns the map (4**k,) int32 and the number of classes.
    """
    n = 4**k
    idx = np.arange(n)
    digits = (idx[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4  # (n, k), most significant first
    rc = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(axis=1)
    canon = np.minimum(idx, rc)
    _, column = np.unique(canon, return_inverse=True)
    return column.astype(np.int32), int(column.max()) + 1


def kmer_spectrum(codes: np.ndarray, k: int = 5) -> np.ndarray:
    """Strand-collapsed k-mer frequencies of each window.

    Parameters
    ----------
    codes : numpy.ndarray, shape=(n, L), dtype=uint8
        Base codes (A=0 C=1 G=2 T=3, N=4); k-mers containing N are skipped.
    k : int, optional
        Word length. Default is 5 (512 features).

    Returns
    -------
    x : numpy.ndarray, shape=(n, n_features), float32
        Each row sums to 1 (or 0 for a window of Ns).
    """
    codes = np.asarray(codes)
    n, length = codes.shape
    if length < k:
        raise DanQError(f"windows of {length} bp are shorter than the k-mer length {k}")
    column, n_feat = canonical_kmer_map(k)
    m = length - k + 1
    idx = np.zeros((n, m), dtype=np.int32)
    bad = np.zeros((n, m), dtype=bool)
    for j in range(k):
        part = codes[:, j : j + m]
        idx = idx * 4 + np.minimum(part, 3)
        bad |= part > 3
    flat = (np.arange(n, dtype=np.int64)[:, None] * n_feat + column[idx])[~bad]
    counts = np.bincount(flat, minlength=n * n_feat).reshape(n, n_feat).astype(np.float32)
    total = counts.sum(axis=1, keepdims=True)
    return counts / np.maximum(total, 1.0)


def sample_rows(n_rows: int, max_rows: int, block: int = 1024) -> np.ndarray:
    """Up to `max_rows` row indices in contiguous blocks spread evenly over [0, n_rows)."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    block = max(1, min(block, max_rows))
    n_blocks = max(1, max_rows // block)
    starts = np.linspace(0, n_rows - block, n_blocks).astype(np.int64)
    return np.unique((starts[:, None] + np.arange(block)).ravel())


@dataclass
class KmerBaseline:
    """Fitted per-target logistic regressions on k-mer spectra.

    Attributes: `k`, `coef` (F, T), `intercept` (T,), `fitted` (T,) bool (False where the
    training sample had a single class), `n_train`, `seconds`, and the feature scaler.
    """

    k: int
    coef: np.ndarray
    intercept: np.ndarray
    fitted: np.ndarray
    n_train: int
    scaler: StandardScaler
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Probabilities (n, T) float32 for windows given as base codes (n, L)."""
        x = self.scaler.transform(kmer_spectrum(codes, self.k))
        logits = x @ self.coef + self.intercept
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -40, 40)))).astype(np.float32)


C_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def fit_kmer_baseline(
    train: WindowsH5,
    *,
    k: int = 5,
    max_train: int = 20000,
    c: float | None = None,
    max_iter: int = 200,
    tol: float = 1e-4,
    n_jobs: int | None = None,
) -> KmerBaseline:
    """Fit one logistic regression per target on k-mer spectra of (a subsample of) `train`.

    The L2 strength `c` (scikit-learn's C) is, by default, chosen from `C_GRID` by the mean
    AUROC on the last 20% of the training sample (a contiguous stretch, so overlapping
    windows do not leak) over up to 16 targets (`choose_c`); an unregularised spectrum model overfits
    rare targets and would be a straw man. For files holding reverse-complement pairs
    (`rc_pairs`) only the first (forward) half is used: strand-collapsed features of a
    window and its partner are identical. Targets are fit in `n_jobs` threads (default:
    `default_jobs()`).
    """
    t0 = time.perf_counter()
    n_rows = len(train) // 2 if train.rc_pairs else len(train)
    rows = sample_rows(n_rows, max_train)
    codes, labels = train.read_rows(rows)
    features = kmer_spectrum(codes, k)
    scaler = StandardScaler().fit(features)
    x = scaler.transform(features).astype(np.float64)
    y = labels != 0
    n_jobs = n_jobs or default_jobs()
    scores = {}
    if c is None:
        scores = choose_c(x, y, n_jobs=n_jobs, max_iter=max_iter, tol=tol)
        c = max(scores, key=lambda k_: (scores[k_], -k_)) if scores else 1e-2
    jobs = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit_one)(x, y[:, t], c, max_iter, tol) for t in range(y.shape[1])
    )
    coef = np.stack([j[0] for j in jobs], axis=1)
    intercept = np.array([j[1] for j in jobs])
    fitted = np.array([j[2] for j in jobs], dtype=bool)
    info = {
        "train_file": str(train.path),
        "n_train": len(rows),
        "k": k,
        "C": c,
        "C_selection_auroc": {str(key): round(v, 4) for key, v in scores.items()},
    }
    return KmerBaseline(
        k=k,
        coef=coef,
        intercept=intercept,
        fitted=fitted,
        n_train=len(rows),
        scaler=scaler,
        seconds=time.perf_counter() - t0,
        info=info,
    )


def default_jobs() -> int:
    """Threads to use: $OMP_NUM_THREADS when set (Snakemake rules set it to their threads),
    else the CPUs this process may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def choose_c(
    x: np.ndarray,
    y: np.ndarray,
    *,
    grid: tuple[float, ...] = C_GRID,
    max_targets: int = 16,
    n_jobs: int = 1,
    max_iter: int = 200,
    tol: float = 1e-4,
) -> dict[float, float]:
    """Mean held-out AUROC for each C in `grid` (fit on the first 80% of rows, scored on the rest).

    C values are tried from the smallest (strongest regularisation, cheapest fit) up and
    the search stops at the first C scoring below the best so far (the held-out AUROC is
    unimodal in C in practice). Uses up to `max_targets` targets spread over the table that
    have both classes on both sides; returns {} when there are none (caller uses C=0.01).
    """
    from danq_pipeline.metrics import auroc_auprc

    cut = int(len(x) * 0.8)
    ok = [
        t
        for t in range(y.shape[1])
        if 0 < y[:cut, t].sum() < cut and 0 < y[cut:, t].sum() < len(x) - cut
    ]
    if not ok:
        return {}
    chosen = [
        ok[i] for i in np.unique(np.linspace(0, len(ok) - 1, min(max_targets, len(ok))).astype(int))
    ]
    out: dict[float, float] = {}
    for c in sorted(grid):  # weak to strong fits; stop at the first decline after the best
        fits = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_fit_one)(x[:cut], y[:cut, t], c, max_iter, tol) for t in chosen
        )
        logits = x[cut:] @ np.stack([f[0] for f in fits], axis=1) + np.array([f[1] for f in fits])
        out[c] = float(np.nanmean(auroc_auprc(y[cut:][:, chosen], logits)[0]))
        if len(out) > 1 and out[c] < max(out.values()):
            break
    return out


def _fit_one(
    x: np.ndarray, y: np.ndarray, c: float, max_iter: int, tol: float
) -> tuple[np.ndarray, float, bool]:
    """(coef, intercept, fitted) of one target; a single-class target gets its log-odds only."""
    if y.all() or not y.any():
        rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-6, 1 - 1e-6))
        return np.zeros(x.shape[1]), float(np.log(rate / (1 - rate))), False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = LogisticRegression(C=c, max_iter=max_iter, tol=tol).fit(x, y)
    return lr.coef_[0], float(lr.intercept_[0]), True
