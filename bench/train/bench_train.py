"""Training throughput of danq-pipeline vs. baselines measured in the same run.

Measures, on whatever device is present (CPU here, CUDA when available):

* the data loader alone (HDF5 chunked reads + shuffle + RC augmentation + one-hot), windows/s;
* training steps of the `danq` preset (919 targets, 1000 bp, batch 100): fp32 and bf16 autocast,
  with ReLU-then-pool (the paper's order) as the in-run baseline for the pool-first change, and
  the `torch` recipe (torch.optim.RMSprop) as the in-run baseline of the `paper` recipe's Keras
  0.2 RMSprop update (the goal: within 5%); the optimizer step alone is timed too;
* FLOPs per training sample, counted with torch.utils.flop_counter (the LSTM's fused CPU
  kernels get a counted formula), and the share of a measured dense-matmul rate they reach;
* the projected time of one DeepSEA epoch (4.4M windows).

Selene 0.6 (bench/train/bench_selene.py, in its own virtualenv bench/.venv-selene) is timed
end to end as one more variant of the interleaved rounds (a server process fed over a pipe).
Every rate is the median over interleaved rounds, so load from other jobs hits all variants alike.

    flock /tmp/danq-bench.lock .venv/bin/python bench/train/bench_train.py --threads 2
    # only the recipe comparison:
    .venv/bin/python bench/train/bench_train.py --threads 2 --variants fp32 fp32_torch_recipe --rounds 9
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
from danq_pipeline.dataset import WindowsH5, WindowsWriter
from danq_pipeline.loader import epoch_plan, iter_batches, to_one_hot
from danq_pipeline.model import DanQ, build_model
from danq_pipeline.recipe import make_optimizer
from danq_pipeline.targets import targets_frame

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
    with WindowsWriter(path, window=length, targets=targets, contigs=["chrB"], split="train") as w:
        for a in range(0, n, 4096):
            k = min(4096, n - a)
            w.append(
                rng.integers(0, 4, (k, length), dtype=np.uint8),
                (rng.random((k, N_TARGETS)) < 0.025),
                np.zeros(k, np.int32),
                np.arange(a, a + k) * length,
            )
    return path


def bench_loader(path: Path, device: torch.device, workers: int, batch_size: int = 100) -> float:
    """Windows/s of one full epoch of batches (read, shuffle, RC, one-hot on `device`)."""
    data = WindowsH5(path)
    plan = epoch_plan(len(data), 0, 1, rc_augment=True)
    t0 = time.perf_counter()
    n = 0
    for batch in iter_batches(
        data, plan, batch_size, workers=workers, pin_memory=device.type == "cuda"
    ):
        x = to_one_hot(batch.codes, device)
        n += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


class Stepper:
    """One timed training setup: model + RMSprop + precision."""

    def __init__(
        self, model: DanQ, device: torch.device, bf16: bool, batch_size: int, recipe: str = "paper"
    ) -> None:
        self.model, self.device, self.bf16 = model.to(device).train(), device, bf16
        self.opt = make_optimizer(recipe, model.parameters(), 1e-3)
        self.codes = torch.randint(0, 4, (batch_size, model.kwargs["window"]), dtype=torch.uint8)
        self.y = (torch.rand(batch_size, model.kwargs["n_targets"]) < 0.025).float().to(device)

    def run(self, steps: int) -> float:
        """Training windows/s over `steps` full steps (one-hot, forward, BCE, backward, RMSprop)."""
        _sync(self.device)
        t0 = time.perf_counter()
        for _ in range(steps):
            with autocast_context(self.device, self.bf16):
                logits = self.model(to_one_hot(self.codes, self.device))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), self.y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        _sync(self.device)
        return steps * len(self.codes) / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_variants(variants: dict[str, Stepper], rounds: int, steps: int) -> dict[str, float]:
    """Median windows/s per variant over `rounds` interleaved rounds (fair on a noisy machine)."""
    for stepper in variants.values():
        stepper.run(2)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, stepper in variants.items():
            rates[name].append(stepper.run(steps))
    return {name: float(np.median(r)) for name, r in rates.items()}


class SeleneStepper:
    """Selene 0.6's end-to-end training (bench_selene.py --serve in its own virtualenv) as a variant."""

    def __init__(self, python: Path, threads: int) -> None:
        import subprocess

        script = Path(__file__).with_name("bench_selene.py")
        self.proc = subprocess.Popen(
            [str(python), str(script), "--serve", "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._read("ready")

    def run(self, steps: int) -> float:
        self.proc.stdin.write(f"{steps * 2}\n")  # batch 64 vs 100: about the same time per round
        self.proc.stdin.flush()
        return float(self._read("RATE ")[5:])

    def _read(self, prefix: str) -> str:
        """The next line starting with `prefix` (Selene's logger also writes to stdout)."""
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line.strip()
        raise RuntimeError("bench_selene.py --serve stopped; run it by hand to see why")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def optimizer_step_ms(model: DanQ, recipe: str, reps: int = 20) -> float:
    """Median milliseconds of one optimizer step over all parameters (gradients already set)."""
    opt = make_optimizer(recipe, model.parameters(), 1e-3)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    times = []
    for _ in range(reps + 2):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times[2:]))


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
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (batch_size, model.kwargs["window"])), 4)
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
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads; default: %(default)s")
    p.add_argument("--device", default="auto", help="default: %(default)s")
    p.add_argument(
        "--steps",
        type=int,
        default=3,
        help="timed steps per variant and round (x10 on CUDA); default: %(default)s",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved rounds (median reported); default: %(default)s",
    )
    p.add_argument(
        "--selene-python",
        type=Path,
        default=Path("bench/.venv-selene/bin/python"),
        help="python of the Selene 0.6 virtualenv (timed in the same interleaved rounds); default: %(default)s",
    )
    p.add_argument(
        "--loader-windows",
        type=int,
        default=40_000,
        help="windows in the loader test file; default: %(default)s",
    )
    p.add_argument("--json", type=Path, help="write the results here too")
    p.add_argument(
        "--variants",
        nargs="+",
        metavar="NAME",
        help="time only these variants (fp32 bf16 fp32_relu_first bf16_relu_first fp32_torch_recipe "
        "selene); default: all",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    if gpu:
        args.steps *= 10
    res: dict[str, object] = {
        "device": torch.cuda.get_device_name(device) if gpu else f"cpu x{args.threads} threads",
        "torch": torch.__version__,
    }
    everything = not args.variants
    if everything:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_windows(Path(tmp) / "bench.h5", args.loader_windows)
            res["loader_win_s"] = bench_loader(path, device, 0)
            res["loader_win_s_2_workers"] = bench_loader(path, device, 2)
    torch.manual_seed(0)
    model = build_model("danq", N_TARGETS, 1000)
    res["flops_per_sample"], res["flops_by_op"] = count_flops(model)
    for recipe in ("paper", "torch"):
        res[f"optimizer_step_ms_{recipe}"] = optimizer_step_ms(
            build_model("danq", N_TARGETS, 1000), recipe
        )
    base = DanQReluFirst(**model.kwargs)
    variants = {
        "fp32": Stepper(model, device, False, 100),
        "bf16": Stepper(model, device, True, 100),
        "fp32_relu_first": Stepper(base, device, False, 100),
        "bf16_relu_first": Stepper(base, device, True, 100),
        "fp32_torch_recipe": Stepper(
            build_model("danq", N_TARGETS, 1000, recipe="torch"), device, False, 100, recipe="torch"
        ),
    }
    variants = {k: v for k, v in variants.items() if everything or k in args.variants}
    selene = None
    wants_selene = not gpu and (everything or "selene" in args.variants)
    if wants_selene and args.selene_python.exists():
        selene = variants["selene"] = SeleneStepper(args.selene_python, args.threads)
    elif wants_selene:
        print(
            f"no Selene virtualenv at {args.selene_python}; see bench/train/bench_selene.py",
            file=sys.stderr,
        )
    for name, rate in bench_variants(variants, args.rounds, args.steps).items():
        res[f"{name}_win_s"] = rate
    if selene:
        selene.close()
    res["matmul_fp32_flop_s"] = matmul_rate(device, torch.float32)
    res["matmul_bf16_flop_s"] = matmul_rate(device, torch.bfloat16)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    report(res) if everything else report_recipes(res)
    return 0


def report_recipes(r: dict) -> None:
    """The paper recipe's training rate against the torch recipe's, and the optimizer step alone."""
    lines = [
        f"device: {r['device']}, torch {r['torch']}",
        f"optimizer step alone (danq preset, 46.9M parameters): paper (Keras 0.2 RMSprop, foreach) "
        f"{r['optimizer_step_ms_paper']:.1f} ms, torch.optim.RMSprop {r['optimizer_step_ms_torch']:.1f} ms",
    ]
    if "fp32_win_s" in r and "fp32_torch_recipe_win_s" in r:
        ratio = r["fp32_win_s"] / r["fp32_torch_recipe_win_s"]
        lines.append(
            f"training steps, fp32, batch 100: paper recipe {r['fp32_win_s']:.1f} win/s, torch recipe "
            f"{r['fp32_torch_recipe_win_s']:.1f} win/s -> paper/torch x{ratio:.3f}"
        )
    print("\n".join(lines), flush=True)


def report(r: dict) -> None:
    """Print the figures and the ratios against the in-run baselines."""
    f = r["flops_per_sample"]
    out = [
        f"device: {r['device']}, torch {r['torch']}",
        f"loader alone: {r['loader_win_s']:.0f} win/s (0 workers), {r['loader_win_s_2_workers']:.0f} win/s "
        f"(2 workers); vs bf16 training: {r['loader_win_s'] / r['bf16_win_s']:.0f}x",
        f"FLOPs per training sample (fwd+bwd, counted): {f / 1e9:.3f} GFLOP  "
        + ", ".join(f"{k.replace('aten.', '')} {v / 1e9:.3f}" for k, v in r["flops_by_op"].items()),
    ]
    for prec in ("fp32", "bf16"):
        win = r[f"{prec}_win_s"]
        eff = win * f / r[f"matmul_{prec}_flop_s"]
        out.append(
            f"danq preset, batch 100, {prec}: {win:.1f} win/s ({win * f / 1e9:.0f} GFLOP/s = {eff:.0%} of "
            f"measured {prec} matmul {r[f'matmul_{prec}_flop_s'] / 1e9:.0f} GFLOP/s); ReLU-before-pool "
            f"{r[f'{prec}_relu_first_win_s']:.1f} win/s -> pool-first x{win / r[f'{prec}_relu_first_win_s']:.2f}; "
            f"DeepSEA epoch (4.4M windows) {DEEPSEA_EPOCH / win / 3600:.1f} h"
        )
    report_recipes(r)
    if "selene_win_s" in r:
        s = r["selene_win_s"]
        out.append(
            f"Selene 0.6 DanQ end to end (batch 64, its sampler + TrainModel, interleaved): {s:.1f} win/s; "
            f"danq-pipeline fp32 x{r['fp32_win_s'] / s:.2f}, bf16 x{r['bf16_win_s'] / s:.2f}"
        )
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
