"""ISM throughput: one batched pass over all 3 x L substitutions vs one forward per mutant.

Both sides score the same mutants of the same random window with the same model in this
run; the baseline (one window per forward pass, the naive loop) is timed on the first
`--baseline-mutants` mutants and reported per mutant. Also times bf16 autocast.

    flock /tmp/danq-bench.lock .venv/bin/python bench/interpret/bench_ism.py --preset small
    flock /tmp/danq-bench.lock .venv/bin/python bench/interpret/bench_ism.py --preset danq --baseline-mutants 60
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from danq_pipeline.encode import one_hot
from danq_pipeline.ism import mutants, saturation_mutagenesis, sequence_input
from danq_pipeline.model import TrainedModel, build_model
from danq_pipeline.predictor import as_predictor


def naive(model, codes: np.ndarray, pos: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """One forward pass per mutant window (the baseline)."""
    out = []
    with torch.inference_mode():
        for p, a in zip(pos, alt, strict=True):
            mut = codes.copy()
            mut[p] = a
            out.append(model(torch.from_numpy(one_hot(mut))[None])[0].numpy())
    return np.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--targets", type=int, default=919)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--baseline-mutants", type=int, default=300)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model(args.preset, args.targets, args.length).eval()
    rng = np.random.default_rng(0)
    inp = sequence_input("".join(rng.choice(list("ACGT"), args.length)), args.length)
    pos, alt = mutants(inp.codes, inp.span)
    trained = TrainedModel(model, None, {})
    fp32 = as_predictor(trained, device="cpu", batch_size=args.batch_size, rc_average=False)
    saturation_mutagenesis(fp32, inp._replace(span=(0, 8)))  # warm-up
    t0 = time.perf_counter()
    res = saturation_mutagenesis(fp32, inp)
    batched = (time.perf_counter() - t0) / len(pos)
    t0 = time.perf_counter()
    saturation_mutagenesis(
        as_predictor(
            trained, device="cpu", batch_size=args.batch_size, precision="bf16", rc_average=False
        ),
        inp,
    )
    bf16 = (time.perf_counter() - t0) / len(pos)
    n = min(args.baseline_mutants, len(pos))
    t0 = time.perf_counter()
    ref = naive(model, inp.codes, pos[:n], alt[:n])
    single = (time.perf_counter() - t0) / n
    got = res.alt_logit[pos[:n], alt[:n]]
    assert np.allclose(got, ref, atol=1e-4), "batched and single-window logits differ"
    print(
        f"preset={args.preset} L={args.length} targets={args.targets} mutants={len(pos)} "
        f"threads={torch.get_num_threads()}"
    )
    print(
        f"one window per pass (baseline, {n} mutants): {single * 1e3:.2f} ms/mutant "
        f"-> {single * len(pos):.1f} s for the window"
    )
    print(
        f"batched ({args.batch_size}/pass, fp32): {batched * 1e3:.3f} ms/mutant -> {batched * len(pos):.1f} s "
        f"for the window; speed-up x{single / batched:.1f}"
    )
    print(
        f"batched bf16 (bf16 weights): {bf16 * 1e3:.3f} ms/mutant -> {bf16 * len(pos):.1f} s; "
        f"x{single / bf16:.1f} vs baseline, x{batched / bf16:.2f} vs fp32"
    )


if __name__ == "__main__":
    main()
