"""bench/gpu/check.sh --dry-run: the GPU check's every stage on the CPU with tiny sizes, so the
script that will run on a lent GPU machine keeps working between such runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def script(repo: Path) -> Path:
    return repo / "bench" / "gpu" / "check.sh"


def test_dry_run_writes_every_stage(script: Path, tmp_path: Path, tool_env: dict) -> None:
    out = tmp_path / "out"
    run = subprocess.run(
        ["bash", str(script), str(out), "--dry-run"],
        env=tool_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    r = json.loads((out / "results.json").read_text())
    assert r["ok"] is True and r["complete"] is True and r["environment"]["mode"] == "dry-run (CPU)"
    # pytest -m gpu ran: the GPU tests were collected and skipped on the CPU, none failed
    assert r["pytest_gpu"]["status"] == "ok" and r["pytest_gpu"]["tests"] >= 1
    assert r["pytest_gpu"]["failed_tests"] == [] and (out / "pytest_gpu.xml").exists()
    train = r["train"]
    for precision in ("fp32", "bf16"):
        t = train[precision]
        assert t["steps"] == r["sizes"]["train_steps"] and t["windows_per_s"] > 0
        assert t["ceiling_windows_per_s"] > 0 and t["deepsea_epoch_hours"] > 0
        assert t["peak_gpu_mib"] is None  # no GPU here
        assert r["predict"][precision]["windows_per_s"] > 0
        assert r["score_variants"][precision]["alleles_per_s"] > 0
    assert r["predict"]["windows"] == r["sizes"]["predict_windows"]
    assert r["score_variants"]["alleles"] == r["sizes"]["snvs"]
    # torchrun with two gloo ranks gave one process's losses and weights
    ddp = r["ddp"]
    assert ddp["status"] == "ok" and ddp["world_size"] == 2 and ddp["backend"] == "gloo"
    assert ddp["steps"] == r["sizes"]["ddp_steps"]
    assert ddp["max_abs_train_loss_diff"] < 1e-3 and ddp["max_abs_weight_diff"] < 1e-3


def test_bad_usage_is_one_line(script: Path, tmp_path: Path, tool_env: dict) -> None:
    run = subprocess.run(
        ["bash", str(script), str(tmp_path), "--fast"],
        env=tool_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--fast" in run.stderr
    assert not (tmp_path / "results.json").exists()


def test_without_a_gpu_it_says_use_dry_run(script: Path, tmp_path: Path, tool_env: dict) -> None:
    run = subprocess.run(
        ["bash", str(script), str(tmp_path / "out")],
        env={**tool_env, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--dry-run" in run.stderr
    assert not (tmp_path / "out" / "results.json").exists()
