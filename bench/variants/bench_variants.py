"""Benchmark `danq score-variants` against Selene 0.6 variant_effect_prediction, same run, same model.

Generates random SNVs (REF from the FASTA, windows free of N) on the demo genome, a random-
weight DanQ of the paper's shape (`danq` preset, 919 targets, 1000 bp), then times, each in
its own process (peak RSS from /usr/bin/time):

* danq score-variants, fp32 and bf16, over batch sizes, shared REF/ALT compute (default)
  and the plain path (4 full windows per allele), strand averaging on;
* Selene 0.6 AnalyzeSequences.variant_effect_prediction with the same weights wrapped as
  NonStrandSpecific(mean) (its strand averaging), in its own virtualenv (bench/.venv-selene);
  its SNV windows equal ours (variant at index 499), so its diffs are compared with ours;
* peak RSS as the VCF grows (1k, 10k, 100k SNVs) with a tiny DanQ (same streaming code:
  memory is dominated by batches, not the model), and with the danq preset at 10k.

Rates are alleles/s over the scoring call (VCF in -> all outputs written), excluding
interpreter start and model loading; wall time per process is printed too.

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/variants/bench_variants.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FASTA = REPO / "data/hg19_chr22/genome/hg19_chr22_1-22000000.fa.gz"
SELENE_PY = REPO / "bench/.venv-selene/bin/python"


def make_vcf(path: Path, n: int, seed: int = 0) -> None:
    """n random SNVs on chr22 (demo genome) whose 1000-bp windows hold no N; sorted, plain VCF."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from danq_pipeline.genome import Genome

    genome = Genome(FASTA)
    rng = np.random.default_rng(seed)
    chosen: dict[int, tuple[str, str]] = {}
    while len(chosen) < n:
        for p0 in rng.integers(16_100_000, 21_900_000, size=2 * (n - len(chosen))):
            if len(chosen) >= n:
                break
            seq = genome.fetch("chr22", int(p0) - 499, int(p0) + 501)
            if "N" in seq or int(p0) in chosen:
                continue
            ref = seq[499]
            chosen[int(p0)] = (ref, "ACGT".replace(ref, "")[rng.integers(0, 3)])
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n##contig=<ID=chr22,length=51304566>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, p0 in enumerate(sorted(chosen)):
            ref, alt = chosen[p0]
            fh.write(f"chr22\t{p0 + 1}\tsnv{i}\t{ref}\t{alt}\t.\tPASS\t.\n")


def make_model(path: Path, preset: str) -> None:
    """A random-weight DanQ checkpoint (919 targets, 1000 bp)."""
    import torch

    sys.path.insert(0, str(REPO))
    from danq_pipeline.model import DanQ, build_model, save_checkpoint
    from danq_pipeline.targets import targets_frame

    torch.manual_seed(0)
    if preset == "tiny":
        model = DanQ(
            n_targets=919,
            window=1000,
            n_filters=8,
            kernel_size=9,
            pool_size=13,
            lstm_hidden=4,
            fc_hidden=8,
        )
    else:
        model = build_model(preset, 919, 1000)
    names = [f"t{i:03d}" for i in range(919)]
    classes = ["DNase"] * 125 + ["TF"] * 690 + ["histone"] * 104
    save_checkpoint(path, model, targets_frame(names, classes))


# --------------------------------------------------------------------------- children


def child_danq(args: argparse.Namespace) -> dict:
    """Score with danq_pipeline in this process; returns timing."""
    import torch

    sys.path.insert(0, str(REPO))
    from danq_pipeline.model import load_model
    from danq_pipeline.variants import write_variant_scores

    torch.set_num_threads(args.threads)
    model = load_model(args.model, "cpu")
    t = time.perf_counter()
    counts = write_variant_scores(
        model,
        FASTA,
        args.vcf,
        args.out,
        batch_size=args.batch_size,
        device="cpu",
        precision="bf16" if args.bf16 else "fp32",
        shared=not args.plain,
        progress=False,
    )
    dt = time.perf_counter() - t
    return {
        "seconds": dt,
        "alleles": sum(counts.values()),
        "ok": counts["ok"],
        "threads": torch.get_num_threads(),
    }


def child_selene(args: argparse.Namespace) -> dict:
    """Score with Selene 0.6 (run by the Selene virtualenv's python)."""
    import torch
    from selene_sdk.predict import AnalyzeSequences
    from selene_sdk.sequences import Genome
    from selene_sdk.utils import NonStrandSpecific
    from torch import nn

    sys.path.insert(0, str(REPO))
    from danq_pipeline.model import load_model

    torch.set_num_threads(args.threads)
    trained = load_model(args.model, "cpu")
    danq = trained.net
    model = NonStrandSpecific(nn.Sequential(danq, nn.Sigmoid()), mode="mean")
    weights = Path(args.out).with_suffix(".selene.pt")
    torch.save(model.state_dict(), weights)
    analysis = AnalyzeSequences(
        model,
        str(weights),
        sequence_length=1000,
        features=list(trained.targets["name"]),
        batch_size=args.batch_size,
        use_cuda=False,
        reference_sequence=Genome(str(FASTA)),
    )
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    analysis.variant_effect_prediction(
        str(args.vcf), save_data=["diffs"], output_dir=str(out_dir), output_format="tsv"
    )
    dt = time.perf_counter() - t
    n = sum(1 for ln in open(args.vcf) if not ln.startswith("#"))
    return {"seconds": dt, "alleles": n, "ok": n, "threads": torch.get_num_threads()}


THREADS = 1


def run_child(
    kind: str,
    python: Path,
    model: Path,
    vcf: Path,
    out: Path,
    batch_size: int,
    bf16: bool = False,
    plain: bool = False,
) -> dict:
    """Run one measurement in a fresh process under /usr/bin/time; returns its JSON + RSS + wall."""
    cmd = [
        "/usr/bin/time",
        "-f",
        "MAXRSS_KB=%M",
        str(python),
        __file__,
        "--child",
        kind,
        "--model",
        str(model),
        "--vcf",
        str(vcf),
        "--out",
        str(out),
        "--batch-size",
        str(batch_size),
        "--threads",
        str(THREADS),
    ]
    cmd += ["--bf16"] if bf16 else []
    cmd += ["--plain"] if plain else []
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONWARNINGS": "ignore",
        "OMP_NUM_THREADS": str(THREADS),
    }
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{proc.stderr[-3000:]}")
    result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    rss = [ln for ln in proc.stderr.splitlines() if ln.startswith("MAXRSS_KB=")][-1]
    result.update(
        rss_mib=int(rss.split("=")[1]) / 1024, wall=wall, rate=result["alleles"] / result["seconds"]
    )
    return result


# --------------------------------------------------------------------------- comparison


def compare_with_selene(ours_h5: Path, selene_dir: Path) -> float:
    """Largest |diff(ours) - diff(selene)| over all SNVs and targets."""
    import numpy as np
    import pandas as pd

    from danq_pipeline.variant_io import read_variant_scores

    ours = read_variant_scores(ours_h5)
    sel = pd.read_csv(next(selene_dir.glob("*diffs.tsv")), sep="\t")
    sel = sel.sort_values("pos").reset_index(drop=True)
    assert (sel["pos"].to_numpy() == ours["table"]["pos"].to_numpy()).all(), "variant order differs"
    b = sel[list(ours["targets"]["name"])].to_numpy(dtype=float)
    return float(np.max(np.abs(ours["diff"] - b)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", choices=("danq", "selene"))
    parser.add_argument("--model", type=Path)
    parser.add_argument("--vcf", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--n-variants", type=int, default=600, help="SNVs for the speed runs")
    parser.add_argument("--batch-sizes", default="32,128,256")
    parser.add_argument("--rss-sizes", default="1000,10000,100000")
    parser.add_argument("--skip-selene", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for every run, both tools (1: stable on a shared machine)",
    )
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    if args.child:
        fn = child_danq if args.child == "danq" else child_selene
        print(json.dumps(fn(args)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_variants_") as tmp:
        run_all(Path(tmp), args)


def run_all(tmp: Path, args: argparse.Namespace) -> None:
    """Speed table, Selene peer and RSS growth; prints a markdown table."""
    py = Path(sys.executable)
    model = tmp / "danq.pt"
    make_model(model, "danq")
    vcf = tmp / "snv.vcf"
    make_vcf(vcf, args.n_variants)
    print(
        f"# {args.n_variants} SNVs, danq preset (919 targets, 1000 bp), strand-averaged; {THREADS} torch "
        f"thread(s) per run; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        "| tool | precision | batch | alleles/s | peak RSS | wall (process) | threads |\n|---|---|---|---|---|---|---|"
    )
    rows = []
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    if not args.skip_selene:
        sel = run_child("selene", SELENE_PY, model, vcf, tmp / "selene", 64)
        rows.append(("Selene 0.6 (NonStrandSpecific mean)", "fp32", 64, sel))
        _print_row(*rows[-1])
    for bf16 in (False, True):
        for bs in sizes:
            r = run_child("danq", py, model, vcf, tmp / f"d_{bf16}_{bs}", bs, bf16=bf16)
            rows.append(("danq (shared REF/ALT)", "bf16" if bf16 else "fp32", bs, r))
            _print_row(*rows[-1])
        r = run_child("danq", py, model, vcf, tmp / f"p_{bf16}", 128, bf16=bf16, plain=True)
        rows.append(
            (
                "danq --no-shared-compute (4 full windows/allele)",
                "bf16 autocast" if bf16 else "fp32",
                128,
                r,
            )
        )
        _print_row(*rows[-1])
    if not args.skip_selene:
        sel2 = run_child("selene", SELENE_PY, model, vcf, tmp / "selene2", 64)
        rows.append(("Selene 0.6, repeated at the end", "fp32", 64, sel2))
        _print_row(*rows[-1])
        dmax = compare_with_selene(tmp / f"d_False_{sizes[0]}.h5", tmp / "selene")
        base = (sel["rate"] + sel2["rate"]) / 2
        rows = rows[1:-1]
        best = max(r[3]["rate"] for r in rows)
        best32 = max(r[3]["rate"] for r in rows if r[1] == "fp32")
        print(
            f"\nspeed-up vs Selene (mean of its two runs, {base:.1f} alleles/s): fp32 best {best32 / base:.1f}x, "
            f"overall best {best / base:.1f}x; "
            f"max |diff(danq fp32) - diff(Selene)| over {args.n_variants} SNVs x 919 targets = {dmax:.2e}"
        )
    if not args.skip_rss:
        rss_growth(tmp, py, [int(n) for n in args.rss_sizes.split(",")])


def rss_growth(tmp: Path, py: Path, sizes: list[int]) -> None:
    """Peak RSS vs VCF size: tiny DanQ for every size, the danq preset at 10k."""
    tiny = tmp / "tiny.pt"
    make_model(tiny, "tiny")
    print("\n| model | SNVs | peak RSS (MiB) | alleles/s |\n|---|---|---|---|")
    for n in sizes:
        vcf = tmp / f"rss_{n}.vcf"
        make_vcf(vcf, n, seed=n)
        r = run_child("danq", py, tiny, vcf, tmp / f"rss_{n}", 128)
        print(
            f"| tiny DanQ (919 targets) | {n} | {r['rss_mib']:.0f} | {r['rate']:.0f} |", flush=True
        )
    if 10000 in sizes:
        r = run_child(
            "danq", py, tmp / "danq.pt", tmp / "rss_10000.vcf", tmp / "rss_danq", 128, bf16=True
        )
        print(f"| danq preset, bf16 | 10000 | {r['rss_mib']:.0f} | {r['rate']:.1f} |", flush=True)


def _print_row(name: str, dtype: str, bs: int, r: dict) -> None:
    print(
        f"| {name} | {dtype} | {bs} | {r['rate']:.1f} alleles/s | {r['rss_mib']:.0f} MiB | "
        f"{r['wall']:.1f} s wall | {r['threads']} threads |",
        flush=True,
    )


if __name__ == "__main__":
    main()
