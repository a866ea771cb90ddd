"""score-variants: windows, statuses, exact scores with a toy model, outputs, CLI, real VCFs."""

from __future__ import annotations

import copy
import gzip
import random
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch
from torch import nn

from danq_pipeline.cli import main
from danq_pipeline.encode import decode
from danq_pipeline.errors import DanQError
from danq_pipeline.genome import Genome
from danq_pipeline.model import DanQ, TrainedModel, save_checkpoint
from danq_pipeline.targets import targets_frame
from danq_pipeline.variant_io import gather_variant_outputs, read_variant_scores
from danq_pipeline.variants import (
    allele_windows,
    iter_variant_scores,
    score_variants,
    variant_window,
    write_variant_scores,
)
from danq_pipeline.vcf import VcfRecord, _is_plain_gzip, read_vcf

L = 1000
C = L // 2 - 1  # 499: index of the first REF base
pytestmark = [
    pytest.mark.filterwarnings("ignore::danq_pipeline.errors.DanQWarning"),
    pytest.mark.usefixtures("one_torch_thread"),  # see conftest.one_torch_thread
]
DEMO_VCFS = sorted(
    (Path(__file__).resolve().parents[1] / "data/hg19_chr22/variants").glob("*.vcf.gz")
)


# --------------------------------------------------------------------------- toy model


def toy_logits(seq: str) -> list[float]:
    """Pure-Python definition of the toy model: GC count, A-minus-T count, A at index 499, C-minus-G
    count (the last tells C from G, so a complement table that swaps them changes the scores)."""
    return [
        0.01 * (seq.count("G") + seq.count("C") - len(seq) / 2),
        0.02 * (seq.count("A") - seq.count("T")),
        3.0 * (seq[C] == "A") - 1.5,
        0.03 * (seq.count("C") - seq.count("G")),
    ]


class ToyModel(nn.Module):
    """Torch version of `toy_logits`, shaped like a loaded DanQ (targets table, kwargs)."""

    def __init__(self) -> None:
        super().__init__()
        self.kwargs = {"window": L}
        self.targets = targets_frame(
            ["gc", "a_minus_t", "center_A", "c_minus_g"], ["DNase", "TF", "histone", "TF"]
        )
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gc = x[:, 1].sum(1) + x[:, 2].sum(1)
        return (
            torch.stack(
                [
                    0.01 * (gc - L / 2),
                    0.02 * (x[:, 0].sum(1) - x[:, 3].sum(1)),
                    3.0 * x[:, 0, C] - 1.5,
                    0.03 * (x[:, 1].sum(1) - x[:, 2].sum(1)),
                ],
                dim=1,
            )
            + 0 * self.dummy
        )


def toy_model() -> TrainedModel:
    """The toy network with its target table, as `load_model` gives a checkpoint's."""
    net = ToyModel()
    return TrainedModel(net, net.targets, {})


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def rc(seq: str) -> str:
    return seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def expected_probs(seq: str, rc_average: bool) -> np.ndarray:
    p = np.array([sigmoid(z) for z in toy_logits(seq)])
    return (p + np.array([sigmoid(z) for z in toy_logits(rc(seq))])) / 2 if rc_average else p


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def genome_seq() -> dict[str, str]:
    rng = random.Random(7)
    chr1 = "".join(rng.choice("ACGT") for _ in range(5000))
    chr2 = (
        "".join(rng.choice("ACGT") for _ in range(1500))
        + "N" * 600
        + "".join(rng.choice("ACGT") for _ in range(900))
    )
    return {"chr1": chr1, "chr2": chr2}


@pytest.fixture
def fasta(tmp_path: Path, genome_seq: dict[str, str]) -> Path:
    path = tmp_path / "toy.fa"
    with open(path, "w") as fh:
        for name, seq in genome_seq.items():
            fh.write(f">{name}\n")
            fh.writelines(
                seq[i : i + 60].lower() + "\n" for i in range(0, len(seq), 60)
            )  # soft-masked
    return path


def crafted_records(s: dict[str, str]) -> list[tuple]:
    """(chrom, pos, id, ref, alt) covering every allele kind and status."""
    g = s["chr1"]
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    return [
        ("chr1", 2001, "snv", g[2000], other[g[2000]]),
        ("chr1", 2101, "mnv", g[2100:2103], "".join(other[b] for b in g[2100:2103])),
        ("chr1", 2201, "ins", g[2200], g[2200] + "GGGGA"),
        ("chr1", 2301, "del", g[2300:2306], g[2300]),
        ("chr1", 2401, "multi", g[2400], ",".join(b for b in "ACGT" if b != g[2400])),
        ("chr1", 2501, "mismatch", other[g[2500]], g[2500]),
        ("chrUn", 100, "unknown", "A", "G"),
        ("chr1", 6000, "oob", "A", "G"),
        ("chr1", 2601, "symbolic", g[2600], f"<DEL>,*,{other[g[2600]]}"),
        ("chr1", 2701, "missing_alt", g[2700], "."),
        ("chr2", 1801, "nrich", "N", "A"),
    ]


def write_vcf(
    path: Path, records: list[tuple], contig_lines: bool = True, compress: bool = False
) -> Path:
    header = ["##fileformat=VCFv4.2"]
    if contig_lines:
        header += [
            "##contig=<ID=chr1,length=5000>",
            "##contig=<ID=chr2,length=3000>",
            "##contig=<ID=chrUn>",
            '##INFO=<ID=END,Number=1,Type=Integer,Description="End (BCF needs it for <DEL>)">',
        ]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    body = [f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t." for c, p, i, r, a in records]
    text = "\n".join(header + body) + "\n"
    if compress:
        plain = path.with_suffix("")
        plain.write_text(text)
        pysam.tabix_compress(str(plain), str(path), force=True)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def crafted_vcf(tmp_path: Path, genome_seq: dict[str, str]) -> Path:
    return write_vcf(tmp_path / "crafted.vcf", crafted_records(genome_seq))


# --------------------------------------------------------------------------- windows


def test_variant_window_converts_1based_pos_to_0based_window():
    assert variant_window(1000, 1000) == (500, 1500), (
        "VCF POS 1000 (1-based) = 0-based 999 at index 499"
    )
    start, end = variant_window(2001, L)
    assert 2000 - start == 499 and end - start == L


def _windows(fasta: Path, chrom: str, pos: int, ref: str, alts: str):
    rec = VcfRecord(chrom, chrom, pos, ".", ref, tuple(alts.split(",")), None, 0)
    aw = allele_windows(Genome(fasta), rec, L, 0.1)
    return (
        aw,
        decode(aw.ref) if aw.ref is not None else None,
        {i: decode(w) for i, w in aw.alts.items()},
    )


def test_snv_and_mnv_windows_base_by_base(fasta, genome_seq):
    g = genome_seq["chr1"]
    aw, ref, alts = _windows(fasta, "chr1", 2001, g[2000], "T" if g[2000] != "T" else "A")
    assert aw.statuses == ["ok"] and len(ref) == len(alts[0]) == L
    assert (
        ref == g[2000 - 499 : 2000 + 501]
        and ref[499] == g[2000]
        and ref[498] == g[1999]
        and ref[500] == g[2001]
    )
    assert alts[0][499] == ("T" if g[2000] != "T" else "A")
    assert alts[0][:499] == ref[:499] and alts[0][500:] == ref[500:]
    aw, ref, alts = _windows(fasta, "chr1", 2101, g[2100:2103], "AAA")
    assert alts[0][499:502] == "AAA" and alts[0][:499] == ref[:499] and alts[0][502:] == ref[502:]


def test_insertion_window_is_recentred_and_filled(fasta, genome_seq):
    g = genome_seq["chr1"]
    alt = g[2200] + "GGGGA"  # 6 bp for 1 bp REF: starts at 499 + floor(-5 / 2) = 496
    aw, ref, alts = _windows(fasta, "chr1", 2201, g[2200], alt)
    w = alts[0]
    assert len(w) == L and w[496:502] == alt
    assert w[:496] == g[2200 - 496 : 2200], "left flank: genome just before POS"
    assert w[502:] == g[2201 : 2201 + L - 502], "right flank: genome just after REF"


def test_deletion_window_is_recentred_and_filled(fasta, genome_seq):
    g = genome_seq["chr1"]
    aw, ref, alts = _windows(
        fasta, "chr1", 2301, g[2300:2306], g[2300]
    )  # 6 -> 1: ALT at 499 + 2 = 501
    w = alts[0]
    assert len(w) == L and w[501] == g[2300]
    assert w[:501] == g[2300 - 501 : 2300]
    assert w[502:] == g[2306 : 2306 + L - 502], (
        "deleted bases skipped, flank filled from the genome"
    )


def test_window_near_contig_start_is_n_padded(fasta, genome_seq):
    g = genome_seq["chr1"]
    aw, ref, alts = _windows(fasta, "chr1", 51, g[50], "A" if g[50] != "A" else "C")
    assert ref[:449] == "N" * 449 and ref[449:499] == g[:50]
    assert aw.statuses == ["n_rich"], "449 of 1000 bases padded exceeds the 10% N limit"


# --------------------------------------------------------------------------- statuses and scores


def _toy_batches(fasta, vcf, **kw):
    batches = list(iter_variant_scores(toy_model(), fasta, vcf, device="cpu", progress=False, **kw))
    table = pd.concat([b.table for b in batches], ignore_index=True)
    mats = {
        k: np.concatenate([getattr(b, k) for b in batches])
        for k in ("ref_prob", "alt_prob", "diff", "logodds")
    }
    return table, mats


def test_every_status_and_every_record_reported(fasta, crafted_vcf):
    table, _ = _toy_batches(fasta, crafted_vcf, batch_size=2)
    got = dict(zip(table["id"] + ":" + table["alt"], table["status"], strict=True))
    by_id = table.groupby("id")["status"].apply(list).to_dict()
    assert (
        by_id["snv"] == ["ok"]
        and by_id["mnv"] == ["ok"]
        and by_id["ins"] == ["ok"]
        and by_id["del"] == ["ok"]
    )
    assert by_id["multi"] == ["ok", "ok", "ok"]
    assert by_id["mismatch"] == ["ref_mismatch"]
    assert by_id["unknown"] == ["unknown_contig"]
    assert by_id["oob"] == ["out_of_bounds"]
    assert by_id["symbolic"] == ["unsupported_allele", "unsupported_allele", "ok"]
    assert (
        by_id["missing_alt"] == ["unsupported_allele"]
        and got["missing_alt:."] == "unsupported_allele"
    )
    assert by_id["nrich"] == ["n_rich"]
    assert len(table) == 1 + 1 + 1 + 1 + 3 + 1 + 1 + 1 + 3 + 1 + 1, (
        "one row per ALT allele, none dropped"
    )


@pytest.mark.parametrize("rc_average", [False, True])
def test_exact_scores_with_toy_model(fasta, crafted_vcf, genome_seq, rc_average):
    table, m = _toy_batches(fasta, crafted_vcf, rc_average=rc_average, batch_size=3)
    g = genome_seq["chr1"]
    for i, row in table.iterrows():
        if row.status != "ok":
            assert np.isnan(m["diff"][i]).all() and np.isnan(m["ref_prob"][i]).all()
            continue
        p0, r, a = row.pos - 1, len(row.ref), len(row.alt)
        off = C + (r - a) // 2
        ref_w = g[p0 - C : p0 - C + L]
        alt_w = g[p0 - off : p0] + row.alt + g[p0 + r : p0 + r + L - off - a]
        pr, pa = expected_probs(ref_w, rc_average), expected_probs(alt_w, rc_average)
        np.testing.assert_allclose(m["ref_prob"][i], pr, rtol=1e-6, err_msg=row.id)
        np.testing.assert_allclose(m["alt_prob"][i], pa, rtol=1e-6, err_msg=row.id)
        np.testing.assert_allclose(m["diff"][i], pa - pr, atol=1e-6, err_msg=row.id)
        lo = np.log(pa / (1 - pa)) - np.log(pr / (1 - pr))
        np.testing.assert_allclose(m["logodds"][i], lo, atol=1e-5, err_msg=row.id)


def test_snv_to_a_at_centre_is_detected(fasta, crafted_vcf):
    table, m = _toy_batches(fasta, crafted_vcf, rc_average=False)
    row = table.index[(table["id"] == "multi") & (table["alt"] == "A")]
    if len(row):  # the multi-allelic record's A allele (unless REF is A)
        assert m["alt_prob"][row[0], 2] == pytest.approx(sigmoid(1.5))
        assert m["diff"][row[0], 2] == pytest.approx(sigmoid(1.5) - sigmoid(-1.5))


def test_strand_averaging_is_symmetric(fasta, crafted_vcf):
    """a_minus_t and c_minus_g flip sign on the other strand: averaged, they are exactly 0.5."""
    _, m = _toy_batches(fasta, crafted_vcf, rc_average=True)
    ok = ~np.isnan(m["ref_prob"][:, 1])
    for t in (1, 3):
        np.testing.assert_allclose(m["ref_prob"][ok, t], 0.5, atol=1e-7)
        np.testing.assert_allclose(m["diff"][ok, t], 0.0, atol=1e-7)
    _, fwd = _toy_batches(fasta, crafted_vcf, rc_average=False)
    assert np.nanmax(np.abs(fwd["diff"][:, 1])) > 1e-3, (
        "without averaging the strand-specific target moves"
    )
    assert np.nanmax(np.abs(fwd["ref_prob"][:, 3] - 0.5)) > 1e-2, (
        "the C/G target is strand-specific too"
    )


def test_score_variants_table_and_target_selection(fasta, crafted_vcf):
    df = score_variants(
        toy_model(), fasta, crafted_vcf, device="cpu", progress=False, target_class="histone"
    )
    assert list(df.columns) == [
        "chrom",
        "pos",
        "id",
        "ref",
        "alt",
        "status",
        "max_abs_diff",
        "top_target",
        "diff_center_A",
    ]
    ok = df[df.status == "ok"]
    assert (ok["top_target"] != "").all() and (
        ok["max_abs_diff"] >= ok["diff_center_A"].abs() - 1e-9
    ).all()
    assert df.loc[df.status != "ok", "max_abs_diff"].isna().all()
    with pytest.raises(DanQError, match="unknown target"):
        score_variants(toy_model(), fasta, crafted_vcf, device="cpu", targets="nope")


@pytest.mark.parametrize("kind", ["plain", "bgzip", "no_contig_header", "bcf"])
def test_vcf_flavours_give_the_same_table(tmp_path, fasta, genome_seq, kind):
    recs = crafted_records(genome_seq)
    if kind == "bcf":
        src = write_vcf(tmp_path / "c.vcf", recs)
        path = tmp_path / "c.bcf"
        with (
            pysam.VariantFile(str(src)) as vin,
            pysam.VariantFile(str(path), "wb", header=vin.header) as vout,
        ):
            for rec in vin:
                vout.write(rec)
    else:
        path = write_vcf(
            tmp_path / ("c.vcf.gz" if kind == "bgzip" else "c.vcf"),
            recs,
            contig_lines=kind != "no_contig_header",
            compress=kind == "bgzip",
        )
    table, _ = _toy_batches(fasta, path)
    ref_table, _ = _toy_batches(fasta, write_vcf(tmp_path / "ref.vcf", recs))
    pd.testing.assert_frame_equal(table, ref_table)


def test_contig_naming_mismatch_is_explained_and_renamed_on_request(tmp_path, fasta, genome_seq):
    g = genome_seq["chr1"]
    vcf = write_vcf(
        tmp_path / "nochr.vcf",
        [("1", 2001, "a", g[2000], "A" if g[2000] != "A" else "C")],
        contig_lines=False,
    )
    with pytest.warns(UserWarning, match="--rename-contigs add-chr"):
        table, _ = _toy_batches(fasta, vcf)
    assert table["status"].tolist() == ["unknown_contig"]
    table, _ = _toy_batches(fasta, vcf, rename_contigs="add-chr")
    assert table["status"].tolist() == ["ok"] and table["chrom"].tolist() == ["1"], (
        "outputs keep the VCF's name"
    )


def test_malformed_vcf_names_file_and_line(tmp_path, fasta):
    bad = tmp_path / "bad.vcf"
    bad.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t100\t.\tA\tG\t.\t.\t.\nchr1\tabc\t.\tA\tG\t.\t.\t.\n"
    )
    with pytest.raises(DanQError, match=r"bad.vcf:4: .*POS 'abc'"):
        list(read_vcf(bad))


# --------------------------------------------------------------------------- outputs, CLI, chunks


def _checkpoint(path: Path, window: int = L, n_targets: int = 3) -> Path:
    torch.manual_seed(0)
    model = DanQ(
        n_targets=n_targets,
        window=window,
        n_filters=8,
        kernel_size=9,
        pool_size=13,
        lstm_hidden=4,
        fc_hidden=8,
    )
    names = ["DNase_x", "CTCF", "H3K4me3"][:n_targets]
    save_checkpoint(path, model, targets_frame(names, ["DNase", "TF", "histone"][:n_targets]))
    return path


def test_cli_writes_tsv_h5_and_indexed_vcf(tmp_path, fasta, crafted_vcf):
    model = _checkpoint(tmp_path / "m.pt")
    prefix = tmp_path / "out" / "scores"
    rc = main(
        [
            "score-variants",
            "--model",
            str(model),
            "--fasta",
            str(fasta),
            "--vcf",
            str(crafted_vcf),
            "--out-prefix",
            str(prefix),
            "--device",
            "cpu",
            "--targets",
            "CTCF",
        ]
    )
    assert rc == 0
    tsv = pd.read_csv(f"{prefix}.tsv", sep="\t")
    assert list(tsv.columns[-3:]) == ["max_abs_diff", "top_target", "diff_CTCF"] and len(tsv) == 15
    h5 = read_variant_scores(f"{prefix}.h5")
    assert h5["diff"].shape == (15, 3) and list(h5["targets"]["name"]) == [
        "DNase_x",
        "CTCF",
        "H3K4me3",
    ]
    assert h5["table"]["status"].tolist() == tsv["status"].tolist()
    np.testing.assert_allclose(h5["diff"][:, 1], tsv["diff_CTCF"], rtol=1e-5, atol=1e-9)
    assert Path(f"{prefix}.vcf.gz.tbi").exists() and not list(prefix.parent.glob("*.part"))
    with pysam.VariantFile(f"{prefix}.vcf.gz") as vf:
        recs = {r.id: r for r in vf}  # sorted by contig and position for tabix
        assert len(recs) == 11 and recs["multi"].info["DANQ_STATUS"] == ("ok", "ok", "ok")
        assert recs["symbolic"].info["DANQ_STATUS"] == (
            "unsupported_allele",
            "unsupported_allele",
            "ok",
        )
        assert len(list(vf.fetch("chr1", 2000, 2002))) == 1


def test_cli_strict_stops_at_ref_mismatch(tmp_path, fasta, crafted_vcf, capsys):
    model = _checkpoint(tmp_path / "m.pt")
    rc = main(
        [
            "score-variants",
            "--model",
            str(model),
            "--fasta",
            str(fasta),
            "--vcf",
            str(crafted_vcf),
            "--out-prefix",
            str(tmp_path / "s"),
            "--device",
            "cpu",
            "--strict",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    line = next(
        i for i, ln in enumerate(crafted_vcf.read_text().splitlines(), 1) if "\tmismatch\t" in ln
    )
    assert rc == 2 and f"crafted.vcf:{line}: REF" in err[-1] and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "s.tsv").exists() and not list(tmp_path.glob("s.*.part"))


@pytest.mark.parametrize("n_chunks", [3, 4])
def test_chunks_gathered_equal_one_run(tmp_path, fasta, crafted_vcf, n_chunks):
    """Chunks given in reverse order are joined in chunk order and equal one run, byte for byte.

    batch_size=1 makes every model call one record in both runs (float rounding depends on the
    batch's composition; 1e-5 relative between a 15-allele call and smaller ones)."""
    model = _checkpoint(tmp_path / "m.pt")
    common = dict(device="cpu", progress=False, batch_size=1)
    write_variant_scores(model, fasta, crafted_vcf, tmp_path / "full", **common)
    parts = [tmp_path / f"part{k}" for k in range(1, n_chunks + 1)]
    for k, part in enumerate(parts, start=1):
        write_variant_scores(model, fasta, crafted_vcf, part, chunk=(k, n_chunks), **common)
    n = gather_variant_outputs(parts[::-1], tmp_path / "gathered")
    assert n == 15
    assert (tmp_path / "gathered.tsv").read_text() == (tmp_path / "full.tsv").read_text()
    a, b = read_variant_scores(tmp_path / "full.h5"), read_variant_scores(tmp_path / "gathered.h5")
    np.testing.assert_array_equal(a["diff"], b["diff"])
    pd.testing.assert_frame_equal(a["table"], b["table"])
    assert b["attrs"]["chunk"] == "" and b["attrs"]["n_rows"] == 15, (
        "the gathered file is the whole VCF"
    )
    body = [ln for ln in gzip.open(tmp_path / "gathered.vcf.gz", "rt") if not ln.startswith("#")]
    assert body == [
        ln for ln in gzip.open(tmp_path / "full.vcf.gz", "rt") if not ln.startswith("#")
    ]


def test_gather_refuses_missing_repeated_and_foreign_chunks(
    tmp_path, fasta, crafted_vcf, genome_seq, capsys
):
    model = _checkpoint(tmp_path / "m.pt")
    common = dict(device="cpu", progress=False)
    for k in (1, 2, 3):
        write_variant_scores(
            model, fasta, crafted_vcf, tmp_path / f"c{k}", chunk=f"{k}/3", **common
        )
    write_variant_scores(model, fasta, crafted_vcf, tmp_path / "half1", chunk=(1, 2), **common)
    other = write_vcf(tmp_path / "other.vcf", crafted_records(genome_seq)[:4])
    write_variant_scores(model, fasta, other, tmp_path / "o2", chunk=(2, 3), **common)
    write_variant_scores(model, fasta, crafted_vcf, tmp_path / "whole", **common)
    c = [str(tmp_path / f"c{k}") for k in (1, 2, 3)]
    cases = {
        "--inputs: chunk\\(s\\) 2/3 missing \\(2 of 3 given\\)": [c[0], c[2]],
        "chunk 1/3 given twice": [c[0], c[1], c[2], c[0]],
        "chunk 1/2, but .*c1.h5 is chunk 1/3": [c[0], c[1], str(tmp_path / "half1")],
        "scored with other inputs .*other.vcf": [c[0], str(tmp_path / "o2"), c[2]],
        "whole.h5: not the output of a --chunk K/N run": [c[0], str(tmp_path / "whole")],
    }
    for message, inputs in cases.items():
        with pytest.raises(DanQError, match=message):
            gather_variant_outputs(inputs, tmp_path / "g")
        assert not list(tmp_path.glob("g.*")), "nothing written"
    rc = main(["gather-variants", "--inputs", c[1], c[0], "--out-prefix", str(tmp_path / "g")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "chunk(s) 3/3 missing" in err[0], err


# --------------------------------------------------------------------------- real shipped data


@pytest.mark.parametrize("vcf", DEMO_VCFS, ids=lambda p: p.name.split(".")[0])
def test_shipped_vcfs_score_every_record_ok(tmp_path, demo_fasta, vcf):
    model = _checkpoint(tmp_path / "m.pt")
    counts = write_variant_scores(
        model, demo_fasta, vcf, tmp_path / "s", device="cpu", progress=False, batch_size=256
    )
    n_records = sum(1 for ln in gzip.open(vcf, "rt") if not ln.startswith("#"))
    assert counts["ok"] == n_records and sum(counts.values()) == n_records
    tsv = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert len(tsv) == n_records and tsv["max_abs_diff"].notna().all()


# --------------------------------------------------------------------------- shared-compute path


def test_shared_path_equals_plain_forward_at_every_span():
    """REF/ALT sharing (variant_shared.py) gives the plain DanQ.forward logits, whatever changes where."""
    from danq_pipeline.loader import to_one_hot
    from danq_pipeline.variant_shared import SharedDanQ

    torch.manual_seed(1)
    model = DanQ(
        n_targets=5,
        window=200,
        n_filters=16,
        kernel_size=11,
        pool_size=7,
        lstm_hidden=8,
        fc_hidden=12,
    ).eval()
    rng = np.random.default_rng(0)
    refs = rng.integers(0, 4, (3, 200)).astype(np.uint8)
    spans = [(0, 1), (5, 9), (99, 100), (100, 103), (180, 200), (199, 200), (190, 191), (50, 51)]
    alt_ref = rng.integers(0, 3, len(spans))
    alts = refs[alt_ref].copy()
    for i, (s, e) in enumerate(spans):
        alts[i, s:e] = (alts[i, s:e] + 1 + i % 3) % 4
    with torch.inference_mode():
        rx, ax = (
            to_one_hot(torch.from_numpy(refs), torch.device("cpu")),
            to_one_hot(torch.from_numpy(alts), torch.device("cpu")),
        )
        ref_l, alt_l = SharedDanQ(model)(
            torch.from_numpy(refs), torch.from_numpy(alts), torch.from_numpy(alt_ref), spans
        )
        torch.testing.assert_close(ref_l, model(rx), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(alt_l, model(ax), rtol=1e-5, atol=1e-6)
    assert (alt_l[5] == ref_l[alt_ref[5]]).all(), (
        "base 199 lies past the last pool step: DanQ never sees it"
    )


@pytest.mark.parametrize("rc_average", [True, False])
def test_shared_scoring_equals_plain_scoring(tmp_path, fasta, crafted_vcf, rc_average):
    model = _checkpoint(tmp_path / "m.pt")
    kw = dict(device="cpu", progress=False, rc_average=rc_average, batch_size=4)
    plain = score_variants(str(model), fasta, crafted_vcf, shared=False, **kw)
    shared = score_variants(str(model), fasta, crafted_vcf, shared=True, **kw)
    pd.testing.assert_frame_equal(plain, shared, rtol=1e-5, atol=1e-7)


def test_many_targets_default_to_summary_columns(tmp_path, fasta, crafted_vcf):
    model = _checkpoint(tmp_path / "m.pt")
    ckpt = torch.load(model, weights_only=False)
    big = DanQ(**{**ckpt["model_kwargs"], "n_targets": 70})
    save_checkpoint(
        tmp_path / "big.pt", big, targets_frame([f"t{i}" for i in range(70)], ["TF"] * 70)
    )
    with pytest.warns(UserWarning, match="70 targets"):
        write_variant_scores(
            tmp_path / "big.pt", fasta, crafted_vcf, tmp_path / "b", device="cpu", progress=False
        )
    assert pd.read_csv(tmp_path / "b.tsv", sep="\t").columns[-1] == "top_target"
    assert read_variant_scores(tmp_path / "b.h5")["diff"].shape == (15, 70)
    write_variant_scores(
        tmp_path / "big.pt",
        fasta,
        crafted_vcf,
        tmp_path / "c",
        device="cpu",
        progress=False,
        targets="t3,t7",
    )
    assert list(pd.read_csv(tmp_path / "c.tsv", sep="\t").columns[-2:]) == ["diff_t3", "diff_t7"]


def test_cli_explains_contig_naming_in_one_line_and_gathers(tmp_path, fasta, genome_seq, capsys):
    import argparse

    from danq_pipeline.cli import gather_variants

    g = genome_seq["chr1"]
    vcf = write_vcf(
        tmp_path / "nochr.vcf",
        [
            ("1", 2001, "a", g[2000], "A" if g[2000] != "A" else "C"),
            ("1", 2101, "b", g[2100], "A" if g[2100] != "A" else "C"),
        ],
        contig_lines=False,
    )
    model = _checkpoint(tmp_path / "m.pt")
    base = [
        "score-variants",
        "--model",
        str(model),
        "--fasta",
        str(fasta),
        "--vcf",
        str(vcf),
        "--device",
        "cpu",
    ]
    assert main([*base, "--out-prefix", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "--rename-contigs add-chr" in err and "checker.report" not in err
    for k in (1, 2):
        assert (
            main(
                [
                    *base,
                    "--out-prefix",
                    str(tmp_path / f"c{k}"),
                    "--chunk",
                    f"{k}/2",
                    "--rename-contigs",
                    "add-chr",
                ]
            )
            == 0
        )
    parser = argparse.ArgumentParser()
    gather_variants.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "gather-variants",
            "--inputs",
            str(tmp_path / "c1"),
            str(tmp_path / "c2"),
            "--out-prefix",
            str(tmp_path / "g"),
        ]
    )
    assert args.func(args) == 0
    assert pd.read_csv(tmp_path / "g.tsv", sep="\t")["status"].tolist() == ["ok", "ok"]


def test_bf16_copy_equals_cast_model_and_leaves_fp32_alone():
    """The memo-cast bf16 copy (no fp32 deepcopy) is the model cast to bf16, parameter for parameter."""
    import copy

    from danq_pipeline.loader import to_one_hot
    from danq_pipeline.predictor import as_predictor, bf16_copy

    torch.manual_seed(2)
    model = DanQ(
        n_targets=5,
        window=200,
        n_filters=16,
        kernel_size=11,
        pool_size=7,
        lstm_hidden=8,
        fc_hidden=12,
    ).eval()
    expected = copy.deepcopy(model).to(torch.bfloat16)
    fast = bf16_copy(model)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    pred = as_predictor(TrainedModel(model, None, {}), device="cpu", precision="bf16")
    assert pred.dtype == torch.bfloat16 and all(
        p.dtype == torch.float32 for p in model.parameters()
    )
    assert not hasattr(model, "_danq_bf16") and "_danq_shared" not in model.__dict__, (
        "nothing stuck on the module"
    )
    for (name, a), (_, b) in zip(
        expected.state_dict().items(), fast.state_dict().items(), strict=True
    ):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    assert not any(
        a.data_ptr() == b.data_ptr()
        for a, b in zip(model.parameters(), fast.parameters(), strict=True)
    )
    x = to_one_hot(
        torch.from_numpy(np.random.default_rng(0).integers(0, 4, (3, 200)).astype(np.uint8)),
        torch.device("cpu"),
    )
    with torch.inference_mode():
        torch.testing.assert_close(fast(x.bfloat16()), expected(x.bfloat16()), rtol=0, atol=0)


@pytest.mark.parametrize("length", [200, 7 * 3 + 11 - 1, 7 * 3 + 11 + 5])
def test_kmer_table_conv_equals_conv_pool_with_n_bases(length):
    """The k-mer look-up convolution (CPU) gives DanQ's relu(maxpool(conv)) track, N columns included."""
    from danq_pipeline.loader import to_one_hot
    from danq_pipeline.variant_shared import SharedDanQ

    torch.manual_seed(3)
    model = DanQ(
        n_targets=5,
        window=200,
        n_filters=16,
        kernel_size=11,
        pool_size=7,
        lstm_hidden=8,
        fc_hidden=12,
    ).eval()
    codes = np.random.default_rng(1).integers(0, 5, (11, length)).astype(np.uint8)  # 4 = N, ~1 in 5
    codes[0] = 4
    x = to_one_hot(torch.from_numpy(codes), torch.device("cpu"))
    with torch.inference_mode():
        expected = torch.relu(model.pool(model.conv(x))).transpose(1, 2)
        torch.testing.assert_close(
            SharedDanQ(model)._pooled(torch.from_numpy(codes)), expected, rtol=1e-5, atol=1e-6
        )
        half_model = copy.deepcopy(model).to(torch.bfloat16)
        expected_half = (
            torch.relu(half_model.pool(half_model.conv(x.bfloat16()))).transpose(1, 2).float()
        )
        for gemm in (False, True):  # the k-mer table, and the im2col GEMM that AMX CPUs use
            shared = SharedDanQ(half_model)
            shared._gemm_conv = gemm
            half = shared._pooled(torch.from_numpy(codes))
            assert half.dtype == torch.bfloat16
            torch.testing.assert_close(half.float(), expected_half, rtol=1e-2, atol=1e-2)
            torch.testing.assert_close(half.float(), expected, rtol=2e-2, atol=2e-2)


# --------------------------------------------------------------------------- issue 12: tests that fail on real bugs


def _big_effect_records(g: str) -> list[tuple]:
    """MNVs of 1-450 bp and 300-bp indels: fp32 |diff| up to 8e-3 with `_checkpoint`'s model,
    far above bf16's error, so a bf16 path that loses the ALT cannot pass."""
    recs = [
        ("chr1", 1201 + 400 * i, f"mnv{n}", g[1200 + 400 * i : 1200 + 400 * i + n], "G" * n)
        for i, n in enumerate([1, 13, 60, 150, 300, 450])
    ]
    return recs + [
        ("chr1", 3801, "del300", g[3800:4101], g[3800]),
        ("chr1", 3901, "ins300", g[3900], g[3900] + "C" * 300),
    ]


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("rc_average", [True, False])
def test_bf16_close_to_fp32(fasta, genome_seq, tmp_path, shared, rc_average):
    """bf16 scores follow fp32 within bf16's measured error, and the effects are far larger than it.

    Measured on CPU for these alleles and this model: max |bf16 - fp32| of diff 1.9e-4 (shared,
    strand-averaged), 1.6e-4 (plain), 2.7e-4 (forward strand only); the largest fp32 |diff| is
    8.4e-3 (1.26e-2 forward only). atol 6e-4 is about twice the measured error.
    """
    model = _checkpoint(tmp_path / "m.pt")
    vcf = write_vcf(
        tmp_path / "big.vcf", crafted_records(genome_seq) + _big_effect_records(genome_seq["chr1"])
    )
    kw = dict(device="cpu", progress=False, shared=shared, rc_average=rc_average)
    a = score_variants(str(model), fasta, vcf, **kw)
    b = score_variants(str(model), fasta, vcf, precision="bf16", **kw)
    assert (a["status"] == b["status"]).all()
    cols = [c for c in a.columns if c.startswith("diff_")]
    ok = (a["status"] == "ok").to_numpy()
    fp32, bf16 = a.loc[ok, cols].to_numpy(), b.loc[ok, cols].to_numpy()
    atol = 6e-4
    big = np.abs(fp32).max(axis=1) > 4 * atol
    assert big.sum() >= 3, "alleles whose effect dwarfs the tolerance: alt = ref could not pass"
    np.testing.assert_allclose(bf16, fp32, rtol=0, atol=atol)
    assert (np.sign(bf16[np.abs(fp32) > 4 * atol]) == np.sign(fp32[np.abs(fp32) > 4 * atol])).all()


def _pool_model(path: Path, pool: int) -> Path:
    """A `_checkpoint`-like DanQ (kernel 9) with the given pool size."""
    torch.manual_seed(4)
    model = DanQ(
        n_targets=3,
        window=L,
        n_filters=8,
        kernel_size=9,
        pool_size=pool,
        lstm_hidden=4,
        fc_hidden=8,
    )
    save_checkpoint(
        path, model, targets_frame(["DNase_x", "CTCF", "H3K4me3"], ["DNase", "TF", "histone"])
    )
    return path


@pytest.mark.parametrize("pool", [10, 12, 13])
def test_shared_equals_plain_for_mnvs_ending_on_every_pool_boundary(
    tmp_path, fasta, genome_seq, pool
):
    """MNVs of 1-26 bp (two of each) put both ends of the forward span [499, 499 + n) and of the reverse
    strand's span [501 - n, 501) on every phase of the pool grid; pools 10 and 12 put the fixed
    ends (index 500 on the reverse strand, the conv field's start 491 forward) on a boundary too.
    A span moved by one base on either strand leaves a changed pool step out (error ~1e-4)."""
    g = genome_seq["chr1"]
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lengths = [
        *range(1, 27)
    ] * 2  # two sequence contexts each: a missed step changes a max-pool only sometimes
    recs = [
        (
            "chr1",
            1001 + 57 * i,
            f"mnv{n}",
            g[1000 + 57 * i : 1000 + 57 * i + n],
            "".join(other[b] for b in g[1000 + 57 * i : 1000 + 57 * i + n]),
        )
        for i, n in enumerate(lengths)
    ]
    vcf = write_vcf(tmp_path / "mnv.vcf", recs)
    model = _pool_model(tmp_path / "m.pt", pool)
    for rc_average in (True, False):
        kw = dict(device="cpu", progress=False, rc_average=rc_average, batch_size=64)
        plain = list(iter_variant_scores(str(model), fasta, vcf, shared=False, **kw))
        shared = list(iter_variant_scores(str(model), fasta, vcf, shared=True, **kw))
        for name in ("ref_prob", "alt_prob"):
            np.testing.assert_allclose(
                np.concatenate([getattr(b, name) for b in shared]),
                np.concatenate([getattr(b, name) for b in plain]),
                rtol=2e-6,
                atol=0,
            )
        d_plain = np.concatenate([b.diff for b in plain])
        assert (d_plain != 0).all(), "every MNV changes every target"
        np.testing.assert_allclose(
            np.concatenate([b.diff for b in shared]), d_plain, rtol=1e-4, atol=2e-8
        )


def test_alleles_at_the_half_window_cut(fasta, genome_seq):
    """REF/ALT of exactly L/2 bp are scored with exact windows; one base more is unsupported."""
    g = genome_seq["chr1"]
    aw, ref, alts = _windows(fasta, "chr1", 2001, g[2000:2500], g[2000])  # 500-bp REF -> 1 bp
    assert aw.statuses == ["ok"]
    off = C + (500 - 1) // 2  # 748
    assert alts[0] == g[2000 - off : 2000] + g[2000] + g[2500 : 2500 + L - off - 1]
    aw, _, alts = _windows(
        fasta, "chr1", 2001, g[2000], "T" * 500
    )  # 1 -> 500 bp: ALT at 499 - 250 = 249
    assert (
        aw.statuses == ["ok"]
        and alts[0] == g[2000 - 249 : 2000] + "T" * 500 + g[2001 : 2001 + L - 749]
    )
    aw, _, _ = _windows(fasta, "chr1", 2001, g[2000:2501], g[2000])
    assert aw.statuses == ["unsupported_allele"]
    aw, _, _ = _windows(fasta, "chr1", 2001, g[2000], "T" * 501)
    assert aw.statuses == ["unsupported_allele"]


def test_ref_equal_to_alt_is_not_ok_and_alt_case_is_normalised(tmp_path, fasta, genome_seq):
    g = genome_seq["chr1"]
    other = {"A": "c", "C": "g", "G": "t", "T": "a"}
    recs = [
        ("chr1", 2001, "same", g[2000], g[2000]),
        ("chr1", 2101, "same_lower", g[2100:2103], g[2100:2103].lower()),
        ("chr1", 2201, "lower_alt", g[2200], other[g[2200]] + "," + g[2200].lower() + ",<del>"),
    ]
    df = score_variants(
        toy_model(), fasta, write_vcf(tmp_path / "s.vcf", recs), device="cpu", progress=False
    )
    assert df["status"].tolist() == [
        "ref_equals_alt",
        "ref_equals_alt",
        "ok",
        "ref_equals_alt",
        "unsupported_allele",
    ]
    assert df["alt"].tolist() == [
        g[2000],
        g[2100:2103],
        other[g[2200]].upper(),
        g[2200],
        "<del>",
    ], "ALT upper-cased like REF; symbolic alleles kept as written"
    bad = df["status"] != "ok"
    assert df.loc[bad, "max_abs_diff"].isna().all() and (df.loc[bad, "top_target"] == "").all()


def test_vcf_info_is_per_allele_and_splits_with_bcftools(tmp_path, fasta, crafted_vcf):
    write_variant_scores(
        toy_model(), fasta, crafted_vcf, tmp_path / "s", device="cpu", progress=False
    )
    with pysam.VariantFile(str(tmp_path / "s.vcf.gz")) as vf:
        keys = [k for k in vf.header.info if k.startswith("DANQ_")]
        assert len(keys) == 7 and {vf.header.info[k].number for k in keys} == {"A"}
        recs = {r.id: r for r in vf}
    assert not any(k.startswith("DANQ_") for k in recs["missing_alt"].info), (
        "no ALT allele, no per-ALT value"
    )
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools not installed: splitting not checked")
    out = subprocess.run(
        ["bcftools", "norm", "-m-", str(tmp_path / "s.vcf.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    split = [ln.split("\t") for ln in out.splitlines() if not ln.startswith("#")]
    tsv = pd.read_csv(tmp_path / "s.tsv", sep="\t", keep_default_na=False)
    multi = [
        dict(kv.split("=") for kv in cols[7].split(";")) for cols in split if cols[2] == "multi"
    ]
    assert [m["DANQ_STATUS"] for m in multi] == ["ok"] * 3
    assert [m["DANQ_TOP_TARGET"] for m in multi] == tsv.loc[
        tsv["id"] == "multi", "top_target"
    ].tolist()
    symbolic = [
        dict(kv.split("=") for kv in c[7].split(";"))["DANQ_STATUS"]
        for c in split
        if c[2] == "symbolic"
    ]
    assert symbolic == ["unsupported_allele", "unsupported_allele", "ok"]


def test_plain_gzip_vcf_gets_a_bgzip_hint(tmp_path, fasta, crafted_vcf, genome_seq, capsys):
    gz = tmp_path / "plain.vcf.gz"
    gz.write_bytes(gzip.compress(crafted_vcf.read_bytes()))
    bgzf = write_vcf(tmp_path / "b.vcf.gz", crafted_records(genome_seq), compress=True)
    assert _is_plain_gzip(gz) and not _is_plain_gzip(bgzf) and not _is_plain_gzip(crafted_vcf)
    with pytest.raises(
        DanQError,
        match=r"plain.vcf.gz: gzip-compressed but not BGZF; recompress it with `zcat "
        r"plain.vcf.gz \| bgzip",
    ):
        score_variants(toy_model(), fasta, gz, device="cpu", progress=False)
    model = _checkpoint(tmp_path / "m.pt")
    rc = main(
        [
            "score-variants",
            "--model",
            str(model),
            "--fasta",
            str(fasta),
            "--vcf",
            str(gz),
            "--out-prefix",
            str(tmp_path / "o"),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not BGZF" in err[0] and "bgzip" in err[0], err
    assert not list(tmp_path.glob("o.*"))


def test_progress_lines_in_a_log_have_total_rate_and_eta(fasta, crafted_vcf, capsys):
    """stderr captured (not a terminal): plain lines with done/total, rate and ETA, then a done line."""
    list(
        iter_variant_scores(
            toy_model(), fasta, crafted_vcf, device="cpu", batch_size=4, progress_interval_s=0
        )
    )
    lines = capsys.readouterr().err.strip().splitlines()
    periodic = [
        ln
        for ln in lines
        if re.fullmatch(
            r"score-variants: \d+/11 records \(\d+%\), [\d.]+ records/s, "
            r"ETA \d+:\d\d:\d\d",
            ln,
        )
    ]
    assert len(periodic) >= 3 and periodic[-1].startswith("score-variants: 11/11 records (100%)"), (
        lines
    )
    assert re.fullmatch(
        r"score-variants: done, 11 records in \d+:\d\d:\d\d \([\d.]+ records/s\)", lines[-1]
    )
    list(iter_variant_scores(toy_model(), fasta, crafted_vcf, device="cpu", progress=False))
    assert "score-variants" not in capsys.readouterr().err


def test_progress_chunk_total_is_the_chunk(fasta, crafted_vcf, capsys):
    list(
        iter_variant_scores(
            toy_model(), fasta, crafted_vcf, device="cpu", chunk="2/3", progress_interval_s=0
        )
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("score-variants: ") and "/4 records" in lines[0], (
        lines
    )  # records 3..6 of 11
