"""Planted-motif windows files for the train/loader/model tests (written into tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from danq_pipeline.dataset import WindowsWriter
from danq_pipeline.encode import encode
from danq_pipeline.targets import targets_frame

MOTIFS = ("GGGCGCCCCCTGG", "TTATCGATAA")  # a CTCF-like core and an unrelated palindrome


def planted_windows(path: Path, n: int, length: int = 100, seed: int = 0) -> Path:
    """Random windows; target 0 = motif 0 planted, target 1 = motif 1, target 2 = either.

    Motifs go in on either strand at a random position, so a model must learn both
    orientations (reverse-complement augmentation helps).
    """
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    labels = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        for t, motif in enumerate(MOTIFS):
            if rng.random() < 0.3:
                m = encode(motif)
                if rng.random() < 0.5:
                    m = (3 - m)[::-1]
                at = rng.integers(0, length - len(m) + 1)
                codes[i, at : at + len(m)] = m
                labels[i, t] = 1
    labels[:, 2] = labels[:, 0] | labels[:, 1]
    targets = targets_frame(["motifA", "motifB", "either"], ["TF", "TF", "DNase"])
    with WindowsWriter(
        path, window=length, targets=targets, contigs=["chrT"], split=path.stem
    ) as w:
        w.append(codes, labels, np.zeros(n, dtype=np.int32), np.arange(n, dtype=np.int64) * length)
    return path
