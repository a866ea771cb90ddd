"""Training: learns a planted motif, history and checkpoints, resume after a kill or a SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from train_fixtures import planted_windows

from danq_pipeline.cli import main
from danq_pipeline.errors import DanQError
from danq_pipeline.model import load_checkpoint, load_model
from danq_pipeline.train import HISTORY_COLUMNS, last_path, train_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("train")
    return planted_windows(d / "train.h5", 2400, length=100, seed=1), planted_windows(
        d / "valid.h5", 400, seed=2
    )


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.one_torch_thread


def test_small_model_learns_planted_motifs(data, tmp_path: Path) -> None:
    history = train_model(
        *data,
        tmp_path / "m.pt",
        preset="small",
        epochs=6,
        batch_size=32,
        lr=2e-3,
        seed=1,
        device="cpu",
        progress=False,
    )
    best = history.loc[history["valid_loss"].idxmin()]
    assert best["valid_mean_auroc"] > 0.95, history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    table = pd.read_csv(tmp_path / "history.tsv", sep="\t")
    assert tuple(table.columns) == HISTORY_COLUMNS and len(table) == len(history)
    model = load_model(tmp_path / "m.pt", "cpu")
    assert model.window == 100 and list(model.targets["name"]) == ["motifA", "motifB", "either"]
    info = model.info
    assert (
        info["preset"] == "small"
        and info["training"]["batch_size"] == 32
        and info["alphabet"] == "ACGT"
    )
    assert info["valid_loss"] == pytest.approx(best["valid_loss"])
    assert last_path(tmp_path / "m.pt").exists()


def test_resume_with_other_settings_is_refused(data, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    train_model(
        *data,
        out,
        preset="small",
        epochs=1,
        batch_size=64,
        device="cpu",
        max_train_windows=128,
        progress=False,
    )
    with pytest.raises(DanQError, match="batch_size=64, now 32"):
        train_model(
            *data,
            out,
            preset="small",
            epochs=2,
            batch_size=32,
            device="cpu",
            max_train_windows=128,
            resume=True,
            progress=False,
        )


def test_mismatched_train_and_valid_targets_are_refused(data, tmp_path: Path) -> None:
    from danq_pipeline.dataset import WindowsWriter
    from danq_pipeline.targets import targets_frame

    other = tmp_path / "other.h5"
    with WindowsWriter(
        other, window=100, targets=targets_frame(["x"], ["TF"]), contigs=["c"], split="v"
    ) as w:
        w.append(
            torch.zeros(2, 100, dtype=torch.uint8).numpy(),
            torch.zeros(2, 1, dtype=torch.uint8).numpy(),
            [0, 0],
            [0, 100],
        )
    with pytest.raises(
        DanQError,
        match=r"other.h5: its 1 targets differ from the 3 targets of .*same targets sheet",
    ):
        train_model(data[0], other, tmp_path / "m.pt", preset="small", device="cpu")


def test_cli_refuses_corrupt_resume_state_in_one_line(data, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.pt"
    last_path(out).write_bytes(b"PK\x03\x04 definitely not a whole checkpoint")
    code = main(
        [
            "train",
            "--train",
            str(data[0]),
            "--valid",
            str(data[1]),
            "--out",
            str(out),
            "--preset",
            "small",
            "--resume",
            "--epochs",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        code == 2 and len(err) == 1 and "m.last.pt" in err[0] and "truncated or corrupt" in err[0]
    ), err
    torch.save({"weights": 1}, last_path(out))  # another tool's file
    code = main(
        [
            "train",
            "--train",
            str(data[0]),
            "--valid",
            str(data[1]),
            "--out",
            str(out),
            "--preset",
            "small",
            "--resume",
            "--epochs",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not a danq-pipeline checkpoint" in err[0], err


def _train_cmd(data, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "danq_pipeline",
        "train",
        "--train",
        str(data[0]),
        "--valid",
        str(data[1]),
        "--out",
        str(out),
        "--preset",
        "small",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--seed",
        "3",
        "--deterministic",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--checkpoint-every",
        "20",
        *extra,
    ]


def test_resume_after_kill_ends_with_the_same_weights(data, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    whole = tmp_path / "whole" / "m.pt"
    subprocess.run(_train_cmd(data, whole), check=True, env=env, capture_output=True)
    cut = tmp_path / "cut" / "m.pt"
    proc = subprocess.Popen(_train_cmd(data, cut), env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not last_path(cut).exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = load_checkpoint(last_path(cut))["state"]
    assert state["done"] == "" and state["step"] > 0, "the run finished before it could be killed"
    subprocess.run(_train_cmd(data, cut, "--resume"), check=True, env=env, capture_output=True)
    for name in ("m.pt", "m.last.pt"):
        a, b = load_checkpoint(whole.parent / name), load_checkpoint(cut.parent / name)
        for key, value in a["state_dict"].items():
            assert torch.equal(value, b["state_dict"][key]), f"{name}: {key} differs after resume"
    assert len(pd.read_csv(cut.parent / "history.tsv", sep="\t")) == 3


def test_resume_with_another_recipe_is_refused(data, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    train_model(
        *data,
        out,
        preset="small",
        epochs=1,
        batch_size=64,
        device="cpu",
        max_train_windows=128,
        progress=False,
    )
    assert load_checkpoint(out)["training"]["recipe"] == "paper"
    with pytest.raises(DanQError, match="recipe='paper', now 'torch'"):
        train_model(
            *data,
            out,
            preset="small",
            recipe="torch",
            epochs=2,
            batch_size=64,
            device="cpu",
            max_train_windows=128,
            resume=True,
            progress=False,
        )


def test_sigterm_saves_the_exact_state_and_resume_continues_from_it(data, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    whole = tmp_path / "whole" / "m.pt"
    subprocess.run(_train_cmd(data, whole), check=True, env=env, capture_output=True)
    cut = tmp_path / "cut" / "m.pt"
    # no periodic checkpoints: whatever state exists afterwards was written on the signal
    proc = subprocess.Popen(
        _train_cmd(data, cut, "--checkpoint-every", "0"), env=env, stderr=subprocess.PIPE, text=True
    )
    log = []
    for line in proc.stderr:  # plain progress lines, since stderr is a pipe and not a terminal
        log.append(line)
        if "windows (" in line:
            proc.send_signal(signal.SIGTERM)
            break
    log += proc.stderr.readlines()
    assert proc.wait() == 128 + signal.SIGTERM, "".join(log)
    assert "interrupted by SIGTERM at epoch 1" in log[-1] and "--resume" in log[-1], log[-1]
    state = load_checkpoint(last_path(cut))["state"]
    assert state["done"] == "" and state["epoch"] == 0 and 0 < state["position"] < 2400
    assert not cut.exists(), "no epoch ended, so no best model yet"
    subprocess.run(_train_cmd(data, cut, "--resume"), check=True, env=env, capture_output=True)
    for name in ("m.pt", "m.last.pt"):
        a, b = load_checkpoint(whole.parent / name), load_checkpoint(cut.parent / name)
        for key, value in a["state_dict"].items():
            assert torch.equal(value, b["state_dict"][key]), (
                f"{name}: {key} differs after SIGTERM and resume"
            )
    assert len(pd.read_csv(cut.parent / "history.tsv", sep="\t")) == 3


def test_an_unwritable_out_is_refused_before_any_training(data, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    started = time.monotonic()
    code = main(
        [
            "train",
            "--train",
            str(data[0]),
            "--valid",
            str(data[1]),
            "--out",
            str(blocker / "m.pt"),
            "--preset",
            "small",
            "--epochs",
            "50",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--out" in err[0] and "not_a_folder" in err[0], err
    assert time.monotonic() - started < 20, "it trained before checking the output"
