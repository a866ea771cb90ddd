"""GPU check (issue 16): the stages a GPU user runs, timed on the GPU, one JSON of results.

Run by bench/gpu/check.sh (which runs `pytest -m gpu` first and passes its JUnit XML here):

* train: `train_model` (the real loader + step loop) of the `danq` preset for a fixed number of
  steps on synthetic DeepSEA-shaped windows (1000 bp, 919 targets, ~2.5% positives), fp32 and
  bf16: windows/s from the run's history, peak GPU memory, and the projected time of one
  DeepSEA epoch (4.4M windows); plus the step loop alone on tensors already on the device
  (the model's ceiling, to tell a loader-bound run from a GPU-bound one);
* predict: `evaluate.iter_predictions` (what `danq evaluate` runs), fp32 and bf16, windows/s
  with strand averaging, projected over DeepSEA's 455,024 test windows;
* score: `write_variant_scores` (what `danq score-variants` runs: VCF in, TSV + HDF5 + VCF.gz
  out) on random SNVs of the demo genome, fp32 and bf16, alleles/s;
* ddp: `torchrun` over all visible GPUs (NCCL) trains with the global batch split over ranks;
  its losses and weights must equal one process's with the whole batch (dropout off, the
  same data order). With one GPU there is nothing to compare (NCCL needs two ranks on two
  devices), and the stage says so.

`--dry-run` runs every stage on the CPU with tiny sizes and the `small` preset, and DDP with
two gloo processes, so tests/test_gpu_check.py keeps this script from rotting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "variants"))
from bench_variants import make_vcf  # noqa: E402

DEEPSEA_EPOCH = 4_400_000  # training windows per DeepSEA epoch
DEEPSEA_TEST = 455_024  # DeepSEA test windows (227,512 strand pairs)
N_TARGETS, LENGTH = 919, 1000
DEMO_FASTA = REPO / "data/hg19_chr22/genome/hg19_chr22_1-22000000.fa.gz"

# sizes: GPU (sized to finish well inside 8 minutes on one H200) and the CPU dry run
SIZES: dict[str, dict[str, Any]] = {
    "gpu": dict(
        preset="danq",
        batch=100,
        train_steps=400,
        valid=2000,
        ceiling_steps=100,
        ddp_steps=20,
        ddp_batch=64,
        predict_windows=20_000,
        predict_batch=256,
        snvs=4000,
        score_batch=256,
    ),
    "dry": dict(
        preset="small",
        batch=8,
        train_steps=3,
        valid=16,
        ceiling_steps=2,
        ddp_steps=3,
        ddp_batch=8,
        predict_windows=64,
        predict_batch=32,
        snvs=12,
        score_batch=16,
    ),
}


def write_windows(path: Path, n: int, split: str, seed: int, length: int = LENGTH) -> Path:
    """Random windows with DeepSEA-like label density (~2.5% positives), 919 targets."""
    from danq_pipeline.dataset import WindowsWriter
    from danq_pipeline.targets import targets_frame

    rng = np.random.default_rng(seed)
    targets = targets_frame([f"t{i}" for i in range(N_TARGETS)], ["TF"] * N_TARGETS)
    with WindowsWriter(path, window=length, targets=targets, contigs=["chrS"], split=split) as w:
        for a in range(0, n, 4096):
            k = min(4096, n - a)
            w.append(
                rng.integers(0, 4, (k, length), dtype=np.uint8),
                (rng.random((k, N_TARGETS)) < 0.025).astype(np.uint8),
                np.zeros(k, np.int32),
                np.arange(a, a + k, dtype=np.int64) * length,
            )
    return path


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: Any) -> float | None:
    """Peak GPU memory allocated by torch since the last reset (None on the CPU)."""
    import torch

    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def stage_train(tmp: Path, size: dict, device: Any) -> dict:
    """train_model for a fixed number of steps, fp32 and bf16, plus the step loop alone."""
    from danq_pipeline.train import train_model

    n = size["train_steps"] * size["batch"]
    train = write_windows(tmp / "train.h5", n, "train", seed=1)
    valid = write_windows(tmp / "valid.h5", size["valid"], "valid", seed=2)
    common = dict(
        preset=size["preset"],
        epochs=1,
        batch_size=size["batch"],
        device=str(device),
        checkpoint_every=0,
        progress=False,
        seed=1,
    )
    # warm-up: CUDA context, cuDNN handles and kernel selection stay out of the timed runs
    train_model(
        train, valid, tmp / "warm" / "m.pt", max_train_windows=min(n, 5 * size["batch"]), **common
    )
    out: dict[str, Any] = {"preset": size["preset"], "batch_size": size["batch"], "windows": n}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        _reset_peak(device)
        hist = train_model(train, valid, tmp / name / "m.pt", precision=name, **common)
        row = hist.iloc[-1]
        rate = float(row["samples_per_s"])
        out[name] = {
            "windows_per_s": round(rate, 1),
            "steps": int(row["train_samples"]) // size["batch"],
            "epoch_seconds": float(row["seconds"]),
            "train_loss": float(row["train_loss"]),
            "peak_gpu_mib": _peak_mib(device),
            "deepsea_epoch_hours": round(DEEPSEA_EPOCH / rate / 3600, 3),
        }
        out[name]["ceiling_windows_per_s"] = step_ceiling(size, device, bf16)
    out["model_path"] = str(tmp / "fp32" / "m.pt")
    return out


def step_ceiling(size: dict, device: Any, bf16: bool) -> float:
    """Training windows/s of the step loop alone on one batch already on the device."""
    import torch

    from danq_pipeline._device import autocast_context
    from danq_pipeline.loader import to_one_hot
    from danq_pipeline.model import build_model
    from danq_pipeline.recipe import make_optimizer

    torch.manual_seed(0)
    model = build_model(size["preset"], N_TARGETS, LENGTH).to(device).train()
    opt = make_optimizer("paper", model.parameters(), 1e-3)
    codes = torch.randint(0, 4, (size["batch"], LENGTH), dtype=torch.uint8)
    y = (torch.rand(size["batch"], N_TARGETS) < 0.025).float().to(device)

    def steps(k: int) -> None:
        for _ in range(k):
            with autocast_context(device, bf16):
                logits = model(to_one_hot(codes, device))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    steps(2)
    _sync(device)
    t0 = time.perf_counter()
    steps(size["ceiling_steps"])
    _sync(device)
    return round(size["ceiling_steps"] * size["batch"] / (time.perf_counter() - t0), 1)


def stage_predict(tmp: Path, size: dict, device: Any, model_path: Path) -> dict:
    """iter_predictions (strand-averaged), fp32 and bf16: the better of two passes each."""
    from danq_pipeline.dataset import WindowsH5
    from danq_pipeline.evaluate import iter_predictions
    from danq_pipeline.model import load_model
    from danq_pipeline.predictor import as_predictor

    data_path = write_windows(tmp / "test.h5", size["predict_windows"], "test", seed=3)
    model = load_model(model_path, device)
    data = WindowsH5(data_path)
    out: dict[str, Any] = {"windows": len(data), "batch_size": size["predict_batch"]}
    for name in ("fp32", "bf16"):
        _reset_peak(device)
        predictor = as_predictor(
            model, device=device, precision=name, batch_size=size["predict_batch"]
        )
        rates = []
        for _ in range(2):
            t0 = time.perf_counter()
            rows = sum(len(p) for _, _, p, _ in iter_predictions(predictor, data, progress=False))
            rates.append(rows / (time.perf_counter() - t0))
        assert rows == len(data), (rows, len(data))
        best = max(rates)
        out[name] = {
            "windows_per_s": round(best, 1),
            "passes_windows_per_s": [round(r, 1) for r in rates],
            "peak_gpu_mib": _peak_mib(device),
            "deepsea_test_minutes": round(DEEPSEA_TEST / best / 60, 2),
        }
    return out


def stage_score(tmp: Path, size: dict, device: Any, model_path: Path) -> dict:
    """write_variant_scores (score-variants' whole path) on random SNVs, fp32 and bf16."""
    import pandas as pd

    from danq_pipeline.model import load_model
    from danq_pipeline.variants import write_variant_scores

    vcf = tmp / "snvs.vcf"
    make_vcf(vcf, size["snvs"])  # the same random SNVs bench/variants uses
    n = size["snvs"]
    model = load_model(model_path, device)
    out: dict[str, Any] = {"alleles": n, "batch_size": size["score_batch"]}
    for name in ("fp32", "bf16"):
        _reset_peak(device)
        prefix = tmp / f"scores_{name}"
        t0 = time.perf_counter()
        with warnings.catch_warnings():  # the note that a 919-target TSV shows summary columns only
            warnings.simplefilter("ignore")
            counts = write_variant_scores(
                model,
                DEMO_FASTA,
                vcf,
                prefix,
                device=device,
                precision=name,
                batch_size=size["score_batch"],
                progress=False,
            )
        seconds = time.perf_counter() - t0
        table = pd.read_csv(f"{prefix}.tsv", sep="\t", comment="#")
        assert len(table) == n and (table["status"] == "ok").all(), counts
        out[name] = {
            "alleles_per_s": round(n / seconds, 1),
            "seconds": round(seconds, 2),
            "peak_gpu_mib": _peak_mib(device),
        }
    return out


# dropout off (each rank draws its own masks) and deterministic kernels: the runs may differ
# only by float summation order
DDP_SETTINGS = dict(
    epochs=1,
    seed=4,
    deterministic=True,
    progress=False,
    checkpoint_every=0,
    rc_augment=False,
    model_overrides=dict(dropout_conv=0.0, dropout_lstm=0.0),
)
DDP_WORKER = """
import sys
sys.path.insert(0, sys.argv[1])
from danq_pipeline.train import train_model
sys.path.insert(0, sys.argv[2])
from check import DDP_SETTINGS
train, valid, out, batch, preset, device = sys.argv[3:9]
train_model(train, valid, out, batch_size=int(batch), device=device, preset=preset, **DDP_SETTINGS)
"""


def stage_ddp(tmp: Path, size: dict, device: Any, dry: bool) -> dict:
    """torchrun over every visible GPU (2 gloo processes in the dry run) vs one process."""
    import pandas as pd
    import torch

    from danq_pipeline.model import load_checkpoint
    from danq_pipeline.train import train_model

    world = 2 if dry else torch.cuda.device_count()
    backend = "gloo" if dry else "nccl"
    if world < 2:
        return {
            "status": "skipped",
            "world_size": world,
            "backend": backend,
            "reason": f"{world} GPU visible: DDP over NCCL needs two ranks on two GPUs",
        }
    batch = size["ddp_batch"]
    if batch % world:
        batch = world * max(1, batch // world)
    train = write_windows(tmp / "ddp_train.h5", size["ddp_steps"] * batch, "train", seed=5)
    valid = write_windows(tmp / "ddp_valid.h5", max(size["valid"] // 4, 8), "valid", seed=6)
    script = tmp / "ddp_worker.py"
    script.write_text(DDP_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    dev = "cpu" if dry else "cuda"
    one, many = tmp / "ddp_one" / "m.pt", tmp / "ddp_many" / "m.pt"
    t0 = time.perf_counter()
    # the reference: the worker's call, in this process, with the whole batch
    train_model(
        train, valid, one, batch_size=batch, device=dev, **DDP_SETTINGS, preset=size["preset"]
    )
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(world),
            str(script),
            str(REPO),
            str(Path(__file__).parent),
            str(train),
            str(valid),
            str(many),
            str(batch // world),
            size["preset"],
            dev,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if ddp.returncode:
        raise RuntimeError(f"torchrun failed: {ddp.stderr[-2000:]}")
    a, b = load_checkpoint(one.with_name("m.last.pt")), load_checkpoint(many.with_name("m.last.pt"))
    h1, h2 = (pd.read_csv(p.with_name("history.tsv"), sep="\t") for p in (one, many))
    weight_diff = max(
        float((v - b["state_dict"][k]).abs().max()) for k, v in a["state_dict"].items()
    )
    loss_diff = float((h1["train_loss"] - h2["train_loss"]).abs().max())
    valid_diff = float((h1["valid_loss"] - h2["valid_loss"]).abs().max())
    same = (
        a["step"] == b["step"]
        and b["training"]["world_size"] == world
        and loss_diff < 1e-3
        and valid_diff < 1e-3
        and weight_diff < 1e-3
    )
    return {
        "status": "ok" if same else "failed",
        "world_size": world,
        "backend": backend,
        "global_batch": batch,
        "steps": int(a["step"]),
        "train_loss_single": float(h1["train_loss"].iloc[-1]),
        "train_loss_ddp": float(h2["train_loss"].iloc[-1]),
        "max_abs_train_loss_diff": loss_diff,
        "max_abs_valid_loss_diff": valid_diff,
        "max_abs_weight_diff": weight_diff,
        "seconds_both_runs": round(time.perf_counter() - t0, 1),
        "tolerance": 1e-3,
    }


def read_junit(path: Path | None) -> dict:
    """Counts and failed test ids from `pytest --junitxml`."""
    if path is None or not path.exists():
        return {"status": "failed", "error": f"no JUnit XML at {path}"}
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    failed = [
        f"{c.get('classname')}::{c.get('name')}"
        for c in suite.iter("testcase")
        if c.find("failure") is not None or c.find("error") is not None
    ]
    ran = counts["tests"] - counts["skipped"]
    return {
        "status": "failed" if failed or counts["errors"] or counts["failures"] else "ok",
        **counts,
        "passed": ran - counts["failures"] - counts["errors"],
        "failed_tests": failed,
    }


def environment(dry: bool) -> dict:
    import torch

    info: dict[str, Any] = {
        "mode": "dry-run (CPU)" if dry else "gpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpus": torch.cuda.device_count(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if torch.cuda.is_available():
        info["gpu_names"] = [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ]
        info["cuda"] = torch.version.cuda
    try:
        info["commit"] = (
            subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        info["commit"] = None
    return info


def write_results(results: dict, out: Path) -> None:
    """results.json, replaced atomically: after each stage too, so a run stopped by its time
    limit still leaves the stages it finished (with "complete": false)."""
    out.mkdir(parents=True, exist_ok=True)
    tmp_json = out / "results.json.tmp"
    tmp_json.write_text(json.dumps(results, indent=2) + "\n")
    tmp_json.replace(out / "results.json")


def run_stage(results: dict, name: str, fn: Callable[[], dict], out: Path) -> dict | None:
    """Run one stage; record its result, or its error, and its wall time."""
    t0 = time.perf_counter()
    try:
        res = fn()
        res.setdefault("status", "ok")
    except Exception as err:  # a failed stage must not hide the others' figures
        res = {
            "status": "failed",
            "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc()[-3000:],
        }
    res["wall_seconds"] = round(time.perf_counter() - t0, 1)
    results[name] = res
    print(
        f"[gpu-check] {name}: {res['status']} ({res['wall_seconds']} s)",
        file=sys.stderr,
        flush=True,
    )
    write_results(results, out)
    return res if res["status"] == "ok" else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for results.json")
    ap.add_argument(
        "--dry-run", action="store_true", help="CPU, tiny sizes, gloo: the same code paths"
    )
    ap.add_argument("--junit", type=Path, help="pytest -m gpu's JUnit XML (from check.sh)")
    ap.add_argument("--pytest-exit", type=int, help="pytest -m gpu's exit status (from check.sh)")
    args = ap.parse_args(argv)
    import torch

    from danq_pipeline._device import resolve_device

    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu-check: error: no CUDA device; use --dry-run to exercise the script on the CPU",
            file=sys.stderr,
        )
        return 2
    size = SIZES["dry" if args.dry_run else "gpu"]
    device = resolve_device("cpu" if args.dry_run else "cuda")
    if args.dry_run:
        torch.set_num_threads(1)
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "complete": False,
        "environment": environment(args.dry_run),
        "sizes": size,
    }
    pytest_res = read_junit(args.junit)
    if args.pytest_exit not in (None, 0, 5) and pytest_res["status"] == "ok":
        pytest_res = {
            **pytest_res,
            "status": "failed",
            "error": f"pytest exit status {args.pytest_exit}",
        }
    pytest_res["exit_status"] = args.pytest_exit
    results["pytest_gpu"] = pytest_res
    with tempfile.TemporaryDirectory(prefix="danq-gpu-check-") as tmpdir:
        tmp = Path(tmpdir)
        train = run_stage(results, "train", lambda: stage_train(tmp, size, device), args.out)
        if train:
            model = Path(train.pop("model_path"))
            run_stage(results, "predict", lambda: stage_predict(tmp, size, device, model), args.out)
            run_stage(
                results, "score_variants", lambda: stage_score(tmp, size, device, model), args.out
            )
        else:
            for name in ("predict", "score_variants"):
                results[name] = {"status": "skipped", "reason": "the train stage failed (no model)"}
        run_stage(results, "ddp", lambda: stage_ddp(tmp, size, device, args.dry_run), args.out)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    stages = ("pytest_gpu", "train", "predict", "score_variants", "ddp")
    results["ok"] = all(results[s]["status"] in ("ok", "skipped") for s in stages)
    results["complete"] = True
    write_results(results, args.out)
    print(summary(results), flush=True)
    return 0 if results["ok"] else 1


def summary(r: dict) -> str:
    """A short table for the end of the output."""
    lines = [
        f"gpu-check ({r['environment']['mode']}): {'OK' if r['ok'] else 'FAILED'} in {r['wall_seconds']} s"
    ]
    p = r["pytest_gpu"]
    lines.append(
        f"  pytest -m gpu: {p['status']} ({p.get('passed', '?')} passed, {p.get('skipped', '?')} skipped)"
    )
    for stage, unit in (
        ("train", "windows/s"),
        ("predict", "windows/s"),
        ("score_variants", "alleles/s"),
    ):
        s = r[stage]
        if s["status"] != "ok":
            lines.append(f"  {stage}: {s['status']} {s.get('error', s.get('reason', ''))}")
            continue
        key = "alleles_per_s" if unit == "alleles/s" else "windows_per_s"
        lines.append(
            f"  {stage}: fp32 {s['fp32'][key]} {unit} (peak {s['fp32']['peak_gpu_mib']} MiB), "
            f"bf16 {s['bf16'][key]} {unit} (peak {s['bf16']['peak_gpu_mib']} MiB)"
        )
    d = r["ddp"]
    lines.append(
        f"  ddp: {d['status']} world {d.get('world_size')} {d.get('backend', '')} "
        f"loss diff {d.get('max_abs_train_loss_diff', d.get('reason', d.get('error', '')))}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
