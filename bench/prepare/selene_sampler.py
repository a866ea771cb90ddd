"""Selene 0.6's IntervalsSampler as a prepare baseline (run by bench_prepare.py in bench/.venv-selene).

Builds what Selene needs from the benchmark's targets sheet (one sorted, bgzipped, tabix-indexed
BED of every peak with its target name: Selene's GenomicFeatures), then times
`IntervalsSampler.sample()` drawing `--windows` 1000-bp windows (one-hot sequence + 919 labels,
200-bp centre bin, 50% overlap threshold) from the given intervals. Prints one JSON line:
windows/s of sampling and the seconds spent building the index (not counted in the rate).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def peaks_tabix(sheet: Path, out: Path) -> tuple[Path, list[str]]:
    """All peaks as chrom/start/end/target, sorted, bgzipped and tabix-indexed."""
    import pandas as pd
    import pysam

    targets = pd.read_csv(sheet, sep="\t")
    frames = []
    for name, file in zip(targets["name"], targets["file"], strict=True):
        bed = pd.read_csv(
            sheet.parent / file, sep="\t", header=None, usecols=[0, 1, 2], names=["c", "s", "e"]
        )
        bed["t"] = name
        frames.append(bed)
    peaks = pd.concat(frames, ignore_index=True).sort_values(["c", "s", "e"], kind="stable")
    out.parent.mkdir(parents=True, exist_ok=True)
    plain = out.with_suffix("")
    peaks.to_csv(plain, sep="\t", header=False, index=False)
    pysam.tabix_index(str(plain), preset="bed", force=True)  # writes plain + ".gz" and ".gz.tbi"
    return Path(str(plain) + ".gz"), list(targets["name"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fasta", required=True, type=Path)
    ap.add_argument("--targets", required=True, type=Path)
    ap.add_argument("--intervals", required=True, type=Path)
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--workdir", required=True, type=Path)
    args = ap.parse_args()
    from selene_sdk.samplers import IntervalsSampler
    from selene_sdk.sequences import Genome

    t0 = time.perf_counter()
    tabix, features = peaks_tabix(args.targets, args.workdir / "peaks.bed.gz")
    t_index = time.perf_counter() - t0
    sampler = IntervalsSampler(
        Genome(str(args.fasta)),
        str(tabix),
        features,
        str(args.intervals),
        seed=1,
        validation_holdout=0.05,
        test_holdout=0.05,
        sequence_length=1000,
        center_bin_to_predict=200,
        feature_thresholds=0.5,
        mode="train",
        save_datasets=[],
        output_dir=str(args.workdir),
    )
    # proportion holdouts: Selene needs intervals in every mode; 90% of them are for training
    sampler.sample(batch_size=10)  # warm-up: opens the FASTA and the tabix file
    batch, n = 100, 0
    t0 = time.perf_counter()
    while n < args.windows:
        seqs, labels = sampler.sample(batch_size=batch)
        assert seqs.shape[1:] == (1000, 4) and labels.shape[1] == len(features)
        n += len(seqs)
    rate = n / (time.perf_counter() - t0)
    print(
        json.dumps(
            {"windows_per_s": round(rate, 1), "windows": n, "seconds_index": round(t_index, 1)}
        )
    )


if __name__ == "__main__":
    main()
