"""Benchmark `danq evaluate`'s prediction stage: windows/s with strand averaging.

Writes a windows file (1000 bp, 919 targets, random sequence) and a DanQ checkpoint of the
chosen preset, then measures in the same run:
* ceiling: the model's forward passes alone on one-hot tensors already in memory, twice per
  window (forward + reverse complement), i.e. what strand averaging costs at best;
* naive: a plain loop reading each batch from HDF5 (`WindowsH5.read`, forward and reverse
  complement) with no block reads or prefetch;
* pipeline: `evaluate.iter_predictions` (block reads, background prefetch, RC from codes),
  fp32 and with --bf16 also bf16 autocast;
and prints windows/s and the ratios pipeline/naive and pipeline/ceiling. It also projects the
time for DeepSEA's 455,024 test windows (227,512 pairs).

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/evaluate/bench_predict.py [--preset danq] [--bf16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_inputs(tmp: Path, n: int, length: int, n_targets: int, preset: str) -> tuple[Path, Path]:
    from danq_pipeline.dataset import WindowsWriter
    from danq_pipeline.model import build_model, save_checkpoint
    from danq_pipeline.targets import targets_frame

    rng = np.random.default_rng(0)
    targets = targets_frame([f"t{i}" for i in range(n_targets)], ["TF"] * n_targets)
    data = tmp / "test.h5"
    with WindowsWriter(data, window=length, targets=targets, contigs=["chrB"], split="test") as w:
        w.append(
            rng.integers(0, 4, (n, length), dtype=np.uint8),
            (rng.random((n, n_targets)) < 0.05).astype(np.uint8),
            np.zeros(n, np.int32),
            np.arange(n, dtype=np.int64) * length,
        )
    model = tmp / "model.pt"
    save_checkpoint(model, build_model(preset, n_targets, length), targets)
    return data, model


def ceiling(model, data, batch_size: int, device) -> float:
    """Seconds for forward + RC forward passes on tensors already in memory."""
    import torch

    from danq_pipeline.encode import one_hot, reverse_complement_codes

    codes = data.read_codes(0, len(data))[0]
    xs = [torch.from_numpy(one_hot(c)).to(device) for c in (codes, reverse_complement_codes(codes))]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x in xs:
            for a in range(0, len(x), batch_size):
                torch.sigmoid(model(x[a : a + batch_size]))
    return time.perf_counter() - t0


def naive(model, data, batch_size: int, device) -> float:
    """Seconds for a plain per-batch HDF5 read + two forward passes, no prefetch."""
    import torch

    t0 = time.perf_counter()
    with torch.inference_mode():
        for a in range(0, len(data), batch_size):
            b = min(a + batch_size, len(data))
            p = [
                torch.sigmoid(
                    model(torch.from_numpy(data.read(a, b, reverse_complement=rc)[0]).to(device))
                )
                for rc in (False, True)
            ]
            ((p[0] + p[1]) / 2).cpu().numpy()
    return time.perf_counter() - t0


def pipeline(model, data, batch_size: int, device, bf16: bool) -> float:
    from danq_pipeline.evaluate import iter_predictions
    from danq_pipeline.predictor import as_predictor

    predictor = as_predictor(
        model, device=device, batch_size=batch_size, precision="bf16" if bf16 else "fp32"
    )
    t0 = time.perf_counter()
    for _ in iter_predictions(predictor, data, progress=False):
        pass
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--windows", type=int, default=1024)
    ap.add_argument("--preset", default="danq")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--bf16",
        action="store_true",
        help="also time --precision bf16 (a bf16 copy of the weights on the CPU)",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import torch

    from danq_pipeline._device import resolve_device
    from danq_pipeline.dataset import WindowsH5
    from danq_pipeline.model import load_model

    dev = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        data_path, model_path = make_inputs(Path(tmp), args.windows, 1000, 919, args.preset)
        data, model = WindowsH5(data_path), load_model(model_path, dev)
        net = model.net
        pipeline(
            model, WindowsH5(data_path), args.batch_size, dev, False
        )  # warm-up (allocator, threads)
        times = {
            "ceiling": ceiling(net, data, args.batch_size, dev),
            "naive": naive(net, data, args.batch_size, dev),
            "pipeline_fp32": pipeline(model, data, args.batch_size, dev, False),
        }
        if args.bf16:
            times["pipeline_bf16"] = pipeline(model, data, args.batch_size, dev, True)
    rate = {k: args.windows / v for k, v in times.items()}
    out = {
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "preset": args.preset,
        "windows": args.windows,
        "windows_per_s": {k: round(v, 1) for k, v in rate.items()},
        "pipeline_vs_naive": round(rate["pipeline_fp32"] / rate["naive"], 2),
        "pipeline_vs_ceiling": round(rate["pipeline_fp32"] / rate["ceiling"], 2),
        "deepsea_test_hours_fp32": round(227_512 / rate["pipeline_fp32"] / 3600, 2),
    }
    if args.bf16:
        out["bf16_vs_fp32"] = round(rate["pipeline_bf16"] / rate["pipeline_fp32"], 2)
        out["deepsea_test_hours_bf16"] = round(227_512 / rate["pipeline_bf16"] / 3600, 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
