"""Attribution maps and motif discovery, checked against known answers.

The known answer: CTCF sites sampled from JASPAR MA0139.1 are planted in random windows, which
are positive for the one target; a tiny DanQ learns them in a few hundred seeded steps. Then
the maps must peak on the planted sites, agree with ISM, and TF-MoDISco must recover a pattern
the TOMTOM matcher names CTCF -- all through the `danq attribute` and `danq modisco` commands.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from danq_pipeline.attribute import (
    attribute_batch,
    dinuc_shuffle,
    ism_agreement,
    parse_rows,
    shuffled_references,
)
from danq_pipeline.cli import main
from danq_pipeline.dataset import WindowsWriter
from danq_pipeline.encode import encode, one_hot
from danq_pipeline.model import DanQ, save_checkpoint
from danq_pipeline.targets import targets_frame

LENGTH = 100


def _dinucleotides(codes: np.ndarray) -> np.ndarray:
    return np.bincount(codes[:-1].astype(int) * 5 + codes[1:], minlength=25)


def test_dinuc_shuffle_keeps_every_dinucleotide_and_is_seeded() -> None:
    codes = encode("ACGTTGCANNACGCGCGTATATAGGGCCCTTTAAACGNTAGC" * 3)
    a = dinuc_shuffle(codes, np.random.default_rng(7))
    assert (_dinucleotides(a) == _dinucleotides(codes)).all()
    assert a[0] == codes[0] and a[-1] == codes[-1]
    assert (a != codes).mean() > 0.3, "a shuffle that leaves the sequence nearly unchanged"
    assert (dinuc_shuffle(codes, np.random.default_rng(7)) == a).all()
    assert (dinuc_shuffle(codes, np.random.default_rng(8)) != a).any()
    refs = shuffled_references(np.stack([codes, codes[::-1]]), 3, seed=1)
    assert refs.shape == (2, 3, len(codes))
    # a window's references do not depend on its batch neighbours
    assert (shuffled_references(codes[None], 3, seed=1)[0] == refs[0]).all()


def _tiny_net(seed: int = 0, length: int = 60, n_targets: int = 2) -> DanQ:
    torch.manual_seed(seed)
    return DanQ(
        n_targets=n_targets,
        window=length,
        n_filters=8,
        kernel_size=7,
        pool_size=4,
        lstm_hidden=6,
        fc_hidden=8,
    ).eval()


def test_expected_gradients_equal_captum_averaged_over_references_and_are_complete() -> None:
    from captum.attr import IntegratedGradients

    net = _tiny_net()
    codes = np.random.default_rng(0).integers(0, 4, size=(5, 60)).astype(np.uint8)
    att = attribute_batch(net, codes, np.array([1]), n_shuffles=3, n_steps=32, seed=4, chunk=50)
    x = torch.from_numpy(one_hot(codes))
    refs = shuffled_references(codes, 3, seed=4)
    plain = np.mean(
        [
            IntegratedGradients(net)
            .attribute(x, baselines=torch.from_numpy(one_hot(refs[:, s])), target=1, n_steps=32)
            .detach()
            .numpy()
            for s in range(3)
        ],
        axis=0,
    )
    # the map is the per-position sum of captum's per-channel attributions, put on the window's base
    np.testing.assert_allclose(att.contrib[0].sum(axis=1), plain.sum(axis=1), atol=1e-6)
    assert (att.contrib[0] * (1 - x.numpy()) == 0).all()
    # hypothetical contributions at the window's own base give the map back
    np.testing.assert_allclose((att.hypothetical[0] * x.numpy()), att.contrib[0], atol=1e-7)
    assert np.abs(att.error).max() < 1e-3 * max(1.0, np.abs(att.logit - att.ref_logit).max())


def test_grad_x_input_is_the_gradient_at_the_window_base() -> None:
    net = _tiny_net(1)
    codes = np.random.default_rng(1).integers(0, 4, size=(3, 60)).astype(np.uint8)
    att = attribute_batch(net, codes, np.array([1, 0]), method="grad_x_input", chunk=2)
    x = torch.from_numpy(one_hot(codes)).requires_grad_()
    (grad,) = torch.autograd.grad(net(x)[:, 0].sum(), x)
    np.testing.assert_allclose(att.contrib[1], (grad * x).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(att.hypothetical[1], grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(att.logit[1], net(x)[:, 0].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(att.ref_logit[1], net(torch.zeros(1, 4, 60))[0, 0].item(), atol=1e-6)


def test_parse_rows() -> None:
    assert parse_rows("0:3,7", 10).tolist() == [0, 1, 2, 7]
    assert parse_rows(None, 3).tolist() == [0, 1, 2]


# ----------------------------------------------------------------------------- the known answer


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random windows; half get a CTCF site sampled from MA0139.1 (either strand) at a random place."""
    from danq_pipeline.jaspar import get_motif

    pfm = get_motif("MA0139.1").pfm
    w = pfm.shape[1]
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, LENGTH)).astype(np.uint8)
    label = (rng.random(n) < 0.5).astype(np.uint8)
    site = np.full(n, -1)
    cdf = np.cumsum(pfm, axis=0)
    for i in np.flatnonzero(label):
        m = (rng.random(w)[None, :] > cdf).sum(axis=0).astype(np.uint8)
        if rng.random() < 0.5:
            m = (3 - m)[::-1]
        site[i] = rng.integers(0, LENGTH - w + 1)
        codes[i, site[i] : site[i] + w] = m
    return codes, label, site


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """A tiny DanQ trained (300 seeded Adam steps) on planted CTCF sites; its checkpoint and a
    windows file of 600 held-out windows."""
    out = tmp_path_factory.mktemp("planted")
    codes, label, _ = _planted(2400, seed=0)
    torch.manual_seed(0)
    net = DanQ(
        n_targets=1,
        window=LENGTH,
        n_filters=16,
        kernel_size=19,
        pool_size=5,
        lstm_hidden=16,
        fc_hidden=32,
        dropout_conv=0.0,
        dropout_lstm=0.0,
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.from_numpy(one_hot(codes)), torch.from_numpy(label.astype(np.float32))[:, None]
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        idx = torch.randint(0, len(codes), (64,), generator=gen)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    targets = targets_frame(["CTCF"], ["TF"])
    save_checkpoint(out / "ctcf.pt", net, targets)
    test_codes, test_label, site = _planted(600, seed=1)
    with WindowsWriter(
        out / "test.h5", window=LENGTH, targets=targets, contigs=["chrP"], split="test"
    ) as w:
        w.append(
            test_codes,
            test_label[:, None],
            np.zeros(600, dtype=np.int32),
            np.arange(600, dtype=np.int64) * LENGTH,
        )
    return {"dir": out, "net": net.eval(), "codes": test_codes, "label": test_label, "site": site}


def test_attributions_peak_on_planted_sites_agree_with_ism_and_modisco_names_ctcf(
    planted: dict,
) -> None:
    d: Path = planted["dir"]
    maps = d / "maps.h5"
    assert (
        main(
            [
                "attribute",
                "--model",
                str(d / "ctcf.pt"),
                "--data",
                str(d / "test.h5"),
                "--targets",
                "CTCF",
                "--positives-of",
                "CTCF",
                "--shuffles",
                "4",
                "--steps",
                "8",
                "--out",
                str(maps),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    pos = np.flatnonzero(planted["label"])
    with h5py.File(maps, "r") as h5:
        assert h5.attrs["format"] == "danq-attributions"
        assert h5["contrib"].shape == (1, len(pos), 4, LENGTH) and h5["contrib"].dtype == np.float16
        assert (h5["windows/row"][:] == pos).all()
        assert (h5["windows/start"][:] == pos * LENGTH).all()
        contrib = h5["contrib"][0].astype(np.float32)
        assert h5.attrs["n_flagged"] == h5["flagged"][:].sum()
    site = planted["site"][pos]
    peak = contrib.sum(axis=1).argmax(axis=1)
    on_site = (peak >= site) & (peak < site + 19)
    assert on_site.mean() > 0.9, f"only {on_site.mean():.2f} of the maps peak on the planted site"

    # agreement with ISM: per window, the map vs minus the mean logit change of the 3 substitutions
    corr = ism_agreement(planted["net"], planted["codes"][pos[:8]], contrib[:8], 0)
    assert np.median(corr) > 0.6, corr

    out = d / "modisco"
    assert (
        main(
            [
                "modisco",
                "--attributions",
                str(maps),
                "--out-dir",
                str(out),
                "--min-metacluster-size",
                "50",
                "--leiden-runs",
                "2",
            ]
        )
        == 0
    )
    import pandas as pd

    table = pd.read_csv(out / "patterns.tsv", sep="\t")
    top = table.iloc[0]
    assert top["metacluster"] == "pos" and top["n_seqlets"] >= 50
    assert top["best_match_name"] == "CTCF" and top["significant"], table.to_string()
    assert (out / f"logos/{top['pattern']}.png").exists() and (out / "modisco.h5").exists()
    from danq_pipeline.motifs import read_meme

    assert read_meme(out / "patterns.meme")[0].alt_name == "CTCF"

    # the report's TF-MoDISco section shows the target's patterns and their match
    from danq_pipeline.evaluate import evaluate_model
    from danq_pipeline.report import write_report

    evaluate_model(
        d / "ctcf.pt",
        d / "test.h5",
        d / "ev",
        baseline=False,
        figures=False,
        progress=False,
        device="cpu",
    )
    page = write_report(d / "ev", d / "report.html", modisco_dirs=(out, d / "absent")).read_text()
    assert "Motifs discovered from attributions" in page and "CTCF: " in page
    assert "absent/patterns.tsv not found" in page


def test_attribute_errors_are_one_line_and_leave_no_output(
    planted: dict, tmp_path: Path, capsys
) -> None:
    d: Path = planted["dir"]
    base = ["attribute", "--model", str(d / "ctcf.pt"), "--out", str(tmp_path / "a.h5")]
    cases = [
        (["--data", str(d / "test.h5"), "--targets", "NOPE"], "unknown target"),
        (["--data", str(d / "test.h5"), "--targets", "CTCF", "--rows", "590:700"], "outside"),
        (["--bed", str(tmp_path / "missing.bed"), "--targets", "CTCF"], "--fasta"),
    ]
    for extra, words in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
    assert not list(tmp_path.glob("a.h5*"))
    assert (
        main(
            [
                "modisco",
                "--attributions",
                str(tmp_path / "none.h5"),
                "--out-dir",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "no such attribution file" in capsys.readouterr().err
