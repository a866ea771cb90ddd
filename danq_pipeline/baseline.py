"""The k-mer baseline: what a bag of short words predicts, so users see what DanQ adds.

Each window becomes its k-mer spectrum (frequency of every k-mer, a k-mer and its reverse
complement counted together, so both strands give the same features), and one L2
logistic regression per target (scikit-learn) is fit on a subsample of the training file.
It is evaluated on the same test windows as the model. No torch here.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
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
        part = codes[:, j:j + m]
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


def fit_kmer_baseline(train: WindowsH5, *, k: int = 5, max_train: int = 20000, c: float = 1.0,
                      max_iter: int = 200) -> KmerBaseline:
    """Fit one logistic regression per target on k-mer spectra of (a subsample of) `train`.

    For files holding reverse-complement pairs (`rc_pairs`), only the first (forward) half
    is used: the strand-collapsed features of a window and its partner are identical.
    """
    t0 = time.perf_counter()
    n_rows = len(train) // 2 if train.rc_pairs else len(train)
    rows = sample_rows(n_rows, max_train)
    codes, labels = _read_rows(train, rows)
    scaler = StandardScaler().fit(kmer_spectrum(codes, k))
    x = scaler.transform(kmer_spectrum(codes, k))
    n_t = labels.shape[1]
    coef = np.zeros((x.shape[1], n_t))
    intercept = np.zeros(n_t)
    fitted = np.zeros(n_t, dtype=bool)
    for t in range(n_t):
        y = labels[:, t] != 0
        if y.all() or not y.any():
            rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-6, 1 - 1e-6))
            intercept[t] = np.log(rate / (1 - rate))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = LogisticRegression(C=c, max_iter=max_iter).fit(x, y)
        coef[:, t], intercept[t], fitted[t] = lr.coef_[0], lr.intercept_[0], True
    return KmerBaseline(k=k, coef=coef, intercept=intercept, fitted=fitted, n_train=len(rows),
                        scaler=scaler, seconds=time.perf_counter() - t0,
                        info={"train_file": str(train.path), "n_train": len(rows), "k": k, "C": c})


def _read_rows(data: WindowsH5, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of sorted `rows`, read as contiguous runs."""
    cuts = np.flatnonzero(np.diff(rows) != 1) + 1
    parts = [data.read_codes(int(r[0]), int(r[-1]) + 1) for r in np.split(rows, cuts) if len(r)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
