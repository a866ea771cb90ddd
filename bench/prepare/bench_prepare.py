"""Benchmark `danq prepare` at hg19 proportions and project it to DeepSEA scale.

Generates, in a temporary folder:
* a genome of three contigs with the real hg19 lengths and major N gaps of chr1, chr21 and
  chr22 (348 Mb; random soft-masked sequence), written as plain FASTA;
* 919 targets (125 DNase, 690 TF, 104 histone) at DeepSEA-like peak densities scaled to the
  genome's share of hg19, peaks drawn mostly from a shared pool of "regulatory sites" (so
  targets co-occur as real ones do) plus uniform background; narrowPeak/BED6/BED3 mixed.

Then runs `prepare_dataset` with DeepSEA's choices (TF anchors, 1000-bp windows, 200-bp bins,
no negatives, holdout chr22 as test) and reports windows/s, peak RSS, HDF5 bytes per window
and the projection to DeepSEA scale (hg19 3.1 Gb, 919 targets, ~4.4M training windows).
In the same run a naive baseline (one pyfaidx fetch + Python one-hot per window, as most
scripts do) runs on a sample of the kept windows; the ratio of windows/s is printed.

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/prepare/bench_prepare.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HG19_SIZE = 3_137_161_264
DEEPSEA_TRAIN_WINDOWS = 4_400_000
# (name, length, [(gap_start, gap_end), ...]): real hg19 lengths and main gaps (UCSC gap table)
CONTIGS = [
    ("chr1", 249_250_621, [(0, 10_000), (177_417, 227_417), (267_719, 317_719), (471_368, 521_368),
                           (2_634_220, 2_684_220), (3_845_268, 3_995_268), (13_052_998, 13_102_998),
                           (13_219_912, 13_319_912), (17_125_658, 17_175_658), (29_878_082, 29_928_082),
                           (103_863_906, 103_913_906), (120_697_156, 120_747_156),
                           (120_936_695, 121_086_695), (121_485_434, 142_535_434),
                           (142_731_022, 142_781_022), (249_240_621, 249_250_621)]),
    ("chr21", 48_129_895, [(0, 9_411_193), (9_595_548, 9_645_548), (9_775_437, 9_825_437),
                           (10_034_920, 10_184_920), (10_215_976, 10_365_976), (11_188_129, 14_338_129),
                           (42_955_559, 43_005_559), (48_119_895, 48_129_895)]),
    ("chr22", 51_304_566, [(0, 16_050_000), (16_697_850, 16_847_850), (20_509_431, 20_609_431),
                           (50_364_777, 50_414_777), (51_244_566, 51_304_566)]),
]
# class: (targets, peaks per target genome-wide, median width, width spread (log-sd))
CLASSES = {"DNase": (125, 120_000, 150, 0.0), "TF": (690, 25_000, 300, 0.3), "histone": (104, 80_000, 1000, 0.8)}
POOL_SITES = 1_000_000  # genome-wide regulatory sites the targets share


def write_genome(path: Path, rng: np.random.Generator, chunk: int = 10_000_000) -> None:
    """Random soft-masked sequence with the gaps above, 60 bp per line."""
    lut = np.frombuffer(b"ACGTacgtN", dtype=np.uint8)
    with open(path, "wb") as fh:
        for name, length, gaps in CONTIGS:
            fh.write(f">{name}\n".encode())
            codes = rng.integers(0, 4, length, dtype=np.uint8)
            masked = np.repeat(rng.random(-(-length // 1000)) < 0.5, 1000)[:length]
            codes += 4 * masked.astype(np.uint8)
            for a, b in gaps:
                codes[a:b] = 8
            seq = lut[codes]
            full = length // 60 * 60
            lines = np.hstack([seq[:full].reshape(-1, 60), np.full((full // 60, 1), ord("\n"), np.uint8)])
            fh.write(lines.tobytes())
            if length > full:
                fh.write(seq[full:].tobytes() + b"\n")


def write_targets(folder: Path, rng: np.random.Generator, share: float) -> tuple[Path, int]:
    """919 peak files + targets sheet; returns the sheet path and the number of peaks."""
    folder.mkdir(parents=True, exist_ok=True)
    ok = [(name, a, b) for name, length, gaps in CONTIGS for a, b in _ungapped(length, gaps)]
    weights = np.array([b - a for _, a, b in ok], dtype=float)
    pool = _uniform_positions(rng, ok, weights, int(POOL_SITES * share))
    popularity = rng.pareto(1.2, len(pool[0])) + 1
    popularity /= popularity.sum()
    rows, n_total, i = ["name\tfile\tclass\textend\tsummit"], 0, 0
    for cls, (n_targets, n_peaks, width, spread) in CLASSES.items():
        for k in range(n_targets):
            n = max(10, int(n_peaks * share * rng.uniform(0.5, 1.5)))
            from_pool = rng.random(n) < 0.8
            pick = rng.choice(len(pool[0]), size=int(from_pool.sum()), p=popularity)
            bg = _uniform_positions(rng, ok, weights, n - len(pick))
            chrom = np.concatenate([pool[0][pick], bg[0]])
            center = np.concatenate([pool[1][pick] + rng.normal(0, 50, len(pick)).astype(np.int64), bg[1]])
            w = (width * np.exp(rng.normal(0, spread, n))).astype(np.int64) + 1
            start = np.maximum(center - w // 2, 0)
            fmt = ("narrowPeak", "bed6", "bed3")[i % 3]
            _write_peaks(folder / f"t{i:03d}.{fmt}", chrom, start, start + w, fmt)
            rows.append(f"{cls}_{k}\tpeaks/t{i:03d}.{fmt}\t{cls}\t\t")
            n_total += n
            i += 1
    sheet = folder.parent / "targets.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet, n_total


def _ungapped(length: int, gaps: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for a, b in sorted(gaps):
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < length:
        out.append((pos, length))
    return out


def _uniform_positions(rng, ok, weights, n) -> tuple[np.ndarray, np.ndarray]:
    seg = rng.choice(len(ok), size=n, p=weights / weights.sum())
    names = np.array([c for c, _, _ in ok], dtype=object)[seg]
    starts = np.array([a for _, a, _ in ok])[seg]
    spans = np.array([b - a for _, a, b in ok])[seg]
    return names, starts + (rng.random(n) * (spans - 2000)).astype(np.int64) + 1000


def _write_peaks(path: Path, chrom, start, end, fmt: str) -> None:
    """Unsorted peaks in the given format (narrowPeak gets a summit column)."""
    order = np.arange(len(start))
    cols = [chrom, start.astype(str), end.astype(str)]
    if fmt != "bed3":
        cols += [np.array([f"p{j}" for j in order], dtype=object), np.full(len(start), "0", object),
                 np.full(len(start), ".", object)]
    if fmt == "narrowPeak":
        cols += [np.full(len(start), "5.0", object)] * 3 + [((end - start) // 2).astype(str)]
    with open(path, "w") as fh:
        fh.write("\n".join("\t".join(r) for r in zip(*cols, strict=True)) + "\n")


def baseline(fasta: Path, coords, n: int, window: int) -> float:
    """Windows/s of the naive way: one pyfaidx fetch + Python one-hot per window."""
    import pyfaidx

    fa = pyfaidx.Fasta(str(fasta))
    mapping = {"A": (1, 0, 0, 0), "C": (0, 1, 0, 0), "G": (0, 0, 1, 0), "T": (0, 0, 0, 1)}
    sample = coords.sample(n=min(n, len(coords)), random_state=0)
    t0 = time.perf_counter()
    for chrom, start in zip(sample["chrom"], sample["start"], strict=True):
        seq = str(fa[chrom][int(start):int(start) + window]).upper()
        x = np.array([mapping.get(c, (0, 0, 0, 0)) for c in seq], dtype=np.float32).T
        assert x.shape == (4, window)
    return len(sample) / (time.perf_counter() - t0)


def rss_gb() -> float:
    """Peak RSS of this process, GB (ru_maxrss is in KiB on Linux).

    Children (bedtools) are not added: their ru_maxrss counts the pages shared with this
    process at fork time, so it only repeats this process's figure.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _positives_gb(summary) -> float:
    """Memory of the genome-wide positive-bin index (int32 per positive (bin, target)), GB.

    Counted from kept windows x 2, a generous bound for bins later dropped (N, boundaries).
    This is the only structure that grows with the genome; per-contig buffers are set by the
    largest contig, which the benchmark includes at its real hg19 size (chr1, 249 Mb).
    """
    n = summary[["positives_train", "positives_valid", "positives_test"]].to_numpy().sum()
    return 2 * 4 * float(n) / 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=None, help="keep inputs/outputs here (default: a temp dir)")
    ap.add_argument("--baseline-windows", type=int, default=2000)
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from danq_pipeline.dataset import WindowsH5
    from danq_pipeline.prepare import prepare_dataset

    tmp = tempfile.TemporaryDirectory(prefix="danq-bench-prepare-") if args.workdir is None else None
    work = Path(args.workdir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    genome_bp = sum(n for _, n, _ in CONTIGS)
    share = genome_bp / HG19_SIZE
    t0 = time.perf_counter()
    write_genome(work / "genome.fa", rng)
    sheet, n_peaks = write_targets(work / "peaks", rng, share)
    t_gen = time.perf_counter() - t0
    print(f"generated {genome_bp / 1e6:.0f} Mb genome, 919 targets, {n_peaks:,} peaks in {t_gen:.0f} s", flush=True)

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = prepare_dataset(fasta=work / "genome.fa", targets=sheet, out_dir=work / "out",
                              test="chr22", valid="chr21:30000001-35000000", anchor_classes="TF",
                              max_n_fraction=0.0, progress=sys.stderr.isatty())
    elapsed = time.perf_counter() - t0
    rss_self = rss_gb()
    total = res.stats.iloc[-1]
    windows = int(total["kept_train"] + total["kept_valid"] + total["kept_test"])
    h5_bytes = sum(os.path.getsize(res.paths[s]) for s in ("train", "valid", "test"))
    coords = WindowsH5(res.paths["train"]).coordinates()
    base = baseline(work / "genome.fa", coords, args.baseline_windows, 1000)
    ours = windows / elapsed
    scale = max(1 / share, DEEPSEA_TRAIN_WINDOWS / max(int(total["kept_train"]), 1))
    out = {
        "genome_mb": genome_bp / 1e6, "targets": 919, "peaks": n_peaks, "seconds_generate": round(t_gen, 1),
        "seconds_prepare": round(elapsed, 1), "windows": windows, "train_windows": int(total["kept_train"]),
        "bins": int(total["bins"]), "windows_per_s": round(ours), "bins_per_s": round(total["bins"] / elapsed),
        "peak_rss_gb": round(rss_self, 2),
        "projected_deepsea_peak_rss_gb": round(rss_self + _positives_gb(res.summary) * (1 / share - 1), 2),
        "hdf5_bytes_per_window": round(h5_bytes / windows), "baseline_windows_per_s": round(base),
        "speedup_vs_baseline": round(ours / base, 1), "projection_factor": round(scale, 2),
        "projected_deepsea_minutes": round(elapsed * scale / 60, 1),
        "projected_deepsea_hdf5_gb": round(h5_bytes / windows * DEEPSEA_TRAIN_WINDOWS * 1.1 / 1e9, 1),
        "baseline_projected_deepsea_minutes": round(DEEPSEA_TRAIN_WINDOWS / base / 60, 1),
    }
    for k, v in out.items():
        print(f"{k:>36}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
