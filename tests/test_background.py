"""danq background + score-variants --background: the null, the p-values, refusals, calibration."""

from __future__ import annotations

import random
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pysam
import pytest
import torch

from danq_pipeline.background import (
    Background,
    BackgroundBuilder,
    effect_size,
    read_background,
    write_background,
)
from danq_pipeline.cli import main
from danq_pipeline.model import DanQ, save_checkpoint
from danq_pipeline.targets import targets_frame
from danq_pipeline.variant_io import gather_variant_outputs, read_variant_scores
from danq_pipeline.variants import build_background, write_variant_scores

L = 1000
pytestmark = [
    pytest.mark.filterwarnings("ignore::danq_pipeline.errors.DanQWarning"),
    pytest.mark.usefixtures("one_torch_thread"),
]
TARGETS = targets_frame(["DNase_x", "CTCF", "H3K4me3"], ["DNase", "TF", "histone"])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def genome_seq() -> str:
    rng = random.Random(11)
    return "".join(rng.choice("ACGT") for _ in range(12_000))


@pytest.fixture
def fasta(tmp_path: Path, genome_seq: str) -> Path:
    path = tmp_path / "toy.fa"
    path.write_text(
        ">chr1\n" + "".join(genome_seq[i : i + 60] + "\n" for i in range(0, len(genome_seq), 60))
    )
    return path


def snv_vcf(path: Path, seq: str, positions: list[int], ref_of=None) -> Path:
    """A VCF of SNVs at 1-based `positions` (REF from `seq` unless `ref_of` says otherwise)."""
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=12000>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for p in positions:
        ref = ref_of(p) if ref_of else seq[p - 1]
        lines.append(f"chr1\t{p}\tv{p}\t{ref}\t{other[seq[p - 1]]}\t.\tPASS\t.")
    path.write_text("\n".join(lines) + "\n")
    return path


def positions(n: int, seed: int) -> list[int]:
    return sorted(random.Random(seed).sample(range(600, 11_400), n))


def checkpoint(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = DanQ(
        n_targets=3, window=L, n_filters=8, kernel_size=9, pool_size=13, lstm_hidden=4, fc_hidden=8
    )
    save_checkpoint(path, model, TARGETS)
    return path


def error_lines(capsys) -> list[str]:
    """stderr lines other than the progress summary."""
    return [ln for ln in capsys.readouterr().err.strip().splitlines() if "records in" not in ln]


def brute_p(bg_effects: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(1 + #background effects >= x) / (1 + n), per target, by counting."""
    return (1 + (bg_effects[None, :, :] >= x[:, None, :]).sum(1)) / (1 + len(bg_effects))


# --------------------------------------------------------------------------- the null


def test_pvalues_count_background_effects_at_least_as_large_with_ties_and_nan():
    rng = np.random.default_rng(0)
    bg_eff = rng.integers(0, 6, size=(300, 3)).astype(np.float32)  # many ties
    builder = BackgroundBuilder(3, sample_size=1000, tail_size=1000)
    builder.add(bg_eff[:100])
    builder.add(bg_eff[100:])
    bg = builder.finish("absdiff", TARGETS)
    assert bg.exact and bg.n == 300
    q = np.array([[0, 2.5, 5], [6, -1, 3], [np.nan, np.nan, np.nan]], dtype=np.float32)
    p = bg.pvalues(q)
    np.testing.assert_array_equal(p[:2], brute_p(bg_eff, q[:2]))
    assert p[1, 0] == 1 / 301 and p[1, 1] == 1.0, (
        "above every effect: 1/(n+1); below every effect: 1"
    )
    assert np.isnan(p[2]).all() and np.isnan(bg.combined(p)[2])


def test_tail_is_exact_and_reservoir_is_uniform_with_bounded_memory():
    rng = np.random.default_rng(1)
    n = 20_000
    # a trend along the file: a reservoir that kept the first rows would have a far lower mean
    data = (rng.exponential(size=(n, 2)) * np.linspace(0.5, 1.5, n)[:, None]).astype(np.float32)
    builder = BackgroundBuilder(2, sample_size=500, tail_size=100, seed=3)
    for i in range(0, n, 128):
        builder.add(data[i : i + 128])
    bg = builder.finish("absdiff", targets_frame(["a", "b"], ["TF", "TF"]))
    assert bg.tail.shape == (100, 2) and bg.sample.shape == (500, 2) and not bg.exact
    np.testing.assert_array_equal(bg.tail, np.sort(data, axis=0)[-100:])
    assert abs(bg.sample.mean() - data.mean()) < 0.1 and data[:500].mean() < data.mean() - 0.3
    q = rng.exponential(size=(3000, 2)).astype(np.float32) * 1.5
    exact, est = brute_p(data, q), bg.pvalues(q)
    in_tail = q > bg.tail[0]
    np.testing.assert_array_equal(est[in_tail], exact[in_tail])
    assert (
        in_tail.sum() > 50 and np.abs(est - exact).max() < 0.1
    )  # the bulk: a 500-allele sample's error
    assert np.all(
        np.diff(bg.pvalues(np.linspace(0, 10, 400, dtype=np.float32)[:, None].repeat(2, 1)), axis=0)
        <= 0
    ), "p never grows with the effect"


def test_a_background_smaller_than_the_sample_is_exact_beyond_the_tail():
    rng = np.random.default_rng(4)
    data = rng.exponential(size=(300, 3)).astype(np.float32)
    builder = BackgroundBuilder(3, sample_size=1000, tail_size=50)
    builder.add(data)
    bg = builder.finish("absdiff", TARGETS)
    assert bg.exact and len(bg.tail) == 50 and len(bg.sample) == 300
    q = rng.exponential(size=(400, 3)).astype(np.float32)
    np.testing.assert_array_equal(bg.pvalues(q), brute_p(data, q))


def test_combined_p_is_min_p_against_the_background_min_p():
    rng = np.random.default_rng(2)
    bg_eff = rng.exponential(size=(200, 3)).astype(np.float32)
    builder = BackgroundBuilder(3, sample_size=1000, tail_size=1000)
    builder.add(bg_eff)
    bg = builder.finish("absdiff", TARGETS)
    loo = ((bg_eff[None, :, :] >= bg_eff[:, None, :]).sum(1) / 200).min(
        axis=1
    )  # leave-one-out min p
    np.testing.assert_allclose(bg.sample_minp, np.sort(loo))
    q = rng.exponential(size=(50, 3)).astype(np.float32) * 2
    minp = brute_p(bg_eff, q).min(axis=1)
    want = (1 + (loo[None, :] <= minp[:, None]).sum(1)) / 201
    np.testing.assert_allclose(bg.combined(bg.pvalues(q)), want)


def test_effect_measures():
    d, lo = np.array([[-0.1, 0.2]]), np.array([[-2.0, 0.5]])
    np.testing.assert_allclose(effect_size(d, lo), [[0.2, 0.1]], rtol=1e-6)
    np.testing.assert_allclose(effect_size(d, lo, "absdiff"), [[0.1, 0.2]], rtol=1e-6)
    np.testing.assert_allclose(effect_size(d, lo, "abslogodds"), [[2.0, 0.5]], rtol=1e-6)


# --------------------------------------------------------------------------- end to end


def test_cli_background_then_scoring_fills_tsv_h5_and_vcf(tmp_path, fasta, genome_seq, capsys):
    model = checkpoint(tmp_path / "m.pt")
    bg_vcf = snv_vcf(tmp_path / "bg.vcf", genome_seq, positions(120, 1))
    q_vcf = snv_vcf(tmp_path / "q.vcf", genome_seq, positions(40, 2))
    bg_path = tmp_path / "bg" / "background.h5"
    assert (
        main(
            [
                "background",
                "--model",
                str(model),
                "--fasta",
                str(fasta),
                "--vcf",
                str(bg_vcf),
                "--out",
                str(bg_path),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert "120 background alleles" in capsys.readouterr().err
    bg = read_background(bg_path)
    assert bg.exact and bg.n == 120 and bg.measure == "diff_x_logodds"
    assert bg.attrs["status_counts"]["ok"] == 120 and bg.attrs["vcf_checksum"].startswith("sha256:")
    prefix = tmp_path / "out" / "q"
    assert (
        main(
            [
                "score-variants",
                "--model",
                str(model),
                "--fasta",
                str(fasta),
                "--vcf",
                str(q_vcf),
                "--out-prefix",
                str(prefix),
                "--device",
                "cpu",
                "--targets",
                "CTCF",
                "--background",
                str(bg_path),
            ]
        )
        == 0
    )
    tsv = pd.read_csv(f"{prefix}.tsv", sep="\t")
    assert list(tsv.columns[-4:]) == ["combined_p", "min_p", "top_p_targets", "p_CTCF"]
    h5 = read_variant_scores(f"{prefix}.h5")
    want = brute_p(
        bg.tail, effect_size(h5["diff"], h5["logodds"])
    )  # exact: the tail holds every effect
    np.testing.assert_allclose(h5["pvalue"], want, rtol=1e-6)
    np.testing.assert_allclose(tsv["p_CTCF"], want[:, 1], rtol=1e-5)
    np.testing.assert_allclose(tsv["min_p"], want.min(axis=1), rtol=1e-5)
    np.testing.assert_allclose(tsv["combined_p"], bg.combined(want), rtol=1e-5)
    names = TARGETS["name"].to_numpy()
    assert [s.split("|")[0].split(":")[0] for s in tsv["top_p_targets"]] == list(
        names[want.argmin(axis=1)]
    )
    assert (
        h5["attrs"]["background_measure"] == "diff_x_logodds" and h5["attrs"]["background_n"] == 120
    )
    with pysam.VariantFile(f"{prefix}.vcf.gz") as vf:
        rec = next(iter(vf))
        assert rec.info["DANQ_COMBINED_P"][0] == pytest.approx(tsv["combined_p"][0], rel=1e-3)
        assert rec.info["DANQ_P_CTCF"][0] == pytest.approx(tsv["p_CTCF"][0], rel=1e-3)
        assert rec.info["DANQ_TOP_P_TARGETS"][0].split("|")[0].startswith(names[want[0].argmin()])


def test_background_of_another_model_is_refused_in_one_line(tmp_path, fasta, genome_seq, capsys):
    bg_vcf = snv_vcf(tmp_path / "bg.vcf", genome_seq, positions(30, 1))
    bg_path = tmp_path / "bg.h5"
    build_background(
        checkpoint(tmp_path / "a.pt", seed=0), fasta, bg_vcf, bg_path, device="cpu", progress=False
    )
    other = checkpoint(tmp_path / "b.pt", seed=1)
    prefix = tmp_path / "out" / "q"
    rc = main(
        [
            "score-variants",
            "--model",
            str(other),
            "--fasta",
            str(fasta),
            "--vcf",
            str(bg_vcf),
            "--out-prefix",
            str(prefix),
            "--device",
            "cpu",
            "--background",
            str(bg_path),
        ]
    )
    err = error_lines(capsys)
    assert rc == 2 and len(err) == 1 and "another model" in err[0] and str(bg_path) in err[0], err
    assert not prefix.parent.exists() or not list(prefix.parent.iterdir()), (
        "nothing under the output names"
    )
    # the same weights in another file are the same model
    same = tmp_path / "copy.pt"
    same.write_bytes((tmp_path / "a.pt").read_bytes())
    write_variant_scores(
        same, fasta, bg_vcf, prefix, background=bg_path, device="cpu", progress=False
    )
    # a strand-averaging mismatch is refused too
    rc = main(
        [
            "score-variants",
            "--model",
            str(same),
            "--fasta",
            str(fasta),
            "--vcf",
            str(bg_vcf),
            "--out-prefix",
            str(tmp_path / "fwd"),
            "--device",
            "cpu",
            "--background",
            str(bg_path),
            "--no-rc-average",
        ]
    )
    assert rc == 2 and "strand averaging" in capsys.readouterr().err


def test_empty_background_is_refused_at_build_and_at_scoring(tmp_path, fasta, genome_seq, capsys):
    model = checkpoint(tmp_path / "m.pt")
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    bad = snv_vcf(
        tmp_path / "bad.vcf",
        genome_seq,
        positions(10, 3),
        ref_of=lambda p: other[other[genome_seq[p - 1]]],
    )
    out = tmp_path / "bg.h5"
    rc = main(
        [
            "background",
            "--model",
            str(model),
            "--fasta",
            str(fasta),
            "--vcf",
            str(bad),
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    err = error_lines(capsys)
    assert (
        rc == 2
        and len(err) == 1
        and "no background allele" in err[0]
        and "ref_mismatch 10" in err[0]
    ), err
    assert not list(tmp_path.glob("bg.h5*")), "no file written"
    # an empty background file (as a truncated run or another tool might leave one)
    empty = Background(
        "diff_x_logodds",
        0,
        np.zeros((0, 3), np.float32),
        np.zeros((0, 3), np.float32),
        np.zeros(0),
        TARGETS,
        {"model_checksum": "sha256:x"},
    )
    write_background(empty, out)
    prefix = tmp_path / "out" / "q"
    rc = main(
        [
            "score-variants",
            "--model",
            str(model),
            "--fasta",
            str(fasta),
            "--vcf",
            str(bad),
            "--out-prefix",
            str(prefix),
            "--device",
            "cpu",
            "--background",
            str(out),
        ]
    )
    err = error_lines(capsys)
    assert rc == 2 and len(err) == 1 and "no scored alleles" in err[0], err
    assert not prefix.parent.exists() or not list(prefix.parent.iterdir())


def test_split_halves_of_a_background_give_uniform_pvalues(tmp_path, fasta, genome_seq):
    """Calibration: alleles exchangeable with the background get uniform p-values."""
    model = checkpoint(tmp_path / "m.pt")
    pos = positions(600, 5)
    rng = random.Random(0)
    rng.shuffle(pos)
    a = snv_vcf(tmp_path / "a.vcf", genome_seq, sorted(pos[:300]))
    b = snv_vcf(tmp_path / "b.vcf", genome_seq, sorted(pos[300:]))
    build_background(model, fasta, a, tmp_path / "a.h5", device="cpu", progress=False)
    write_variant_scores(
        model, fasta, b, tmp_path / "b", background=tmp_path / "a.h5", device="cpu", progress=False
    )
    p = read_variant_scores(tmp_path / "b.h5")["pvalue"]
    grid = np.linspace(0, 1, 201)[1:-1]
    for t in range(p.shape[1]):
        ks = np.abs((p[:, t][:, None] <= grid).mean(0) - grid).max()
        assert ks < 0.1, f"target {t}: KS {ks:.3f}"  # 5% critical value for n = 300: 0.078
    assert 0.02 < (p <= 0.05).mean() < 0.09
    combined = pd.read_csv(tmp_path / "b.tsv", sep="\t")["combined_p"].to_numpy()
    assert np.abs((combined[:, None] <= grid).mean(0) - grid).max() < 0.1


def test_gathered_chunks_with_background_equal_one_run(tmp_path, fasta, genome_seq):
    model = checkpoint(tmp_path / "m.pt")
    bg_vcf = snv_vcf(tmp_path / "bg.vcf", genome_seq, positions(40, 1))
    q_vcf = snv_vcf(tmp_path / "q.vcf", genome_seq, positions(20, 2))
    build_background(model, fasta, bg_vcf, tmp_path / "bg.h5", device="cpu", progress=False)
    kw = dict(background=tmp_path / "bg.h5", device="cpu", progress=False, batch_size=8)
    write_variant_scores(model, fasta, q_vcf, tmp_path / "one", **kw)
    for k in (1, 2):
        write_variant_scores(model, fasta, q_vcf, tmp_path / f"c{k}", chunk=f"{k}/2", **kw)
    gather_variant_outputs([tmp_path / "c2", tmp_path / "c1"], tmp_path / "all")
    one, all_ = read_variant_scores(tmp_path / "one.h5"), read_variant_scores(tmp_path / "all.h5")
    np.testing.assert_allclose(all_["pvalue"], one["pvalue"], rtol=1e-5)
    assert all_["table"]["top_p_targets"].tolist() == one["table"]["top_p_targets"].tolist()
    # a chunk scored without the background cannot join them
    write_variant_scores(
        model, fasta, q_vcf, tmp_path / "c2", chunk="2/2", device="cpu", progress=False
    )
    with pytest.raises(Exception, match="background"):
        gather_variant_outputs([tmp_path / "c1", tmp_path / "c2"], tmp_path / "mixed")


def test_background_file_layout(tmp_path, fasta, genome_seq):
    model = checkpoint(tmp_path / "m.pt")
    bg_vcf = snv_vcf(tmp_path / "bg.vcf", genome_seq, positions(50, 1))
    build_background(
        model,
        fasta,
        bg_vcf,
        tmp_path / "bg.h5",
        device="cpu",
        progress=False,
        sample_size=20,
        tail_size=5,
        measure="absdiff",
    )
    with h5py.File(tmp_path / "bg.h5") as h5:
        assert (
            h5["tail"].shape == (5, 3)
            and h5["sample"].shape == (20, 3)
            and h5["sample_minp"].shape == (20,)
        )
        assert h5.attrs["format"] == "danq-variant-background" and h5.attrs["n_alleles"] == 50
        assert h5.attrs["measure"] == "absdiff" and h5.attrs["model_checksum"].startswith("sha256:")
        assert np.all(np.diff(h5["sample"][:], axis=0) >= 0) and list(
            h5["targets/name"].asstr()[:]
        ) == list(TARGETS["name"])


def test_report_shows_effects_against_background_and_a_qq_plot(tmp_path, fasta, genome_seq):
    from danq_pipeline.report import _section_variants

    model = checkpoint(tmp_path / "m.pt")
    bg_vcf = snv_vcf(tmp_path / "bg.vcf", genome_seq, positions(40, 1))
    q_vcf = snv_vcf(tmp_path / "q.vcf", genome_seq, positions(20, 2))
    build_background(model, fasta, bg_vcf, tmp_path / "bg.h5", device="cpu", progress=False)
    write_variant_scores(
        model,
        fasta,
        q_vcf,
        tmp_path / "q",
        background=tmp_path / "bg.h5",
        device="cpu",
        progress=False,
    )
    page = _section_variants([tmp_path / "q.tsv"])
    assert "Significance against the background" in page and "40 alleles" in page
    assert page.count("<img") == 2 and "not found" not in page and "Top 20 by combined_p" in page
    (tmp_path / "bg.h5").unlink()  # moved away: the page says so and still draws the QQ plot
    page = _section_variants([tmp_path / "q.tsv"])
    assert "not found" in page and page.count("<img") == 2
    write_variant_scores(model, fasta, q_vcf, tmp_path / "plain", device="cpu", progress=False)
    assert "Significance" not in _section_variants([tmp_path / "plain.tsv"])


@pytest.mark.parametrize("background", ["demo", ""])
def test_workflow_builds_the_background_once_and_scores_every_vcf_against_it(
    tmp_path, tool_env, background
):
    import shutil
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "data").symlink_to(repo / "data")
    config = (repo / "config.yaml").read_text()
    if not background:
        config = config.replace(
            "  background: data/hg19_chr22/variants/1000G_phase3_sites.GAB4_ADA2.vcf.gz",
            '  background: ""',
        )
    (tmp_path / "config.yaml").write_text(config)
    run = subprocess.run(
        [
            shutil.which("snakemake", path=tool_env["PATH"]),
            "-s",
            str(repo / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "-p",
            "--cores",
            "1",
        ],
        cwd=tmp_path,
        env=tool_env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    plan = run.stdout
    jobs = [ln for ln in plan.splitlines() if "python -m danq_pipeline score-variants" in ln]
    assert len(jobs) == 2
    if background:
        assert plan.count("python -m danq_pipeline background") == 1
        assert all("--background results/background/background.h5" in j for j in jobs)
    else:
        assert "danq_pipeline background" not in plan and not any("--background" in j for j in jobs)
