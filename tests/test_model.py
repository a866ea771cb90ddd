"""DanQ model: shapes, logits, batch independence, JASPAR init, checkpoint round trip and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from danq_pipeline.errors import DanQError
from danq_pipeline.model import (
    PRESETS,
    DanQ,
    build_model,
    jaspar_init,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from danq_pipeline.targets import targets_frame


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _targets(n: int) -> pd.DataFrame:
    return targets_frame([f"t{i}" for i in range(n)], ["TF"] * n)


@pytest.mark.parametrize("window", [101, 200, 500, 1000])
@pytest.mark.parametrize("preset", ["small", "danq"])
def test_output_shape_for_several_window_lengths(preset: str, window: int) -> None:
    model = build_model(preset, n_targets=7, window=window).eval()
    k, p = PRESETS[preset]["kernel_size"], PRESETS[preset]["pool_size"]
    assert model.n_steps == (window - k + 1) // p
    with torch.no_grad():
        out = model(torch.zeros(3, 4, window))
    assert out.shape == (3, 7)


def test_paper_preset_has_the_paper_parameter_count() -> None:
    n = sum(p.numel() for p in build_model("danq", n_targets=919, window=1000).parameters())
    assert 46.8e6 < n < 47.0e6, n  # the paper's DanQ: about 46.9M parameters


def test_too_short_window_is_a_user_error() -> None:
    with pytest.raises(DanQError, match="too short"):
        build_model("danq", n_targets=2, window=30)


def test_returns_logits_not_probabilities() -> None:
    model = build_model("small", n_targets=4, window=200).eval()
    with torch.no_grad():
        model.out.bias.fill_(-5.0)
        out = model(torch.zeros(2, 4, 200))
    assert (out < 0).all()  # a sigmoid output could never be negative


def test_pool_before_relu_equals_relu_before_pool() -> None:
    model = build_model("small", n_targets=3, window=200).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (5, 200)), 4).float().transpose(1, 2)
    with torch.no_grad():
        h = model.pool(torch.relu(model.conv(x))).transpose(1, 2)  # the paper's order
        h, _ = model.lstm(h)
        reference = model.out(torch.relu(model.fc(h.flatten(1))))
        assert torch.allclose(model(x), reference, atol=1e-6)


def test_prediction_does_not_depend_on_batch_mates() -> None:
    """Selene's DanQ ran its LSTM across the batch; here a window's output is its own."""
    model = build_model("small", n_targets=3, window=200).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (6, 200)), 4).float().transpose(1, 2)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(6)])
        shuffled = model(x.flip(0)).flip(0)
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, shuffled, atol=1e-5)


def test_jaspar_init_of_another_release_writes_ctcf_forward_and_reverse() -> None:
    from danq_pipeline.model import jaspar_motif_matrices

    model = DanQ(
        n_targets=2,
        window=200,
        n_filters=600,
        kernel_size=30,
        pool_size=15,
        lstm_hidden=8,
        fc_hidden=8,
    )
    n = jaspar_init(model, release="JASPAR2014", generator=torch.Generator().manual_seed(3))
    matrices = jaspar_motif_matrices("JASPAR2014")
    assert n == min(len(matrices), 600)
    labels = [label for label, _ in matrices]
    for label in ("MA0139.1", "MA0139.1 (reverse complement)"):  # CTCF
        f = labels.index(label)
        expected = torch.as_tensor(matrices[f][1] - 0.25, dtype=torch.float32)
        w = expected.shape[1]
        weight = model.conv.weight[f].detach()
        hits = [
            o for o in range(3, 30 - w - 3 + 1) if torch.allclose(weight[:, o : o + w], expected)
        ]
        assert hits, f"filter {f} does not hold {label} at an offset in [3, 30 - w - 3]"
    bias = model.conv.bias.detach()[:n]
    assert (bias <= 0).all() and (bias >= -1).all()


def test_danq_jaspar_preset_is_initialised_from_jaspar() -> None:
    model = build_model("danq-jaspar", n_targets=2, window=200)
    bias = model.conv.bias.detach()
    assert (bias[:2] <= 0).all() and (bias[:2] >= -1).all()
    # PFM - 0.25 columns sum to exactly 0 over A,C,G,T, which random init never does
    col_sums = model.conv.weight.detach()[0].sum(dim=0).abs()
    assert (col_sums < 1e-6).sum() >= 5


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = build_model("small", n_targets=3, window=200).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, _targets(3), {"preset": "small"})
    loaded = load_model(path, "cpu")
    x = torch.rand(2, 4, 200)
    with torch.no_grad():
        assert torch.equal(model(x), loaded.net(x))
    assert loaded.window == 200 and not loaded.net.training
    assert list(loaded.targets["name"]) == ["t0", "t1", "t2"]
    assert loaded.info["preset"] == "small" and "state_dict" not in loaded.info
    assert not hasattr(loaded.net, "targets"), "nothing stuck on the module"
    assert not (tmp_path / "m.pt.part").exists()


def test_truncated_foreign_and_mismatched_checkpoints_are_refused(tmp_path: Path) -> None:
    model = build_model("small", n_targets=3, window=200)
    good = tmp_path / "good.pt"
    save_checkpoint(good, model, _targets(3))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DanQError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save(model.state_dict(), foreign)
    with pytest.raises(DanQError, match="not a danq-pipeline checkpoint"):
        load_checkpoint(foreign)
    mismatched = tmp_path / "mismatched.pt"
    ckpt = torch.load(good, weights_only=True)
    ckpt["model_kwargs"]["lstm_hidden"] = 16
    torch.save(ckpt, mismatched)
    with pytest.raises(DanQError, match="do not match the recorded architecture"):
        load_model(mismatched)
    np.testing.assert_array_equal(load_checkpoint(good)["targets"]["name"], ["t0", "t1", "t2"])
    older = tmp_path / "older.pt"  # written before the window length was called `window`
    ckpt = torch.load(good, weights_only=True)
    ckpt["model_kwargs"]["seq_len"] = ckpt["model_kwargs"].pop("window")
    torch.save(ckpt, older)
    assert load_model(older).window == load_model(good).window


class _RunsCode:
    """A pickled object whose unpickling runs a shell command (the classic checkpoint attack)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = tmp_path / "evil.pt"
    ckpt = torch.load(_saved(tmp_path), weights_only=True)
    ckpt["extra"] = _RunsCode(marker)
    torch.save(ckpt, payload)
    with pytest.raises(DanQError, match="refused: it holds Python objects"):
        load_checkpoint(payload)
    assert not marker.exists()


def test_the_pickle_payload_is_refused_by_the_cli_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    marker = tmp_path / "pwned"
    payload = tmp_path / "evil.pt"
    torch.save({"format": "danq-checkpoint", "x": _RunsCode(marker)}, payload)
    vcf = tmp_path / "v.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nc\t5\t.\tA\tG\t.\t.\t.\n"
    )
    fasta = tmp_path / "g.fa"
    fasta.write_text(">c\n" + "ACGT" * 100 + "\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "danq_pipeline",
            "score-variants",
            "--model",
            str(payload),
            "--fasta",
            str(fasta),
            "--vcf",
            str(vcf),
            "--out-prefix",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    lines = proc.stderr.strip().splitlines()
    assert (
        proc.returncode == 2 and len(lines) == 1 and "evil.pt" in lines[0] and "refused" in lines[0]
    ), proc.stderr
    assert not marker.exists()


def test_checkpoints_hold_only_tensors_and_plain_containers(tmp_path: Path) -> None:
    ckpt = torch.load(_saved(tmp_path), weights_only=True)  # raises if anything else were inside
    assert ckpt["format_version"] == 2


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "good.pt"
    save_checkpoint(
        path, build_model("small", n_targets=3, window=200), _targets(3), {"preset": "small"}
    )
    return path
