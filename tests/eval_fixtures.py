"""Tiny windows files and checkpoints for the evaluate/report tests (written into tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from danq_pipeline.dataset import WindowsWriter
from danq_pipeline.encode import reverse_complement_codes
from danq_pipeline.targets import targets_frame

CLASSES = ("DNase", "TF", "TF", "histone", "TF")
LENGTH = 60  # small preset: (60 - 19 + 1) // 13 = 3 pooled steps


def tiny_targets(n: int = len(CLASSES), classes: tuple[str, ...] = CLASSES) -> pd.DataFrame:
    """Targets t0..t{n-1} with the given classes (cycled)."""
    return targets_frame([f"t{i}" for i in range(n)], [classes[i % len(classes)] for i in range(n)])


def gc_windows(
    n: int, n_targets: int, seed: int, length: int = LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """Random codes and labels; target 0 follows GC content (learnable from k-mers), the last
    target has no positives, the others are random."""
    rng = np.random.default_rng(seed)
    gc = rng.uniform(0.2, 0.8, size=(n, 1))
    strong = rng.random((n, length)) < gc
    codes = np.where(
        strong, rng.choice([1, 2], size=(n, length)), rng.choice([0, 3], size=(n, length))
    )
    codes = codes.astype(np.uint8)
    labels = (rng.random((n, n_targets)) < 0.3).astype(np.uint8)
    labels[:, 0] = (gc[:, 0] > 0.5).astype(np.uint8)
    labels[:, -1] = 0
    return codes, labels


def write_windows(
    path: Path, codes: np.ndarray, labels: np.ndarray, targets: pd.DataFrame, rc_pairs: bool = False
) -> Path:
    """A windows HDF5 file; with `rc_pairs`, the reverse complements are appended as the second half."""
    if rc_pairs:
        codes = np.concatenate([codes, reverse_complement_codes(codes)])
        labels = np.concatenate([labels, labels])
    n, length = codes.shape
    with WindowsWriter(
        path,
        window=length,
        targets=targets,
        contigs=["chrT"],
        split=path.stem,
        attrs={"rc_pairs": rc_pairs},
    ) as w:
        w.append(codes, labels, np.zeros(n, dtype=np.int32), np.arange(n, dtype=np.int64) * length)
    return path


def tiny_checkpoint(path: Path, targets: pd.DataFrame, length: int = LENGTH, seed: int = 0) -> Path:
    """An untrained small-preset DanQ checkpoint (deterministic weights)."""
    import torch

    from danq_pipeline.model import build_model, save_checkpoint

    torch.manual_seed(seed)
    save_checkpoint(path, build_model("small", len(targets), length), targets)
    return path


def tiny_setup(
    tmp: Path, n_test: int = 120, n_train: int = 300, n_targets: int = len(CLASSES)
) -> dict[str, Path]:
    """model.pt, train.h5 and test.h5 in `tmp` sharing one target table."""
    targets = tiny_targets(n_targets)
    return {
        "model": tiny_checkpoint(tmp / "model.pt", targets),
        "train": write_windows(tmp / "train.h5", *gc_windows(n_train, n_targets, seed=1), targets),
        "test": write_windows(tmp / "test.h5", *gc_windows(n_test, n_targets, seed=2), targets),
    }
