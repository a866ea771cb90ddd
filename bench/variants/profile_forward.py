"""Where the time of strand-averaged SNV scoring goes, and how far it is from the CPU's ceiling (issue 13).

For the `danq` preset (random weights, 919 targets, 1000 bp) and random SNVs of the demo
genome, this times the model part of `score-variants` (window codes in -> logits out):

* the shared REF/ALT pass of danq_pipeline/variant_shared.py (`SharedDanQ`, base codes in),
  and with --shared-file the SharedDanQ of another copy of that file (e.g. a proposed patch),

in fp32 and bf16, stage by stage (convolution, LSTM per direction, dense, output layer, the
one-hot <-> codes conversions, the rest = indexing/copies/Python), with CPU time of this
process (time.process_time: robust to other jobs on a shared machine; 1 thread by default).
The variants are interleaved (A B A B ...) and the best repeat is reported.

It also prints the roofline: multiply-accumulates per strand-averaged allele (Selene's 4 full
windows vs the shared pass) against this CPU's measured GEMM rate at the same thread count,
i.e. the best alleles/s any implementation could reach, and the agreement of bf16 with fp32
(Pearson r of ALT - REF probability diffs, largest error).

Run:  .venv/bin/python bench/variants/profile_forward.py [--alleles 256] [--batch 128] [--threads 1]
      add --profiler for torch.profiler's top operators of one batch of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
# DANQ_SRC: import danq_pipeline from another tree (e.g. `git archive HEAD` while main is being edited)
sys.path.insert(0, os.environ.get("DANQ_SRC", str(REPO)))
sys.path.insert(0, str(REPO / "bench/predict"))
FASTA = REPO / "data/hg19_chr22/genome/hg19_chr22_1-22000000.fa.gz"

STAGES: dict[str, float] = defaultdict(float)
_PHASE = ["ref"]


@contextmanager
def stage(name: str):
    """Add this block's CPU time to STAGES[name]."""
    t = time.process_time()
    try:
        yield
    finally:
        STAGES[name] += time.process_time() - t


def timed(obj: Any, attr: str, name: str, phased: bool = False) -> None:
    """Wrap obj.attr so that its CPU time goes to STAGES[name] (plus ' [ref]'/' [alt]' when phased)."""
    inner = getattr(obj, attr)

    def wrapper(*a: Any, **k: Any) -> Any:
        with stage(f"{name} [{_PHASE[0]}]" if phased else name):
            return inner(*a, **k)

    setattr(obj, attr, wrapper)


def phase(obj: Any, attr: str, label: str) -> None:
    """Wrap obj.attr so that stages timed inside it are labelled `label`."""
    inner = getattr(obj, attr)

    def wrapper(*a: Any, **k: Any) -> Any:
        old, _PHASE[0] = _PHASE[0], label
        try:
            return inner(*a, **k)
        finally:
            _PHASE[0] = old

    setattr(obj, attr, wrapper)


# --------------------------------------------------------------------------- inputs


CHECKPOINT: list[str | None] = [None]


def make_model(dtype: torch.dtype) -> Any:
    """The `danq` preset with random weights (seed 0), 919 targets, 1000 bp, eval mode, in `dtype`;
    or the network of --checkpoint (a trained model: bf16 agreement on real weights)."""
    from danq_pipeline.model import build_model, load_model

    if CHECKPOINT[0]:
        loaded = load_model(CHECKPOINT[0], "cpu")
        return getattr(loaded, "net", loaded).eval().to(dtype)  # TrainedModel.net, or the bare DanQ
    torch.manual_seed(0)
    return build_model("danq", 919, 1000).eval().to(dtype)


def snv_windows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """REF and ALT windows (n, 1000) uint8 codes of n random N-free SNVs on chr22 (variant at index 499)."""
    from danq_pipeline.genome import Genome

    genome = Genome(FASTA)
    rng = np.random.default_rng(seed)
    refs = []
    while len(refs) < n:
        p0 = int(rng.integers(16_100_000, 21_900_000))
        codes = genome.fetch_codes("chr22", p0 - 499, p0 + 501)
        if (codes < 4).all():
            refs.append(codes)
    refs = np.stack(refs).astype(np.uint8)
    alts = refs.copy()
    alts[:, 499] = (refs[:, 499] + rng.integers(1, 4, size=n)) % 4
    return refs, alts


def both_strands(refs: np.ndarray, alts: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Windows of both strands as predict_pairs builds them (REF i <-> ALT i), and the ALT spans."""
    from danq_pipeline.encode import reverse_complement_codes

    L = refs.shape[1]
    spans = [(499, 500)] * len(refs) + [(L - 500, L - 499)] * len(refs)
    return (
        np.concatenate([refs, reverse_complement_codes(refs)]),
        np.concatenate([alts, reverse_complement_codes(alts)]),
        spans,
    )


# --------------------------------------------------------------------------- the two passes


class Current:
    """A variant_shared.SharedDanQ as the Predictor calls it: one-hot in (HEAD of issue 13) or codes in (patched).

    `path`: a variant_shared.py file to load instead of the package's (e.g. /tmp/speed/patched/...).
    """

    name = "SharedDanQ (current)"

    def __init__(self, model: Any, instrument: bool, path: str | None = None) -> None:
        if path:
            import importlib.util

            spec = importlib.util.spec_from_file_location(f"variant_shared_{abs(hash(path))}", path)
            vs = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(vs)
            self.name = f"SharedDanQ ({path})"
        else:
            from danq_pipeline import variant_shared as vs
        self.codes_in = not hasattr(vs, "_codes")  # the one-hot version converts back with _codes
        self.dtype = next(model.parameters()).dtype
        self.runner = vs.SharedDanQ(model)
        if instrument:
            r = self.runner
            phase(r, "_alt_group", "alt")
            if not self.codes_in and not getattr(vs._codes, "timed", False):
                timed(vs, "_codes", "one-hot -> codes (argmax)")
                vs._codes.timed = True
            timed(r, "_kmer_conv_pool", "conv + pool (k-mer table)", phased=True)
            if hasattr(r, "_gemm_conv_pool"):
                timed(r, "_gemm_conv_pool", "conv + pool (im2col GEMM)", phased=True)
            timed(r.fwd, "forward", "LSTM forward", phased=True)
            timed(r.bwd, "forward", "LSTM backward", phased=True)

    def __call__(
        self, refs: np.ndarray, alts: np.ndarray, spans: list
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from danq_pipeline.loader import to_one_hot

        cpu = torch.device("cpu")
        if self.codes_in:
            return self.runner(
                torch.from_numpy(refs), torch.from_numpy(alts), torch.arange(len(refs)), spans
            )
        with stage("codes -> one-hot"):
            rx = to_one_hot(torch.from_numpy(refs), cpu, self.dtype)
            ax = to_one_hot(torch.from_numpy(alts), cpu, self.dtype)
        return self.runner(rx, ax, torch.arange(len(refs)), spans)


def run_batches(
    runner: Any, refs: np.ndarray, alts: np.ndarray, batch: int
) -> tuple[float, np.ndarray]:
    """CPU seconds to score all alleles strand-averaged in batches, and the diffs (n, T) float64."""
    diffs = []
    t = time.process_time()
    with torch.inference_mode():
        for a in range(0, len(refs), batch):
            r2, a2, spans = both_strands(refs[a : a + batch], alts[a : a + batch])
            with stage("total"):
                lr, la = runner(r2, a2, spans)
            with stage("sigmoid + strand mean"):
                pr, pa = torch.sigmoid(lr.double()), torch.sigmoid(la.double())
                h = len(pr) // 2
                diffs.append(((pa[:h] + pa[h:]) / 2 - (pr[:h] + pr[h:]) / 2).numpy())
    return time.process_time() - t, np.concatenate(diffs)


# --------------------------------------------------------------------------- roofline


def macs_per_allele(kw: dict[str, int], j0: int, j1: int) -> dict[str, float]:
    """Multiply-accumulates of one strand-averaged SNV: 4 full windows (Selene) vs the shared pass."""
    F, K, P, H, D, T = (
        kw[k]
        for k in ("n_filters", "kernel_size", "pool_size", "lstm_hidden", "fc_hidden", "n_targets")
    )
    S = (kw["window"] - K + 1) // P
    conv_step = P * 4 * K * F
    lstm_step = 4 * H * (F + H)
    window = S * conv_step + 2 * S * lstm_step + S * 2 * H * D + D * T
    alt_steps = (S - j0) + (j1 + 1)
    alt = (j1 - j0 + 1) * conv_step + alt_steps * lstm_step + alt_steps * H * D + D * T
    alt_hh = (
        (j1 - j0 + 1) * conv_step
        + (alt_steps * 4 * H * H + 2 * (j1 - j0 + 1) * 4 * H * F)
        + alt_steps * H * D
        + D * T
    )
    return {
        "full window": window,
        "selene (4 full windows)": 4 * window,
        "shared (2 REF + 2 ALT)": 2 * (window + alt),
        "shared, ALT reusing the REF's LSTM input projections": 2 * (window + alt_hh),
        "of a window: conv": S * conv_step,
        "of a window: LSTM": 2 * S * lstm_step,
        "of a window: dense": S * 2 * H * D + D * T,
    }


def gemm_rate(dtype: torch.dtype, m: int, k: int, n: int, reps: int = 5) -> float:
    """Best multiply-accumulates per CPU second of (m, k) @ (k, n) in dtype (process time)."""
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    a @ b
    best = 1e9
    for _ in range(reps):
        t = time.process_time()
        a @ b
        best = min(best, time.process_time() - t)
    return m * k * n / best


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alleles", type=int, default=256, help="SNVs scored per repeat")
    parser.add_argument(
        "--batch", type=int, default=128, help="alleles per model call (both strands: 2x windows)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--reps", type=int, default=3, help="interleaved repeats; the best is reported"
    )
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument(
        "--shared-file",
        action="append",
        default=[],
        help="also time the SharedDanQ of this variant_shared.py (e.g. a proposed patch)",
    )
    parser.add_argument("--no-roofline", action="store_true")
    parser.add_argument(
        "--checkpoint",
        help="a trained checkpoint instead of the random-weight danq preset "
        "(its window must be 1000 bp)",
    )
    parser.add_argument(
        "--profiler", action="store_true", help="also print torch.profiler's top operators"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    CHECKPOINT[0] = args.checkpoint
    print(
        f"# {args.checkpoint or 'danq preset, random weights'}: "
        f"{args.alleles} SNVs strand-averaged, batch {args.batch} alleles, {torch.get_num_threads()} thread(s), "
        f"torch {torch.__version__}, load average at start {os.getloadavg()[0]:.1f}; CPU seconds (process time)"
    )
    refs, alts = snv_windows(args.alleles)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    fp32_diff = None
    for dname in args.dtypes.split(","):
        dtype = dtypes[dname]
        model = make_model(dtype)
        timed(model.fc, "forward", "dense (REF, full)")  # shared by both runners: wrapped once
        timed(model.out, "forward", "output layer (REF; ALT too in current)")
        runners = [Current(model, True)] + [Current(model, True, p) for p in args.shared_file]
        best: dict[str, tuple[float, dict, np.ndarray]] = {}
        for runner in runners:  # warm-up (oneDNN primitives, tables) outside the timing
            run_batches(runner, refs[: args.batch], alts[: args.batch], args.batch)
        for _ in range(args.reps):
            for runner in runners:
                STAGES.clear()
                sec, diff = run_batches(runner, refs, alts, args.batch)
                if runner.name not in best or sec < best[runner.name][0]:
                    best[runner.name] = (sec, dict(STAGES), diff)
        print(f"\n## {dname} (load average now {os.getloadavg()[0]:.1f})")
        for name, (sec, stages, _) in best.items():
            print(
                f"\n### {name}: {args.alleles / sec:.1f} alleles/s ({sec * 1e3 / args.alleles:.2f} ms/allele)"
            )
            print("| stage | ms per allele | share |\n|---|---|---|")
            inner = sum(v for k, v in stages.items() if k not in ("total",))
            rest = sec - inner
            for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
                if k != "total":
                    print(f"| {k} | {v * 1e3 / args.alleles:.2f} | {v / sec:.0%} |")
            print(
                f"| rest (current: ALT dense deltas df @ W; indexing, copies, cat/flip, Python) | {rest * 1e3 / args.alleles:.2f} | {rest / sec:.0%} |"
            )
        diffs = [d for _, _, d in best.values()]
        print()
        for name, d in list(zip(best, diffs, strict=True))[1:]:
            print(f"max |diff({name}) - diff(current)| = {np.abs(d - diffs[0]).max():.2e}")
        if dname == "fp32":
            fp32_diff = diffs[0]
        elif fp32_diff is not None:
            for name, (_, _, d) in best.items():
                r = np.corrcoef(d.ravel(), fp32_diff.ravel())[0, 1]
                print(
                    f"{name} {dname} vs fp32 (current): Pearson r of diffs {r:.6f}, "
                    f"largest |error| {np.abs(d - fp32_diff).max():.2e}, largest fp32 |diff| "
                    f"{np.abs(fp32_diff).max():.2e}"
                )
        if args.profiler:
            from torch.profiler import ProfilerActivity, profile

            for runner in runners:
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    run_batches(runner, refs[: args.batch], alts[: args.batch], args.batch)
                print(f"\n{runner.name}, {dname}, one batch:")
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    if not args.no_roofline:
        roofline(args.threads)


def roofline(threads: int) -> None:
    """MACs per allele vs measured GEMM rates: the best possible alleles/s."""
    from danq_pipeline.model import PRESETS

    kw = {**PRESETS["danq"], "n_targets": 919, "window": 1000}
    j0, j1 = 36, 38  # an SNV at window index 499 (both strands), K=26, P=13
    macs = macs_per_allele(kw, j0, j1)
    print(f"\n## roofline ({threads} thread(s), load average {os.getloadavg()[0]:.1f})")
    print("| work | GMAC per allele |\n|---|---|")
    for k, v in macs.items():
        print(f"| {k} | {v / 1e9:.3f} |")
    rates = {}
    for dname, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        rates[dname] = {
            "2048^3 GEMM": gemm_rate(dtype, 2048, 2048, 2048, 3),
            "LSTM hidden step (256x320 @ 320x1280)": gemm_rate(dtype, 256, 320, 1280, 50),
            "dense (256x48000 @ 48000x925)": gemm_rate(dtype, 256, 48000, 925, 3),
        }
    print(
        "\n| dtype | GEMM | GMAC/s | ceiling, Selene's work (alleles/s) | ceiling, shared pass | "
        "ceiling, shared + projection reuse |\n|---|---|---|---|---|---|"
    )
    for dname, r in rates.items():
        for shape, rate in r.items():
            print(
                f"| {dname} | {shape} | {rate / 1e9:.0f} | {rate / macs['selene (4 full windows)']:.0f} | "
                f"{rate / macs['shared (2 REF + 2 ALT)']:.0f} | "
                f"{rate / macs['shared, ALT reusing the REF' + chr(39) + 's LSTM input projections']:.0f} |"
            )


if __name__ == "__main__":
    main()
