"""Benchmark `danq prepare` on a synthetic genome with hg19's contig lengths, up to the whole genome.

Generates, in a temporary folder (never committed):
* a genome with the real hg19 lengths of the chosen contigs (lengths from pybedtools' hg19
  table; `--whole-genome`: the 25 primary contigs, 3.1 Gb) and the major N gaps of chr1, chr21
  and chr22 (other contigs get none, so they yield more windows than real ones); random
  soft-masked sequence, plain FASTA;
* 919 targets (125 DNase, 690 TF, 104 histone) at DeepSEA-like peak counts per target genome-wide,
  scaled to the genome's share of hg19's primary contigs (1.0 for --whole-genome), peaks drawn
  mostly from a shared pool of "regulatory sites" (so targets co-occur as real ones do) plus
  uniform background; narrowPeak/BED6/BED3 mixed.

Then runs `danq prepare` end to end in its own process with DeepSEA's choices (TF anchors,
1000-bp windows, 200-bp bins, no negatives; holdouts: valid chr7 and test chr8,chr9 with
--whole-genome, else valid chr21:30000001-35000000 and test chr22) and reports wall time, peak
RSS of that process (the largest of it and its bedtools children), HDF5 bytes and windows/s.

Baselines in the same run, on a sample of the kept training windows:
* pyfaidx + numpy: one pyfaidx fetch per window and a numpy lookup table to base codes (what a
  competent script does; it computes no labels, which favours it);
* Selene 0.6's IntervalsSampler (sequence + 919 labels per sampled window, through its tabix
  index of the peaks), when bench/.venv-selene exists (recipe in bench/train/bench_selene.py);
  otherwise reported as not run.

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/prepare/bench_prepare.py --whole-genome --json out.json
      .venv/bin/python bench/prepare/bench_prepare.py --contigs chr21,chr22   # 99 Mb, about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HG19_PRIMARY = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"]
DEEPSEA_TRAIN_WINDOWS = 4_400_000
# major N gaps (UCSC gap table) of the contigs the first version of this benchmark used
GAPS = {
    "chr1": [
        (0, 10_000),
        (177_417, 227_417),
        (267_719, 317_719),
        (471_368, 521_368),
        (2_634_220, 2_684_220),
        (3_845_268, 3_995_268),
        (13_052_998, 13_102_998),
        (13_219_912, 13_319_912),
        (17_125_658, 17_175_658),
        (29_878_082, 29_928_082),
        (103_863_906, 103_913_906),
        (120_697_156, 120_747_156),
        (120_936_695, 121_086_695),
        (121_485_434, 142_535_434),
        (142_731_022, 142_781_022),
        (249_240_621, 249_250_621),
    ],
    "chr21": [
        (0, 9_411_193),
        (9_595_548, 9_645_548),
        (9_775_437, 9_825_437),
        (10_034_920, 10_184_920),
        (10_215_976, 10_365_976),
        (11_188_129, 14_338_129),
        (42_955_559, 43_005_559),
        (48_119_895, 48_129_895),
    ],
    "chr22": [
        (0, 16_050_000),
        (16_697_850, 16_847_850),
        (20_509_431, 20_609_431),
        (50_364_777, 50_414_777),
        (51_244_566, 51_304_566),
    ],
}


def hg19_contigs(names: list[str]) -> list[tuple[str, int, list[tuple[int, int]]]]:
    """(name, hg19 length, gaps) for each name, lengths from pybedtools' hg19 table."""
    from pybedtools import genome_registry

    unknown = [n for n in names if n not in genome_registry.hg19]
    if unknown:
        raise SystemExit(f"bench_prepare: error: not hg19 contigs: {', '.join(unknown)}")
    return [(n, genome_registry.hg19[n][1], GAPS.get(n, [])) for n in names]


def hg19_primary_bp() -> int:
    return sum(length for _, length, _ in hg19_contigs(HG19_PRIMARY))


CONTIGS = hg19_contigs(["chr1", "chr21", "chr22"])  # set by main()
# class: (targets, peaks per target genome-wide, median width, width spread (log-sd))
CLASSES = {
    "DNase": (125, 120_000, 150, 0.0),
    "TF": (690, 25_000, 300, 0.3),
    "histone": (104, 80_000, 1000, 0.8),
}
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
            lines = np.hstack(
                [seq[:full].reshape(-1, 60), np.full((full // 60, 1), ord("\n"), np.uint8)]
            )
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
            center = np.concatenate(
                [pool[1][pick] + rng.normal(0, 50, len(pick)).astype(np.int64), bg[1]]
            )
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
        cols += [
            np.array([f"p{j}" for j in order], dtype=object),
            np.full(len(start), "0", object),
            np.full(len(start), ".", object),
        ]
    if fmt == "narrowPeak":
        cols += [np.full(len(start), "5.0", object)] * 3 + [((end - start) // 2).astype(str)]
    with open(path, "w") as fh:
        fh.write("\n".join("\t".join(r) for r in zip(*cols, strict=True)) + "\n")


def baseline_pyfaidx(fasta: Path, coords, n: int, window: int) -> float:
    """Windows/s of one pyfaidx fetch per window + a numpy lookup to codes (A,C,G,T=0-3, else 4)."""
    import pyfaidx

    lut = np.full(256, 4, dtype=np.uint8)
    for i, base in enumerate(b"ACGT"):
        lut[base] = lut[base + 32] = i  # upper and soft-masked lower case
    fa = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=False)
    sample = coords.sample(n=min(n, len(coords)), random_state=0)
    out = np.empty((len(sample), window), dtype=np.uint8)
    t0 = time.perf_counter()
    for i, (chrom, start) in enumerate(zip(sample["chrom"], sample["start"], strict=True)):
        seq = fa[chrom][int(start) : int(start) + window]
        out[i] = lut[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    rate = len(sample) / (time.perf_counter() - t0)
    assert (out < 4).mean() > 0.99  # windows were kept with no N
    return rate


SELENE_PY = Path(__file__).resolve().parents[1] / ".venv-selene" / "bin" / "python"


def baseline_selene(work: Path, sheet: Path, coords, n: int) -> dict:
    """Selene 0.6 IntervalsSampler windows/s (bench/prepare/selene_sampler.py in its virtualenv)."""
    if not SELENE_PY.exists():
        return {
            "status": "not run",
            "reason": f"no {SELENE_PY} (recipe: bench/train/bench_selene.py)",
        }
    intervals = work / "selene_intervals.bed"
    sample = coords.sample(n=min(max(n, 1000), len(coords)), random_state=1)
    with open(intervals, "w") as fh:
        for chrom, start in zip(sample["chrom"], sample["start"], strict=True):
            fh.write(f"{chrom}\t{int(start) + 400}\t{int(start) + 600}\n")  # the centre bins
    script = Path(__file__).with_name("selene_sampler.py")
    run = subprocess.run(
        [
            str(SELENE_PY),
            str(script),
            "--fasta",
            str(work / "genome.fa"),
            "--targets",
            str(sheet),
            "--intervals",
            str(intervals),
            "--windows",
            str(n),
            "--workdir",
            str(work / "selene"),
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        return {"status": "failed", "error": run.stderr[-2000:]}
    return {"status": "ok", **json.loads(run.stdout.strip().splitlines()[-1])}


def children_rss_gb() -> float:
    """Largest peak RSS of the waited-for children so far (danq prepare and its bedtools
    children, the largest one, not their sum), GB; ru_maxrss is in KiB on Linux."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9


def main(argv: list[str] | None = None) -> int:
    global CONTIGS
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--whole-genome",
        action="store_true",
        help="the 25 primary hg19 contigs (3.1 Gb), DeepSEA's holdouts (valid chr7, test chr8,chr9)",
    )
    ap.add_argument(
        "--contigs",
        default="chr1,chr21,chr22",
        help="hg19 contigs to generate without --whole-genome (must include chr21 and chr22)",
    )
    ap.add_argument(
        "--workdir", default=None, help="keep inputs/outputs here (default: a temp dir)"
    )
    ap.add_argument("--baseline-windows", type=int, default=20000)
    ap.add_argument("--selene-windows", type=int, default=2000)
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    from danq_pipeline.dataset import WindowsH5

    names = HG19_PRIMARY if args.whole_genome else args.contigs.split(",")
    if not args.whole_genome and not {"chr21", "chr22"} <= set(names):
        raise SystemExit(
            "bench_prepare: error: --contigs must include chr21 and chr22 (the holdouts)"
        )
    CONTIGS = hg19_contigs(names)
    valid, test = (
        ("chr7", "chr8,chr9") if args.whole_genome else ("chr21:30000001-35000000", "chr22")
    )
    tmp = (
        tempfile.TemporaryDirectory(prefix="danq-bench-prepare-") if args.workdir is None else None
    )
    work = Path(args.workdir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(7)
    genome_bp = sum(n for _, n, _ in CONTIGS)
    share = genome_bp / hg19_primary_bp()
    t0 = time.perf_counter()
    write_genome(work / "genome.fa", rng)
    sheet, n_peaks = write_targets(work / "peaks", rng, share)
    t_gen = time.perf_counter() - t0
    print(
        f"generated {genome_bp / 1e6:.0f} Mb genome ({len(CONTIGS)} contigs), 919 targets, {n_peaks:,} peaks "
        f"in {t_gen:.0f} s",
        flush=True,
    )

    cmd = [
        sys.executable,
        "-m",
        "danq_pipeline",
        "prepare",
        "--fasta",
        str(work / "genome.fa"),
        "--targets",
        str(sheet),
        "--out-dir",
        str(work / "out"),
        "--valid",
        valid,
        "--test",
        test,
        "--anchor-classes",
        "TF",
        "--max-n-fraction",
        "0",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    t0 = time.perf_counter()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if run.returncode:
        raise SystemExit(f"danq prepare failed ({run.returncode}): {run.stderr[-3000:]}")
    rss = children_rss_gb()
    import pandas as pd

    stats = pd.read_csv(work / "out" / "prepare_stats.tsv", sep="\t")
    total = stats.iloc[-1]
    windows = int(total["kept_train"] + total["kept_valid"] + total["kept_test"])
    h5_bytes = sum(os.path.getsize(work / "out" / f"{s}.h5") for s in ("train", "valid", "test"))
    coords = WindowsH5(work / "out" / "train.h5").coordinates()
    base = baseline_pyfaidx(work / "genome.fa", coords, args.baseline_windows, 1000)
    selene = baseline_selene(work, sheet, coords, args.selene_windows)
    ours = windows / elapsed
    out = {
        "genome_mb": round(genome_bp / 1e6, 1),
        "contigs": len(CONTIGS),
        "targets": 919,
        "peaks": n_peaks,
        "holdouts": {"valid": valid, "test": test},
        "seconds_generate": round(t_gen, 1),
        "seconds_prepare": round(elapsed, 1),
        "windows": windows,
        "train_windows": int(total["kept_train"]),
        "bins": int(total["bins"]),
        "windows_per_s": round(ours),
        "peak_rss_gb": round(rss, 2),
        "hdf5_gb": round(h5_bytes / 1e9, 2),
        "hdf5_bytes_per_window": round(h5_bytes / windows),
        "pyfaidx_numpy_windows_per_s": round(base),
        "speedup_vs_pyfaidx_numpy": round(ours / base, 2),
        "selene_intervals_sampler": selene,
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if selene.get("status") == "ok":
        out["speedup_vs_selene"] = round(ours / selene["windows_per_s"], 1)
    for k, v in out.items():
        print(f"{k:>32}: {v}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
