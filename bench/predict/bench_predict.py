"""Benchmark `danq predict` on BED regions against Selene 0.6's get_predictions_for_bed_file, same run.

Makes N random 200-bp regions on the demo chr22 whose 1000-bp windows hold no N (Selene
encodes N as 0.25 per base, we as zeros: N-free windows keep the comparison exact), and a
random-weight DanQ of the paper's shape (`danq` preset, 919 targets, 1000 bp; made by
bench/variants/bench_variants.py's make_model). Each run is its own process, interleaved:

* ours: `write_predictions` (the API under `danq predict --bed`), BED in -> PREFIX.tsv (all
  919 targets) + PREFIX.h5 written, fp32 and bf16, forward strand only (--no-rc-average)
  and strand-averaged (the default);
* Selene: AnalyzeSequences.get_predictions_for_bed_file (bench/predict/selene_bed.py in
  bench/.venv-selene), TSV output, with the same network and weights: forward strand only
  (what its BED predictions score), and wrapped in NonStrandSpecific(mean) for the
  strand-averaged comparison. Both centre the window the same way
  (start + (end - start) // 2 - 500), so the numbers are compared too.

Rates are windows/s over the call (BED in -> outputs written), model already loaded. Each
configuration runs at 1 and 2 torch threads, `--repeats` interleaved rounds (default 2); the
table shows every round and the best (least disturbed by other work on a shared machine).

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/predict/bench_predict.py [--n-regions 400]
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
sys.path.insert(0, str(REPO / "bench" / "variants"))
from bench_variants import FASTA, SELENE_PY, make_model  # noqa: E402


def make_bed(path: Path, n: int, seed: int = 0) -> None:
    """n random 200-bp regions on the demo chr22 whose centred 1000-bp windows hold no N."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from danq_pipeline.genome import Genome

    genome = Genome(FASTA)
    rng = np.random.default_rng(seed)
    starts: set[int] = set()
    while len(starts) < n:
        s = int(rng.integers(16_100_000, 21_900_000))
        if "N" not in genome.fetch("chr22", s + 100 - 500, s + 100 + 500):
            starts.add(s)
    path.write_text("".join(f"chr22\t{s}\t{s + 200}\tr{i}\n" for i, s in enumerate(sorted(starts))))


def child_danq(args: argparse.Namespace) -> dict:
    """Predict the BED with danq_pipeline in this process; returns timing."""
    import torch

    sys.path.insert(0, str(REPO))
    from danq_pipeline.predict_io import write_predictions
    from danq_pipeline.predictor import as_predictor

    predictor = as_predictor(
        args.model,
        device="cpu",
        precision=args.precision,
        rc_average=args.rc_average,
        threads=args.threads,
    )
    t = time.perf_counter()
    out = write_predictions(predictor, args.out, fasta=FASTA, bed=args.bed, progress=False)
    dt = time.perf_counter() - t
    return {"seconds": dt, "windows": out["rows"], "threads": torch.get_num_threads()}


def run_child(
    kind: str,
    model: Path,
    bed: Path,
    out: Path,
    threads: int,
    precision: str = "fp32",
    rc_average: bool = False,
) -> dict:
    """One measurement in a fresh process; returns its JSON plus the rate and wall time."""
    if kind == "danq":
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--model",
            str(model),
            "--bed",
            str(bed),
            "--out",
            str(out),
            "--threads",
            str(threads),
            "--precision",
            precision,
        ] + (["--rc-average"] if rc_average else [])
    else:
        cmd = [
            str(SELENE_PY),
            str(REPO / "bench/predict/selene_bed.py"),
            "--model",
            str(model),
            "--fasta",
            str(FASTA),
            "--bed",
            str(bed),
            "--out",
            str(out),
            "--threads",
            str(threads),
        ]
        cmd += ["--rc-average"] if rc_average else []
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONWARNINGS": "ignore",
        "OMP_NUM_THREADS": str(threads),
    }
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{proc.stderr[-3000:]}")
    result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    result.update(
        rate=result["windows"] / result["seconds"],
        wall=time.perf_counter() - t,
        load=os.getloadavg()[0],
    )
    return result


def max_difference(ours_h5: Path, selene_dir: Path) -> tuple[float, float]:
    """Largest |ours - Selene| and largest |ours - Selene| / ours over all regions and targets
    (rows in BED order in both). Selene's TSV holds 3 significant digits ("{:.2e}"), so the
    relative difference is at most 5e-3 when both compute the same numbers."""
    import h5py
    import numpy as np
    import pandas as pd

    with h5py.File(ours_h5, "r") as h5:
        ours, names = h5["probabilities"][:], list(h5["targets/name"].asstr()[:])
    sel = pd.read_csv(next(selene_dir.glob("*predictions.tsv")), sep="\t").sort_values("index")
    diff = np.abs(ours - sel[names].to_numpy(dtype=float))
    return float(diff.max()), float((diff / np.maximum(ours, 1e-30)).max())


CONFIGS = [  # (label, kind, precision, rc_average)
    ("Selene 0.6, forward strand", "selene", "fp32", False),
    ("danq predict --no-rc-average", "danq", "fp32", False),
    ("danq predict --no-rc-average", "danq", "bf16", False),
    ("Selene 0.6, NonStrandSpecific(mean)", "selene", "fp32", True),
    ("danq predict (strand-averaged)", "danq", "fp32", True),
    ("danq predict (strand-averaged)", "danq", "bf16", True),
]


def run_all(tmp: Path, n_regions: int, threads_list: list[int], repeats: int) -> None:
    """Every configuration at each thread count, `repeats` interleaved rounds (best rate kept: the
    run least slowed by other work on the machine); a markdown table, ratios and the agreement."""
    model, bed = tmp / "danq.pt", tmp / "regions.bed"
    make_model(model, "danq")
    make_bed(bed, n_regions)
    print(
        f"# {n_regions} regions (one 1000-bp window each), danq preset (919 targets); {os.cpu_count()} CPUs; "
        f"load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        "| tool | precision | threads | windows/s (each round) | best | load (1 min, each round) |\n"
        "|---|---|---|---|---|---|"
    )
    rates: dict[tuple, float] = {}
    for threads in threads_list:
        runs: dict[tuple, list[dict]] = {c: [] for c in CONFIGS}
        for _ in range(repeats):
            for config in CONFIGS:
                _, kind, precision, rc = config
                runs[config].append(
                    run_child(
                        kind,
                        model,
                        bed,
                        tmp / f"{kind}_{precision}_{rc}_{threads}",
                        threads,
                        precision,
                        rc,
                    )
                )
        for (label, kind, precision, rc), rs in runs.items():
            rates[(kind, precision, rc, threads)] = best = max(r["rate"] for r in rs)
            each = " / ".join(f"{r['rate']:.1f}" for r in rs)
            loads = " / ".join(f"{r['load']:.1f}" for r in rs)
            print(
                f"| {label} | {precision} | {threads} | {each} | {best:.1f} | {loads} |", flush=True
            )
    print()
    for threads in threads_list:
        for rc in (False, True):
            base = rates[("selene", "fp32", rc, threads)]
            ratios = ", ".join(
                f"{p} {rates[('danq', p, rc, threads)] / base:.1f}x" for p in ("fp32", "bf16")
            )
            print(
                f"- {threads} thread(s), {'strand-averaged' if rc else 'forward strand'}: ours/Selene {ratios}"
            )
    for rc in (False, True):
        t = threads_list[0]
        d, rel = max_difference(tmp / f"danq_fp32_{rc}_{t}.h5", tmp / f"selene_fp32_{rc}_{t}")
        print(
            f"- ours fp32 vs Selene ({'strand-averaged' if rc else 'forward'}), {n_regions} x 919: max |diff| "
            f"{d:.1e}, max relative {rel:.1e} (Selene's TSV keeps 3 significant digits: <= 5e-3 expected)"
        )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--child", action="store_true")
    p.add_argument("--model", type=Path)
    p.add_argument("--bed", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--rc-average", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-regions", type=int, default=400)
    p.add_argument("--thread-counts", default="1,2")
    p.add_argument(
        "--repeats", type=int, default=2, help="interleaved rounds per configuration (best kept)"
    )
    args = p.parse_args()
    if args.child:
        print(json.dumps(child_danq(args)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        run_all(
            Path(tmp), args.n_regions, [int(t) for t in args.thread_counts.split(",")], args.repeats
        )


if __name__ == "__main__":
    main()
