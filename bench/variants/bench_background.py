"""Speed of score-variants with a background (--background) against the same run without one.

A random-weight DanQ of the paper's shape (`danq` preset, 919 targets; as bench_variants.py)
scores the same random SNVs on the demo genome with and without a background, alternating
(without, with, without, with, ...) in one process with one loaded model, so machine load
hits both alike. The background has the default sizes of a large background (exact top 1,000
+ a 20,000-allele sample per target, n = 25,000 > the tail, so look-ups take the estimated
path too): its effects are random (exponential), which costs the same look-ups as real ones;
its model checksum is the model's, as `danq background` would record.

Rates are alleles/s over `write_variant_scores` (VCF in -> TSV, HDF5 and VCF written); the
process CPU seconds of each run (all threads) are printed too, and the look-up alone
(`Background.significance` on blocks of 128 alleles x 919 targets, what the writer thread adds)
is timed separately, which a busy machine disturbs less than wall-clock rates.

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/variants/bench_background.py --n-variants 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-variants", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=3, help="(without, with) pairs timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()
    import torch
    from bench_variants import FASTA, make_model, make_vcf

    from danq_pipeline.background import BackgroundBuilder, model_checksum, write_background
    from danq_pipeline.model import load_model
    from danq_pipeline.variants import write_variant_scores

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="danq-bench-bg-") as tmp:
        tmp = Path(tmp)
        make_vcf(tmp / "q.vcf", args.n_variants, seed=1)
        make_model(tmp / "m.pt", "danq")
        model = load_model(tmp / "m.pt", "cpu")
        builder = BackgroundBuilder(len(model.targets))
        rng = np.random.default_rng(0)
        for _ in range(0, 25_000, 1000):
            builder.add(rng.exponential(1e-3, size=(1000, len(model.targets))).astype(np.float32))
        bg = builder.finish(
            "diff_x_logodds",
            model.targets,
            {"model_checksum": model_checksum(model), "rc_average": True, "model": "m.pt"},
        )
        write_background(bg, tmp / "bg.h5")
        print(
            f"background: n {bg.n}, tail {bg.tail.shape}, sample {bg.sample.shape}, exact {bg.exact}"
        )
        import warnings

        warnings.simplefilter("ignore")  # the 919-target summary-columns note
        kw = dict(
            batch_size=args.batch_size,
            device="cpu",
            precision="bf16" if args.bf16 else "fp32",
            progress=False,
        )
        write_variant_scores(
            model, FASTA, tmp / "q.vcf", tmp / "warm", **kw
        )  # first-call costs (bf16 copy, LUT)
        blocks = [
            rng.normal(0, 0.01, size=(args.batch_size, len(model.targets))).astype(np.float32)
            for _ in range(8)
        ]
        t = time.perf_counter()
        for b in blocks:
            bg.significance(b, b * 4)
        lookup = (time.perf_counter() - t) / (8 * args.batch_size)
        print(
            f"look-up alone: {lookup * 1e3:.3f} ms per allele ({1 / lookup:.0f} alleles/s)",
            flush=True,
        )
        rates: dict[str, list[float]] = {"without": [], "with": []}
        cpu: dict[str, list[float]] = {"without": [], "with": []}
        for i in range(args.pairs):
            for mode in ("without", "with"):
                t, c = time.perf_counter(), time.process_time()
                counts = write_variant_scores(
                    model,
                    FASTA,
                    tmp / "q.vcf",
                    tmp / f"{mode}{i}",
                    background=tmp / "bg.h5" if mode == "with" else None,
                    **kw,
                )
                dt, dc = time.perf_counter() - t, time.process_time() - c
                rates[mode].append(sum(counts.values()) / dt)
                cpu[mode].append(dc)
                print(
                    f"pair {i + 1} {mode:7s} background: {dt:6.2f} s, {rates[mode][-1]:6.1f} alleles/s, "
                    f"CPU {dc:6.2f} s",
                    flush=True,
                )
        ratio = [w / wo for w, wo in zip(rates["with"], rates["without"], strict=True)]
        print(
            f"median rate without {statistics.median(rates['without']):.1f} alleles/s, with "
            f"{statistics.median(rates['with']):.1f}; with/without per pair "
            f"{', '.join(f'{r:.3f}' for r in ratio)}; median {statistics.median(ratio):.3f}; "
            f"sum of rates ratio {sum(rates['with']) / sum(rates['without']):.3f}; CPU s median without "
            f"{statistics.median(cpu['without']):.2f}, with {statistics.median(cpu['with']):.2f}"
        )


if __name__ == "__main__":
    main()
