"""DistributedDataParallel under torchrun: 2 gloo processes on CPU match one process.

Same global batch (2 x 32 vs 1 x 64), same data order, dropout off (each rank draws its own
masks), so the weights after an epoch agree up to float summation order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch
from train_fixtures import planted_windows

from danq_pipeline.model import load_checkpoint

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys, torch
from danq_pipeline.train import train_model
torch.set_num_threads(1)
train, valid, out, batch = sys.argv[1:5]
train_model(train, valid, out, preset="small", epochs=2, batch_size=int(batch), seed=4, device="cpu",
            deterministic=True, progress=False, model_overrides=dict(dropout_conv=0.0, dropout_lstm=0.0))
"""


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    train = planted_windows(tmp_path / "train.h5", 640, length=80, seed=1)
    valid = planted_windows(tmp_path / "valid.h5", 128, length=80, seed=2)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one" / "m.pt", tmp_path / "two" / "m.pt"
    subprocess.run(
        [sys.executable, str(script), train, valid, one, "64"],
        check=True,
        env=env,
        capture_output=True,
    )
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(script),
            train,
            valid,
            two,
            "32",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = load_checkpoint(one.with_name("m.last.pt")), load_checkpoint(two.with_name("m.last.pt"))
    assert a["training"]["world_size"] == 1 and b["training"]["world_size"] == 2
    assert a["step"] == b["step"] == 20
    for key, value in a["state_dict"].items():
        assert torch.allclose(value, b["state_dict"][key], atol=2e-4, rtol=1e-3), key
    h1, h2 = (pd.read_csv(p.with_name("history.tsv"), sep="\t") for p in (one, two))
    assert (h1["train_loss"] - h2["train_loss"]).abs().max() < 1e-3
