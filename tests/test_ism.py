"""In-silico mutagenesis: exact answers on a motif-counting toy model, batching, inputs, CLI."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from danq_pipeline.cli import main
from danq_pipeline.encode import encode, one_hot
from danq_pipeline.errors import DanQError
from danq_pipeline.genome import Genome
from danq_pipeline.ism import (
    importance,
    ism_table,
    mutants,
    region_input,
    saturation_mutagenesis,
    sequence_input,
)
from danq_pipeline.model import TrainedModel, build_model, save_checkpoint
from danq_pipeline.predictor import Predictor, as_predictor
from danq_pipeline.regions import parse_region
from danq_pipeline.targets import select_targets, targets_frame

MOTIF = "GATA"


class CountModel(nn.Module):
    """Logit 0 = number of exact GATA matches; logit 1 = 0 (a target nothing affects)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 1, len(MOTIF))
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(one_hot(encode(MOTIF)))[None])
            self.conv.bias.fill_(-(len(MOTIF) - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count = torch.relu(self.conv(x)).sum(dim=(1, 2))
        return torch.stack([count, torch.zeros_like(count)], dim=1)


def _predictor(net: nn.Module, batch_size: int = 256) -> Predictor:
    """A CPU predictor of `net` (no target table: ISM names the targets target_0, ...)."""
    return as_predictor(
        TrainedModel(net, None, {}), device="cpu", batch_size=batch_size, rc_average=False
    )


def test_count_model_gives_exact_log_odds_and_diffs():
    # one GATA at sequence positions 10-13 in a C background: no single substitution makes a new one
    seq = "C" * 10 + MOTIF + "C" * 6
    inp = sequence_input(seq, window=30)
    res = saturation_mutagenesis(_predictor(CountModel(), batch_size=7), inp)
    assert res.alt_logit.shape == (20, 4, 2)
    np.testing.assert_array_equal(res.ref_logit, [1.0, 0.0])
    expected = np.zeros((20, 4))
    expected[10:14] = -1.0  # breaking the only match: count 1 -> 0
    expected[np.arange(20), encode(seq)] = 0.0  # the reference base itself
    np.testing.assert_allclose(res.logodds[:, :, 0], expected, atol=1e-6)
    np.testing.assert_allclose(res.logodds[:, :, 1], 0.0, atol=1e-6)
    sig = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(res.diff[10:14, :, 0][expected[10:14] < 0], 0.5 - sig, atol=1e-6)
    np.testing.assert_allclose(
        importance(res)[:, 0], np.where((np.arange(20) >= 10) & (np.arange(20) < 14), 1, 0)
    )


def test_table_has_three_rows_per_base_and_target_and_skips_n():
    inp = sequence_input("ACGNT", window=9)
    res = saturation_mutagenesis(_predictor(CountModel()), inp)
    table = ism_table(res)
    assert len(table) == 4 * 3 * 2  # N is not mutated
    assert set(table.columns) >= {"position", "ref", "alt", "target", "diff", "logodds"}
    assert (table["ref"] != table["alt"]).all() and "N" not in set(table["ref"])
    assert np.isnan(res.logodds[3]).all()


def test_mutants_are_the_three_other_bases():
    pos, alt = mutants(encode("ACNG"), (0, 4))
    assert pos.tolist() == [0, 0, 0, 1, 1, 1, 3, 3, 3]
    assert alt.tolist() == [1, 2, 3, 2, 3, 0, 3, 0, 1]


def test_batched_pass_equals_single_forwards_on_danq():
    torch.manual_seed(0)
    model = build_model("small", 3, 60).eval()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 60).astype(np.uint8)
    res = saturation_mutagenesis(
        _predictor(model, batch_size=50), sequence_input("".join("ACGT"[c] for c in codes), 60)
    )
    for p, a in [(0, (codes[0] + 1) % 4), (31, (codes[31] + 2) % 4), (59, (codes[59] + 3) % 4)]:
        mut = codes.copy()
        mut[p] = a
        with torch.no_grad():
            ref = model(torch.from_numpy(one_hot(codes))[None])[0].numpy()
            alt = model(torch.from_numpy(one_hot(mut))[None])[0].numpy()
        np.testing.assert_allclose(res.logodds[p, a], alt - ref, atol=1e-5)


def test_region_is_centred_in_its_genomic_context(tmp_path):
    fasta = tmp_path / "g.fa"
    seq = "".join(np.random.default_rng(1).choice(list("ACGT"), 100))
    fasta.write_text(">chr1\n" + seq + "\n")
    genome = Genome(fasta)
    inp = region_input(genome, "chr1:41-50", window=30)  # 1-based inclusive = 0-based bases 40..49
    assert inp.span == (10, 20) and inp.start == 40
    assert "".join("ACGTN"[c] for c in inp.codes) == seq[30:60]
    edge = region_input(genome, "chr1:96-100", window=30)  # window runs past the contig end: N
    assert edge.codes[inp.span[1] :].max() == 4 and edge.span == (12, 17)
    with pytest.raises(DanQError, match="longer than the model"):
        region_input(genome, "chr1:1-40", window=30)
    with pytest.raises(DanQError, match="not in the FASTA"):
        region_input(genome, "chrX:1-10", window=30)


def test_region_parsing_and_target_selection():
    lengths = {"chr22": 22_000_000}
    assert tuple(parse_region("chr22:21,509,001-21,510,000", lengths)) == (
        "chr22",
        21509000,
        21510000,
    )
    for bad in ("chr22:10", "chr22:20-10", "chr22 1 2"):
        with pytest.raises(DanQError):
            parse_region(bad, lengths)
    t = targets_frame(["CTCF", "DNase", "H3K4me3"], ["TF", "DNase", "histone"])
    assert select_targets(t).tolist() == [0, 1, 2]
    assert select_targets(t, ["H3K4me3", "CTCF"]).tolist() == [0, 2]
    assert select_targets(t, classes=["DNase"]).tolist() == [1]
    with pytest.raises(DanQError, match="POL2"):
        select_targets(t, ["POL2"])
    # names and classes add up (the same rule for ism and score-variants)
    assert select_targets(t, "CTCF", "histone").tolist() == [0, 2]
    with pytest.raises(DanQError, match="unknown target class"):
        select_targets(t, classes=["enhancer"])


def test_cli_writes_h5_tsv_and_plots(tmp_path, capsys):
    torch.manual_seed(0)
    targets = targets_frame(["CTCF", "DNase", "H3K4me3"], ["TF", "DNase", "histone"])
    save_checkpoint(tmp_path / "m.pt", build_model("small", 3, 60), targets)
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "".join(np.random.default_rng(2).choice(list("ACGT"), 200)) + "\n")
    prefix = tmp_path / "ism" / "r1"
    rc = main(
        [
            "ism",
            "--model",
            str(tmp_path / "m.pt"),
            "--fasta",
            str(fasta),
            "--region",
            "chr1:101-120",
            "--out-prefix",
            str(prefix),
            "--targets",
            "CTCF,DNase",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    table = pd.read_csv(f"{prefix}.tsv", sep="\t")
    assert (
        len(table) == 20 * 3 * 2
        and table["position"].min() == 100
        and table["position"].max() == 119
    )
    with h5py.File(f"{prefix}.h5") as h5:
        assert h5["diff"].shape == h5["logodds"].shape == (20, 4, 2)
        assert (
            list(h5["targets/name"].asstr()[:]) == ["CTCF", "DNase"] and h5.attrs["chrom"] == "chr1"
        )
    for png in (f"{prefix}.heatmap.png", f"{prefix}.logo.png"):
        assert open(png, "rb").read(4) == b"\x89PNG"
    rc = main(
        [
            "ism",
            "--model",
            str(tmp_path / "m.pt"),
            "--sequence",
            "ACGTX",
            "--out-prefix",
            str(prefix),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        rc == 2
        and err[-1].startswith("danq ism: error: --sequence")
        and "Traceback" not in "".join(err)
    )
