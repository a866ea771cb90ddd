"""Attribution throughput (ours vs a plain captum loop) and agreement with ISM, on real windows.

Throughput: `attribute.attribute_batch` (what `danq attribute` runs per batch) against the loop a
competent captum user writes -- per batch of windows, one `IntegratedGradients.attribute` call
per shuffled reference (same references, same steps, same internal batch bound), averaged --
and against captum's `InputXGradient` for gradient x input. Runs alternate (ours, plain, ours,
plain, ...) so both see the same machine load; the median rate of each is reported.

ISM agreement: for the first `--ism-windows` windows positive for each target, the per-window
Pearson correlation between the map (summed over bases) and the ISM effect of each base
(`attribute.ism_agreement`: minus the mean logit change of its 3 substitutions), per method.

    flock /tmp/danq-bench.lock .venv/bin/python bench/interpret/bench_attribute.py \\
        --model results/model/danq.pt --data results/windows/test.h5 \\
        --targets H3K4me3_neuron,ATAC_microglia
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from danq_pipeline.attribute import (
    attribute_batch,
    ism_agreement,
    shuffled_references,
    windows_from_h5,
)
from danq_pipeline.encode import one_hot
from danq_pipeline.model import load_model
from danq_pipeline.targets import select_targets


def plain_captum(
    net,
    codes: np.ndarray,
    target: int,
    n_shuffles: int,
    n_steps: int,
    seed: int,
    batch_size: int,
    chunk: int,
) -> np.ndarray:
    """A plain captum loop: per batch, one IntegratedGradients call per reference, averaged."""
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(net)
    out = []
    for a in range(0, len(codes), batch_size):
        batch = codes[a : a + batch_size]
        x = torch.from_numpy(one_hot(batch))
        refs = shuffled_references(batch, n_shuffles, seed)
        total = torch.zeros_like(x)
        for s in range(n_shuffles):
            total += ig.attribute(
                x,
                baselines=torch.from_numpy(one_hot(refs[:, s])),
                target=target,
                n_steps=n_steps,
                internal_batch_size=max(chunk, len(x)),
            ).detach()
        out.append((total / n_shuffles).numpy())
    return np.concatenate(out)


def plain_gxi(net, codes: np.ndarray, target: int, batch_size: int) -> np.ndarray:
    """captum's InputXGradient over batches."""
    from captum.attr import InputXGradient

    ixg = InputXGradient(net)
    return np.concatenate(
        [
            ixg.attribute(
                torch.from_numpy(one_hot(codes[a : a + batch_size])).requires_grad_(), target=target
            )
            .detach()
            .numpy()
            for a in range(0, len(codes), batch_size)
        ]
    )


def ours(
    net,
    codes: np.ndarray,
    target: int,
    method: str,
    n_shuffles: int,
    n_steps: int,
    seed: int,
    batch_size: int,
    chunk: int,
) -> np.ndarray:
    """`attribute_batch` over batches, as `write_attributions` calls it."""
    return np.concatenate(
        [
            attribute_batch(
                net,
                codes[a : a + batch_size],
                np.array([target]),
                method=method,
                n_shuffles=n_shuffles,
                n_steps=n_steps,
                seed=seed,
                chunk=chunk,
            ).contrib[0]
            for a in range(0, len(codes), batch_size)
        ]
    )


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--targets", default="H3K4me3_neuron,ATAC_microglia")
    ap.add_argument("--windows", type=int, default=32, help="windows per throughput run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shuffles", type=int, default=5)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--ism-windows", type=int, default=20, help="0: skip the ISM agreement")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load before: {os.getloadavg()}")
    loaded = load_model(args.model, device="cpu")
    net = getattr(loaded, "net", loaded).eval()
    names = args.targets.split(",")
    index = select_targets(loaded.targets, names)
    t0 = int(index[0])
    codes = windows_from_h5(args.data, positives_of=names[0], max_windows=args.windows).codes
    cases = {
        "expected_gradients ours": lambda: ours(
            net,
            codes,
            t0,
            "expected_gradients",
            args.shuffles,
            args.steps,
            0,
            args.batch_size,
            args.chunk,
        ),
        "expected_gradients plain captum": lambda: plain_captum(
            net, codes, t0, args.shuffles, args.steps, 0, args.batch_size, args.chunk
        ),
        "grad_x_input ours": lambda: ours(
            net, codes, t0, "grad_x_input", 1, 1, 0, args.batch_size, args.chunk
        ),
        "grad_x_input plain captum": lambda: plain_gxi(net, codes, t0, args.batch_size),
    }
    a = ours(net, codes[:4], t0, "expected_gradients", args.shuffles, args.steps, 0, 4, args.chunk)
    b = plain_captum(net, codes[:4], t0, args.shuffles, args.steps, 0, 4, args.chunk)
    print(
        f"same maps: max |ours - plain summed over bases| = {np.abs(a.sum(1) - b.sum(1)).max():.2e}"
    )
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    for name, ts in times.items():
        print(
            f"{name}: best {len(codes) / min(ts):.2f}, median {len(codes) / np.median(ts):.2f} windows/s "
            f"(runs {np.round(ts, 2)} s)"
        )
    for m in ("expected_gradients", "grad_x_input"):
        best = min(times[f"{m} plain captum"]) / min(times[f"{m} ours"])
        median = np.median(times[f"{m} plain captum"]) / np.median(times[f"{m} ours"])
        print(f"{m}: ours / plain captum rate = {best:.2f} (best runs), {median:.2f} (medians)")
    print(f"load after throughput: {os.getloadavg()}")
    for name, t in zip(names if args.ism_windows else [], index, strict=False):
        ism_codes = windows_from_h5(
            args.data, positives_of=name, max_windows=args.ism_windows
        ).codes
        for m in ("expected_gradients", "grad_x_input"):
            maps = ours(
                net, ism_codes, int(t), m, args.shuffles, args.steps, 0, args.batch_size, args.chunk
            )
            r = ism_agreement(net, ism_codes, maps, int(t), chunk=args.chunk)
            q = np.nanpercentile(r, [25, 50, 75])
            print(
                f"ISM agreement {name} {m}: median r = {q[1]:.3f} (IQR {q[0]:.3f}-{q[2]:.3f}, "
                f"min {np.nanmin(r):.3f}, n = {len(r)})"
            )
    print(f"load at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
