"""Training throughput of danq-pipeline vs. baselines measured in the same run.

Measures, on whatever device is present (CPU here, CUDA when available):

* the data loader alone (HDF5 chunked reads + shuffle + RC augmentation + one-hot), windows/s;
* training steps of the `danq` preset (919 targets, 1000 bp, batch 100): fp32 and bf16 autocast,
  with ReLU-then-pool (the paper's order) as the in-run baseline for the pool-first change;
* FLOPs per training sample, counted with torch.utils.flop_counter (the LSTM's fused CPU
  kernels get a counted formula), and the share of a measured dense-matmul rate they reach;
* the projected time of one DeepSEA epoch (4.4M windows).

Selene 0.6 is timed by bench/train/bench_selene.py in its own virtualenv; pass its JSON
result with --selene to print the end-to-end ratio.

    flock /tmp/danq-bench.lock .venv/bin/python bench/train/bench_train.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from danq_pipeline._device import autocast_context, resolve_device
from danq_pipeline.dataset import WindowsH5, WindowsWriter, targets_frame
from danq_pipeline.loader import epoch_plan, iter_batches, to_one_hot
from danq_pipeline.model import DanQ, build_model
from danq_pipeline.train import rmsprop

DEEPSEA_EPOCH = 4_400_000
N_TARGETS = 919


class DanQReluFirst(DanQ):
    """The paper's order (ReLU, then max-pool): the baseline of the pool-first change."""

    def _motif_track(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x)))


def write_windows(path: Path, n: int, length: int = 1000) -> Path:
    """Random windows with DeepSEA-like label density (~2.5%), 919 targets."""
    rng = np.random.default_rng(0)
    targets = targets_frame([f"t{i}" for i in range(N_TARGETS)], ["TF"] * N_TARGETS)
    with WindowsWriter(path, window_size=length, targets=targets, contigs=["chrB"], split="train") as w:
        for a in range(0, n, 4096):
            k = min(4096, n - a)
            w.append(rng.integers(0, 4, (k, length), dtype=np.uint8), (rng.random((k, N_TARGETS)) < 0.025),
                     np.zeros(k, np.int32), np.arange(a, a + k) * length)
    return path


def bench_loader(path: Path, device: torch.device, workers: int, batch_size: int = 100) -> float:
    """Windows/s of one full epoch of batches (read, shuffle, RC, one-hot on `device`)."""
    data = WindowsH5(path)
    plan = epoch_plan(len(data), 0, 1, rc_augment=True)
    t0 = time.perf_counter()
    n = 0
    for batch in iter_batches(data, plan, batch_size, workers=workers, pin_memory=device.type == "cuda"):
        x = to_one_hot(batch.codes, device)
        n += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def bench_steps(model: DanQ, device: torch.device, bf16: bool, batch_size: int, steps: int, warmup: int) -> float:
    """Training samples/s of full steps (one-hot, forward, BCE, backward, RMSprop)."""
    model.to(device).train()
    opt = rmsprop(model, 1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    codes = torch.randint(0, 4, (batch_size, model.kwargs["seq_len"]), dtype=torch.uint8)
    y = (torch.rand(batch_size, model.kwargs["n_targets"]) < 0.025).float().to(device)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with autocast_context(device, bf16):
            logits = model(to_one_hot(codes, device))
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - t0)


def _rnn_fwd(input_shape, w_ih, w_hh, *args, **kwargs) -> int:
    t, b, i = input_shape
    return 2 * t * b * w_ih[0] * (i + w_hh[1])


def _rnn_bwd(input_shape, w_ih, w_hh, *args, **kwargs) -> int:
    return 2 * _rnn_fwd(input_shape, w_ih, w_hh)


def count_flops(model: DanQ, batch_size: int = 10) -> tuple[float, dict[str, float]]:
    """FLOPs per training sample (forward + backward), counted op by op on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    model = model.cpu().train()
    aten = torch.ops.aten
    custom = {aten.mkldnn_rnn_layer: _rnn_fwd, aten.mkldnn_rnn_layer_backward: _rnn_bwd}
    counter = FlopCounterMode(display=False, custom_mapping=custom)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (batch_size, model.kwargs["seq_len"])), 4)
    with counter:
        model(x.float().transpose(1, 2)).sum().backward()
    per_op = {str(k): v / batch_size for k, v in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops() / batch_size, per_op


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """Measured dense matmul FLOP/s: the machine's practical peak for this dtype."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads; default: %(default)s")
    p.add_argument("--device", default="auto", help="default: %(default)s")
    p.add_argument("--steps", type=int, default=6, help="timed steps per variant on CPU (x10 on CUDA); default: %(default)s")
    p.add_argument("--loader-windows", type=int, default=40_000, help="windows in the loader test file; default: %(default)s")
    p.add_argument("--selene", type=Path, help="JSON written by bench_selene.py in the same session")
    p.add_argument("--json", type=Path, help="write the results here too")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    steps, warmup = (args.steps * 10, 5) if gpu else (args.steps, 2)
    res: dict[str, object] = {"device": torch.cuda.get_device_name(device) if gpu else f"cpu x{args.threads} threads",
                              "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_windows(Path(tmp) / "bench.h5", args.loader_windows)
        res["loader_win_s"] = bench_loader(path, device, 0)
        res["loader_win_s_2_workers"] = bench_loader(path, device, 2)
    torch.manual_seed(0)
    model = build_model("danq", N_TARGETS, 1000)
    res["flops_per_sample"], res["flops_by_op"] = count_flops(model)
    res["fp32_win_s"] = bench_steps(model, device, False, 100, steps, warmup)
    res["bf16_win_s"] = bench_steps(model, device, True, 100, steps, warmup)
    base = DanQReluFirst(n_targets=N_TARGETS, seq_len=1000, **{k: v for k, v in model.kwargs.items()
                                                              if k not in ("n_targets", "seq_len")})
    res["fp32_relu_first_win_s"] = bench_steps(base, device, False, 100, steps, warmup)
    res["bf16_relu_first_win_s"] = bench_steps(base, device, True, 100, steps, warmup)
    if not gpu:  # baseline of the fp32 conv stage under CPU bf16 autocast
        model.cpu_bf16_conv = True
        res["bf16_conv_bf16_win_s"] = bench_steps(model, device, True, 100, steps, warmup)
        model.cpu_bf16_conv = False
    res["matmul_fp32_flop_s"] = matmul_rate(device, torch.float32)
    res["matmul_bf16_flop_s"] = matmul_rate(device, torch.bfloat16)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    selene = None
    if args.selene and args.selene.exists():
        selene = json.loads(args.selene.read_text())
    elif args.selene:
        print(f"no Selene result at {args.selene}; run bench_selene.py first", file=sys.stderr)
    report(res, selene)
    return 0


def report(r: dict, selene: dict | None) -> None:
    """Print the figures and the ratios against the in-run baselines."""
    f = r["flops_per_sample"]
    out = [f"device: {r['device']}, torch {r['torch']}",
           f"loader alone: {r['loader_win_s']:.0f} win/s (0 workers), {r['loader_win_s_2_workers']:.0f} win/s "
           f"(2 workers); vs bf16 training: {r['loader_win_s'] / r['bf16_win_s']:.0f}x",
           f"FLOPs per training sample (fwd+bwd, counted): {f / 1e9:.3f} GFLOP  "
           + ", ".join(f"{k.replace('aten.', '')} {v / 1e9:.3f}" for k, v in r["flops_by_op"].items())]
    for prec in ("fp32", "bf16"):
        win = r[f"{prec}_win_s"]
        eff = win * f / r[f"matmul_{prec}_flop_s"]
        out.append(f"danq preset, batch 100, {prec}: {win:.1f} win/s ({win * f / 1e9:.0f} GFLOP/s = {eff:.0%} of "
                   f"measured {prec} matmul {r[f'matmul_{prec}_flop_s'] / 1e9:.0f} GFLOP/s); ReLU-before-pool "
                   f"{r[f'{prec}_relu_first_win_s']:.1f} win/s -> pool-first x{win / r[f'{prec}_relu_first_win_s']:.2f}; "
                   f"DeepSEA epoch (4.4M windows) {DEEPSEA_EPOCH / win / 3600:.1f} h")
    if "bf16_conv_bf16_win_s" in r:
        out.append(f"bf16 with the conv stage in bf16 too: {r['bf16_conv_bf16_win_s']:.1f} win/s -> fp32 conv stage "
                   f"x{r['bf16_win_s'] / r['bf16_conv_bf16_win_s']:.2f}")
    if selene:
        s = selene["win_s"]
        out.append(f"Selene 0.6 DanQ (batch {selene['batch_size']}, its sampler+trainer): {s:.1f} win/s; "
                   f"danq-pipeline fp32 x{r['fp32_win_s'] / s:.2f}, bf16 x{r['bf16_win_s'] / s:.2f}")
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
