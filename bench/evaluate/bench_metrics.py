"""Benchmark per-target AUROC/AUPRC at DeepSEA's test scale: vectorised vs scikit-learn.

Generates labels and scores for 919 targets x 455,024 windows (DeepSEA's test set; positive
rates log-uniform 0.05%-15%, scores = sigmoid(noise + signal), float32 like real predictions),
then times `danq_pipeline.metrics.auroc_auprc` on every target and scikit-learn's
`roc_auc_score` + `average_precision_score` on a subsample of targets (extrapolated per target
to all of them), checks both agree on that subsample, and prints the ratio and peak RSS. On a
shared machine the load can change between the two timings, so the vectorised code is also
timed on the same subsample right before scikit-learn (the ratio least affected by load).
With --h5, scores are first written to an HDF5 file with evaluate's chunking and the metrics
read them back target block by target block (the bounded-memory path `danq evaluate` takes).

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/evaluate/bench_metrics.py
      (--windows 455024 --targets 919 --sk-targets 16 are the defaults)
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_gib() -> float:
    """Peak resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def synthetic(n: int, t: int, seed: int = 0, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Labels (n, t) uint8 and float32 scores, generated in column blocks (bounded memory)."""
    rng = np.random.default_rng(seed)
    rates = np.exp(rng.uniform(np.log(5e-4), np.log(0.15), t))
    y = np.empty((n, t), np.uint8)
    s = np.empty((n, t), np.float32)
    for a in range(0, t, block):
        b = min(a + block, t)
        yy = rng.random((n, b - a), dtype=np.float32) < rates[a:b]
        y[:, a:b] = yy
        z = rng.standard_normal((n, b - a), dtype=np.float32) + 1.5 * yy - 3.0
        s[:, a:b] = 1 / (1 + np.exp(-z))
    return y, s


def time_sklearn(
    y: np.ndarray, s: np.ndarray, cols: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    t0 = time.perf_counter()
    auroc = np.array([roc_auc_score(y[:, c], s[:, c]) for c in cols])
    auprc = np.array([average_precision_score(y[:, c], s[:, c]) for c in cols])
    return time.perf_counter() - t0, auroc, auprc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--windows", type=int, default=455_024)
    ap.add_argument("--targets", type=int, default=919)
    ap.add_argument("--sk-targets", type=int, default=16, help="targets scikit-learn is timed on")
    ap.add_argument("--block", type=int, default=16, help="targets sorted at once")
    ap.add_argument("--h5", action="store_true", help="also time the HDF5 read-back path")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from danq_pipeline.metrics import auroc_auprc

    t0 = time.perf_counter()
    y, s = synthetic(args.windows, args.targets)
    gen_s, rss_data = time.perf_counter() - t0, rss_gib()
    t0 = time.perf_counter()
    auroc, auprc = auroc_auprc(y, s, block=args.block)
    vec_s, rss_vec = time.perf_counter() - t0, rss_gib()
    cols = np.linspace(0, args.targets - 1, args.sk_targets).astype(int)
    t0 = time.perf_counter()
    auroc_auprc(y[:, cols], s[:, cols], block=args.block)
    vec_sub_s = time.perf_counter() - t0
    sk_s, sk_auroc, sk_auprc = time_sklearn(y, s, cols)
    sk_all = sk_s / len(cols) * args.targets
    out = {
        "windows": args.windows,
        "targets": args.targets,
        "generate_s": round(gen_s, 1),
        "vectorised_s": round(vec_s, 2),
        "sklearn_s_on_subsample": round(sk_s, 2),
        "sklearn_targets_timed": len(cols),
        "sklearn_s_extrapolated": round(sk_all, 1),
        "speedup": round(sk_all / vec_s, 2),
        "vectorised_s_on_subsample": round(vec_sub_s, 2),
        "speedup_same_subsample": round(sk_s / vec_sub_s, 2),
        "max_abs_diff_auroc": float(np.abs(auroc[cols] - sk_auroc).max()),
        "max_abs_diff_auprc": float(np.abs(auprc[cols] - sk_auprc).max()),
        "rss_gib_after_data": round(rss_data, 2),
        "rss_gib_after_metrics": round(rss_vec, 2),
    }
    if args.h5:
        out.update(time_h5(y, s, auroc, args.block))
    print(json.dumps(out, indent=1))
    print(
        f"metrics for {args.targets} targets x {args.windows} windows: vectorised {vec_s:.1f} s vs "
        f"scikit-learn {sk_all:.0f} s (extrapolated from {len(cols)} targets): {sk_all / vec_s:.1f}x faster; "
        f"results equal to {max(out['max_abs_diff_auroc'], out['max_abs_diff_auprc']):.1e}; "
        f"same {len(cols)} targets back to back: {sk_s / vec_sub_s:.1f}x"
    )
    return 0


def time_h5(y: np.ndarray, s: np.ndarray, auroc: np.ndarray, block: int) -> dict:
    """Write scores with evaluate's chunking, then compute metrics reading target blocks back."""
    import h5py

    from danq_pipeline.evaluate import BLOCK_ROWS
    from danq_pipeline.metrics import auroc_auprc

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.h5"
        t0 = time.perf_counter()
        with h5py.File(path, "w") as h5:
            ds = h5.create_dataset("p", s.shape, "f4", chunks=(BLOCK_ROWS, 16))
            for a in range(0, len(s), BLOCK_ROWS):
                ds[a : a + BLOCK_ROWS] = s[a : a + BLOCK_ROWS]
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with h5py.File(path, "r") as h5:
            got, _ = auroc_auprc(y, h5["p"], block=block)
        read_s = time.perf_counter() - t0
    assert np.array_equal(got, auroc)
    return {"h5_write_s": round(write_s, 1), "h5_metrics_s": round(read_s, 1)}


if __name__ == "__main__":
    raise SystemExit(main())
