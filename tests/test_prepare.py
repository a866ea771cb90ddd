"""`danq prepare` end to end on a tiny genome made in tmp_path, plus bad input and the real demo.

Geometry in the tiny cases: --window 600 --bin 200, so bin i has the window
[200*i - 200, 200*i + 400) and a bin needs 100 bp covered to be positive.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from danq_pipeline import genome as genome_module
from danq_pipeline.cli import main
from danq_pipeline.dataset import WindowsH5
from danq_pipeline.encode import encode
from danq_pipeline.errors import DanQError, DanQWarning
from danq_pipeline.prepare import DROP_REASONS, prepare_dataset

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "hg19_chr22"


def _seq(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    s = "".join(rng.choice(list("ACGTacgt"), size=n))
    return s


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Path]:
    """chr1 (4000 bp) and chr2 (3050 bp, N at [1000, 1100) and one IUPAC R); 4 targets."""
    chr1, chr2 = _seq(4000, 1), _seq(3050, 2)
    chr2 = chr2[:1000] + "N" * 100 + chr2[1100:2500] + "R" + chr2[2501:]
    fa = tmp_path / "genome.fa"
    fa.write_text(
        "".join(
            f">{n}\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n"
            for n, s in (("chr1", chr1), ("chr2", chr2))
        )
    )
    peaks = tmp_path / "peaks"
    peaks.mkdir()
    (peaks / "a.bed").write_text(
        "chr1\t200\t300\nchr1\t400\t499\nchr1\t1200\t1300\nchr1\t900\t1000\nchr2\t2000\t2100\n"
    )
    (peaks / "site.bed").write_text("chr1\t2500\t2501\tsiteX\t0\t+\n")
    (peaks / "merge.bed").write_text(
        "chr1\t3040\t3100\nchr1\t3000\t3060\n"
    )  # unsorted, overlapping
    sheet = tmp_path / "targets.tsv"
    sheet.write_text(
        "name\tfile\tclass\textend\n"
        "A\tpeaks/a.bed\tTF\t\n"
        "A\tpeaks/site.bed\thistone\t100\n"
        "site\tpeaks/site.bed\tTF\t0\n"
        "merged\tpeaks/merge.bed\tDNase\t\n"
    )
    return {"fasta": fa, "targets": sheet, "dir": tmp_path, "chr1": chr1, "chr2": chr2}


def _run(tiny: dict, out: str = "out", **kw):
    args = dict(
        fasta=tiny["fasta"],
        targets=tiny["targets"],
        out_dir=tiny["dir"] / out,
        window=600,
        bin_size=200,
        valid="chr1:1001-2000",
        test="chr2",
        max_n_fraction=0.1,
        progress=False,
    )
    args.update(kw)
    with pytest.warns(DanQWarning, match="1-bp point sites.*extend"):
        return prepare_dataset(**args)


def _rows(path: Path) -> list[tuple[str, int, list[int]]]:
    h5 = WindowsH5(path)
    coords = h5.coordinates()
    return [
        (c, int(s), lab.tolist())
        for c, s, lab in zip(coords["chrom"], coords["start"], h5.labels(), strict=True)
    ]


def test_labels_splits_and_drops_by_hand(tiny):
    res = _run(tiny)
    out = tiny["dir"] / "out"
    # train: bin 1 (A: exactly 100 bp), bin 12 (1-bp site extended by 100), bin 15 (merged overlap)
    assert _rows(out / "train.h5") == [
        ("chr1", 0, [1, 0, 0, 0]),
        ("chr1", 2200, [0, 1, 0, 0]),
        ("chr1", 2800, [0, 0, 0, 1]),
    ]
    assert _rows(out / "valid.h5") == [("chr1", 1000, [1, 0, 0, 0])]  # inside [1000, 2000)
    assert _rows(out / "test.h5") == [("chr2", 1800, [1, 0, 0, 0])]  # whole chr2 is test
    stats = res.stats.set_index("contig")
    # chr1: bins 0 and 19 run off the ends; bins 4, 5, 9, 10 cross the valid boundary
    assert stats.loc[
        "chr1", ["off_contig_end", "crosses_split_boundary", "n_fraction"]
    ].tolist() == [2, 4, 0]
    # chr2 (3050 bp, 16 bins): bins 0, 14, 15 run off; bins 4, 5, 6 hold all 100 N (> 60 allowed)
    assert stats.loc[
        "chr2", ["off_contig_end", "n_fraction", "iupac_bases", "n_bases"]
    ].tolist() == [3, 3, 1, 100]
    assert stats.loc["total", "kept_train"] == 3 and list(stats.index)[-1] == "total"


def test_sequences_are_the_genome_and_summary_counts(tiny):
    res = _run(tiny)
    h5 = WindowsH5(tiny["dir"] / "out" / "train.h5")
    codes, _ = h5.read_codes(0, len(h5))
    assert np.array_equal(codes[1], encode(tiny["chr1"][2200:2800])), "lowercase is the same base"
    assert h5.window == 600 and h5.attrs["bin_size"] == 200
    assert h5.attrs["counts"] == {"train": 3, "valid": 1, "test": 1}
    assert h5.attrs["genome_checksum"].startswith("md5:") and h5.attrs["params"]["window"] == 600
    assert h5.targets["name"].tolist() == ["A", "A", "site", "merged"], "duplicate names kept apart"
    summ = pd.read_csv(tiny["dir"] / "out" / "targets_summary.tsv", sep="\t", keep_default_na=False)
    assert summ["positives_train"].tolist() == [1, 1, 0, 1]
    assert summ["positives_valid"].tolist() == [1, 0, 0, 0]
    assert "NO POSITIVES" in summ.loc[2, "note"] and "extend" in summ.loc[2, "note"]
    assert res.summary["fraction_train"].tolist()[0] == pytest.approx(1 / 3, abs=1e-4)


def test_negatives_sampled_with_seed_and_blacklist(tiny):
    bl = tiny["dir"] / "blacklist.bed"
    bl.write_text("chr1\t2450\t2451\n")
    res = _run(tiny, out="n1", negative_ratio=2.0, blacklist=bl)
    again = _run(tiny, out="n2", negative_ratio=2.0, blacklist=bl)
    rows = _rows(tiny["dir"] / "n1" / "train.h5")
    assert rows == _rows(tiny["dir"] / "n2" / "train.h5"), "same seed, same windows"
    starts = [s for _, s, lab in rows]
    # bins 11, 12, 13 overlap the blacklisted base 2450 -> dropped (bin 12 was positive)
    assert res.stats.set_index("contig").loc["chr1", "blacklist"] == 3 and 2200 not in starts
    positives = [r for r in rows if any(r[2])]
    assert len(positives) == 2 and len(rows) == 2 + 4, "2 positives + 2x2 sampled negatives"
    # never from crossing (600, 800, 1600, 1800), valid (1000-1400) or blacklisted (2000-2400) windows
    assert not set(starts) & {600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2200, 2400}
    assert all(not any(lab) for _, s, lab in rows if s not in (0, 2800))
    assert (
        again.stats["negative_not_sampled"].iloc[-1] == res.stats["negative_not_sampled"].iloc[-1]
    )


def test_anchor_classes_keep_only_anchor_positives(tiny):
    res = _run(tiny, anchor_classes="histone")
    assert [s for _, s, _ in _rows(tiny["dir"] / "out" / "train.h5")] == [2200]
    assert res.stats["not_anchored"].iloc[-1] == 4  # chr1 bins 1, 15, 6 (valid) and chr2 bin 10


def test_regions_select_windows(tiny):
    res = _run(tiny, contigs="chr1:1-700,chr2")  # only bin 1's window [0, 600) fits in chr1:1-700
    assert [s for c, s, _ in _rows(tiny["dir"] / "out" / "train.h5")] == [0]
    assert res.stats.set_index("contig").loc["chr1", "outside_selection"] == 17


# ----------------------------------------------------------------------------- bad input, via the CLI


def _cli(
    tiny: dict, capsys, *extra: str, targets: Path | None = None, fasta: Path | None = None
) -> str:
    out = tiny["dir"] / "bad_out"
    argv = [
        "prepare",
        "--fasta",
        str(fasta or tiny["fasta"]),
        "--targets",
        str(targets or tiny["targets"]),
        "--out-dir",
        str(out),
        "--window",
        "600",
        "--quiet",
        *extra,
    ]
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert not list(out.glob("*.h5*")) if out.exists() else True
    return err


def _sheet_with(tiny: dict, body: str, name: str = "bad") -> Path:
    peak = tiny["dir"] / "peaks" / f"{name}.bed"
    peak.write_text(body)
    sheet = tiny["dir"] / f"{name}.tsv"
    sheet.write_text(f"name\tfile\tclass\nA\tpeaks/a.bed\tTF\nB\tpeaks/{name}.bed\tTF\n")
    return sheet


@pytest.mark.parametrize(
    "body, expect",
    [
        ("1\t10\t20\n2\t5\t9\n", r"contig\(s\) not in the FASTA: 1, 2.*add a 'chr' prefix"),
        ("chr1\t10\t20\nchr1\t10\n", r"bad.bed.*:2: only 2 tab-separated column"),
        ("chr1\t10\t20\nchr1\t10\t20\nchr1\t50\t40\n", r"bad.bed.*:3: start > end"),
        ("chr1\t1e5x\t20\n", r"bad.bed.*:1: start '1e5x' is not an integer"),
        ("", r"bad.bed.*empty peak file"),
    ],
)
def test_bad_peak_files(tiny, capsys, body, expect):
    err = _cli(tiny, capsys, targets=_sheet_with(tiny, body))
    assert err.startswith("danq prepare: error: ")
    assert pd.Series([err]).str.contains(expect).all(), err


def test_unknown_class_and_missing_files(tiny, capsys):
    sheet = tiny["dir"] / "cls.tsv"
    sheet.write_text("name\tfile\tclass\nA\tpeaks/a.bed\tTF\nB\tpeaks/a.bed\tChIP\n")
    assert "cls.tsv:3: unknown class 'ChIP'" in _cli(tiny, capsys, targets=sheet)
    assert "no such targets sheet" in _cli(tiny, capsys, targets=tiny["dir"] / "nope.tsv")
    assert "no such FASTA" in _cli(tiny, capsys, fasta=tiny["dir"] / "nope.fa")
    sheet.write_text("name\tfile\tclass\nA\tpeaks/gone.bed\tTF\n")
    assert "cls.tsv:2: peak file 'peaks/gone.bed' not found" in _cli(tiny, capsys, targets=sheet)
    assert "--valid and --test overlap" in _cli(
        tiny, capsys, "--valid", "chr1", "--test", "chr1:5-10"
    )
    assert "contig 'chr9'" in _cli(tiny, capsys, "--test", "chr9:1-100")


def test_read_only_fasta_folder_needs_index_dir(tiny, capsys, monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    fasta = ro / "g.fa"
    fasta.write_text(tiny["fasta"].read_text())
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the folder read-only for the genome module
        real = os.access
        monkeypatch.setattr(
            genome_module.os,
            "access",
            lambda p, mode, **kw: (
                False if Path(p) == ro and mode & os.W_OK else real(p, mode, **kw)
            ),
        )
    try:
        assert "read-only" in _cli(tiny, capsys, fasta=fasta) and "--index-dir" in _cli(
            tiny, capsys, fasta=fasta
        )
        with pytest.warns(DanQWarning, match="valid.h5 holds no windows"):
            prepare_dataset(
                fasta=fasta,
                targets=tiny["targets"],
                out_dir=tmp_path / "ok",
                window=600,
                index_dir=tmp_path / "idx",
                progress=False,
            )
        assert (tmp_path / "idx" / "g.fa.fai").exists() and not (ro / "g.fa.fai").exists()
        assert (tmp_path / "ok" / "train.h5").exists()
        assert (
            len(WindowsH5(tmp_path / "ok" / "valid.h5")) == 0
        )  # no --valid: warned, file still written
    finally:
        ro.chmod(0o755)


def test_bad_numbers_are_user_errors(tiny):
    with pytest.raises(DanQError, match="window - bin size even"):
        prepare_dataset(
            fasta=tiny["fasta"], targets=tiny["targets"], out_dir=tiny["dir"] / "x", window=601
        )
    with pytest.raises(DanQError, match="`anchor_classes`: unknown class"):
        prepare_dataset(
            fasta=tiny["fasta"],
            targets=tiny["targets"],
            out_dir=tiny["dir"] / "x",
            anchor_classes="ATAC",
        )


# ----------------------------------------------------------------------------- real demo data


def test_demo_chr22(tmp_path, demo_fasta, capsys):
    """The embedded chr22 demo: counts, CTCF positive rate, and labels re-checked with bedtools."""
    import pybedtools

    sheet = tmp_path / "targets.tsv"
    rows = [
        ("CTCF", DEMO / "peaks" / "CTCF.bed.gz", "TF"),
        ("H3K4me3_neuron", DEMO / "peaks" / "H3K4me3_brain_neuron_NeuN.bed.gz", "histone"),
        ("TF_sites", DEMO / "peaks" / "TF_top1000_sites.bed.gz", "TF"),
    ]
    sheet.write_text(
        "name\tfile\tclass\textend\n" + "".join(f"{n}\t{f}\t{c}\t100\n" for n, f, c in rows)
    )
    rc = main(
        [
            "prepare",
            "--fasta",
            str(demo_fasta),
            "--targets",
            str(sheet),
            "--out-dir",
            str(tmp_path / "w"),
            "--valid",
            "chr22:17000000-18000000",
            "--test",
            "chr22:20,000,000-22,000,000",
            "--negative-ratio",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0 and "CTCF" in err and "pos_train" in err
    stats = (
        pd.read_csv(tmp_path / "w" / "prepare_stats.tsv", sep="\t").set_index("contig").loc["total"]
    )
    n_free = (
        stats["bins"]
        - stats["off_contig_end"]
        - stats["n_fraction"]
        - stats["crosses_split_boundary"]
    )
    assert (
        28_000 < n_free < 29_000
    )  # ~28,500 N-free 1000-bp windows at a 200-bp stride (data README)
    summ = pd.read_csv(tmp_path / "w" / "targets_summary.tsv", sep="\t").set_index("name")
    ctcf = summ.loc["CTCF", ["positives_train", "positives_valid", "positives_test"]].sum()
    assert 0.02 < ctcf / n_free < 0.06, "CTCF ~3.7% positive under the DeepSEA rule"
    h5 = WindowsH5(tmp_path / "w" / "test.h5")
    coords = h5.coordinates()
    assert coords["start"].min() >= 19_999_999 and coords["end"].max() <= 22_000_000
    _check_labels_with_bedtools(
        coords, h5.labels()[:, 0], DEMO / "peaks" / "CTCF.bed.gz", pybedtools
    )


def _check_labels_with_bedtools(
    coords: pd.DataFrame, labels: np.ndarray, peaks: Path, pybedtools
) -> None:
    """Recompute the central-bin labels with `bedtools coverage` (extend 100 as in the sheet)."""
    bins = coords.assign(start=coords["start"] + 400, end=coords["start"] + 600)
    ext = (
        pybedtools.BedTool(str(peaks))
        .each(
            lambda f: pybedtools.create_interval_from_list(
                [f.chrom, str(max(0, f.start - 100)), str(f.end + 100)]
            )
        )
        .sort()
        .merge()
    )
    cov = (
        pybedtools.BedTool.from_dataframe(bins)
        .coverage(ext, sorted=False)
        .to_dataframe(header=None, names=["chrom", "start", "end", "n", "covered", "len", "frac"])
    )
    cov = cov.set_index("start").loc[bins["start"]]
    assert np.array_equal((cov["covered"].to_numpy() >= 100).astype(np.uint8), labels)


def test_failure_while_writing_leaves_no_final_files(tiny, capsys):
    """chr1 is written, then chr2 no longer matches the FASTA index: no .h5 or .part remains."""
    from danq_pipeline.genome import Genome

    Genome(tiny["fasta"]).close()  # build the index, then truncate chr2 behind its back
    text = tiny["fasta"].read_text()
    tiny["fasta"].write_text(text[: text.index(">chr2")] + ">chr2\nACGT\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pyfaidx may say: index older than FASTA
        err = _cli(tiny, capsys)
    assert "does not match the FASTA index" in err and "delete genome.fa.fai" in err
    assert not list((tiny["dir"] / "bad_out").glob("*"))


def test_negative_ratio_all_keeps_every_clean_window(tiny):
    res = _run(tiny, negative_ratio="all")
    stats = res.stats.set_index("contig").loc["total"]
    assert stats["negative_not_sampled"] == 0
    kept = stats[["kept_train", "kept_valid", "kept_test"]].sum()
    assert kept + stats[list(DROP_REASONS)].sum() == stats["bins"], "every bin counted once"
    assert WindowsH5(tiny["dir"] / "out" / "train.h5").attrs["params"]["negative_ratio"] == "all"
    with pytest.raises(DanQError, match="`negative_ratio` must be a number"):
        prepare_dataset(
            fasta=tiny["fasta"],
            targets=tiny["targets"],
            out_dir=tiny["dir"] / "x",
            negative_ratio="some",
        )


# ----------------------------------------------------------------------------- edges and provenance


def _one_contig(tmp_path: Path, seq: str, peaks: str) -> dict[str, Path]:
    """A one-contig genome `chr1` = seq and a one-target sheet over `peaks` (BED text)."""
    fa = tmp_path / "one.fa"
    fa.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    (tmp_path / "p.bed").write_text(peaks)
    sheet = tmp_path / "one.tsv"
    sheet.write_text("name\tfile\tclass\nT\tp.bed\tTF\n")
    return {"fasta": fa, "targets": sheet}


@pytest.mark.parametrize("fraction, allowed", [(0.1, 60), (0.41, 246)])
def test_n_fraction_cut_at_its_edge(tmp_path, fraction, allowed):
    """--max-n-fraction f allows floor(f x window) N and not one more: with window 600, the
    window [800, 1400) holds exactly `allowed` N and is kept, [1000, 1600) holds one more and
    is dropped. (0.41 x 600 is 245.99999999999997 in floating point: 246 N are still allowed.)"""
    seq = _seq(3000, 3)
    seq = seq[: 1400 - allowed] + "N" * (allowed + 1) + seq[1401:]  # N at [1400 - allowed, 1401)
    inputs = _one_contig(tmp_path, seq, "chr1\t100\t300\n")
    with pytest.warns(
        DanQWarning, match="holds no windows"
    ):  # no holdouts: valid.h5 and test.h5 empty
        res = prepare_dataset(
            **inputs,
            out_dir=tmp_path / "w",
            window=600,
            bin_size=200,
            max_n_fraction=fraction,
            negative_ratio="all",
            progress=False,
        )
    starts = {s for _, s, _ in _rows(tmp_path / "w" / "train.h5")}
    assert 800 in starts, f"a window with exactly {allowed} N (the limit) must be kept"
    assert 1000 not in starts, f"a window with {allowed + 1} N must be dropped"
    n_in = {s: seq[s : s + 600].count("N") for s in range(0, 2401, 200)}
    assert res.stats.loc[0, "n_fraction"] == sum(n > allowed for n in n_in.values())


def test_peaks_past_the_contig_end_warn_with_their_count(tmp_path):
    """Peaks beyond chr1's 3,000 bp cannot come from this genome: dropped, counted in the warning
    and the note; `peaks` counts every interval read; a peak straddling the end is only clipped."""
    inputs = _one_contig(
        tmp_path,
        _seq(3000, 4),
        "chr1\t100\t300\nchr1\t2900\t3100\nchr1\t5000\t5200\nchr1\t9000\t9300\nchr1\t3000\t3001\n",
    )
    with pytest.warns(DanQWarning) as caught:
        res = prepare_dataset(**inputs, out_dir=tmp_path / "w", window=600, progress=False)
    past = [str(w.message) for w in caught if "past the end" in str(w.message)]
    assert len(past) == 1 and "3 of 5 peaks lie entirely past the end of their contig" in past[0], (
        past
    )
    assert "chr1:5001-5200" in past[0] and "another genome build" in past[0]
    row = res.summary.iloc[0]
    assert row["peaks"] == 5
    assert "1 peak(s) clipped at a contig end" in row["note"]
    assert "3 peak(s) entirely past a contig end dropped" in row["note"]


def test_windows_record_checksums_of_every_input(tiny):
    """The provenance names the inputs' contents, not only their paths: MD5 of the sheet, the
    blacklist and each peak file (as the sheet writes it), equal to hashlib's."""
    import hashlib

    bl = tiny["dir"] / "blacklist.bed"
    bl.write_text("chr1\t2450\t2451\n")
    _run(tiny, blacklist=bl)
    md5 = WindowsH5(tiny["dir"] / "out" / "test.h5").attrs["params"]["input_md5"]

    def digest(p: Path) -> str:
        return "md5:" + hashlib.md5(p.read_bytes()).hexdigest()

    assert md5["targets"] == digest(tiny["targets"]) and md5["blacklist"] == digest(bl)
    assert md5["peaks"] == {
        f"peaks/{n}.bed": digest(tiny["dir"] / "peaks" / f"{n}.bed") for n in ("a", "site", "merge")
    }


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--valid", "chr7"), "--valid: contig 'chr7' is not in the FASTA (it has chr1, chr2)"),
        (
            ("--test", "chr2:3051-4000"),
            "--test: region 'chr2:3051-4000' starts past the end of chr2 (3,050 bp); check the coordinates and the genome build",
        ),
    ],
)
def test_bad_holdouts_are_one_line(tiny, capsys, extra, message):
    assert _cli(tiny, capsys, *extra) == f"danq prepare: error: {message}"


def test_library_names_the_parameter_and_the_cli_its_flag(tiny, capsys):
    """A library error names the API parameter (`min_overlap`); `danq prepare` shows it as the
    flag the user typed (--min-overlap), in the same one-line message."""
    with pytest.raises(DanQError) as err:
        prepare_dataset(
            fasta=tiny["fasta"],
            targets=tiny["targets"],
            out_dir=tiny["dir"] / "api_out",
            window=600,
            min_overlap=2.0,
            progress=False,
        )
    assert str(err.value) == "`min_overlap` must be in (0, 1] (got 2.0)" and err.value.params == (
        "min_overlap",
    )
    assert (
        _cli(tiny, capsys, "--min-overlap", "2")
        == "danq prepare: error: --min-overlap must be in (0, 1] (got 2.0)"
    )
    assert _cli(tiny, capsys, "--bin", "301") == (
        "danq prepare: error: --window 600 and --bin 301: need 1 <= bin size <= window with window - bin size "
        "even (equal flanks), e.g. --window 1000 and --bin 200"
    )


def test_summit_on_a_bed12_is_refused(tiny, capsys):
    """Column 10 of a BED12 is blockCount: summit must not read it as a summit offset."""
    (tiny["dir"] / "peaks" / "genes.bed").write_text(
        "chr1\t1000\t2000\tg\t0\t+\t1000\t2000\t0\t2\t10,20\t0,980\n"
    )
    sheet = tiny["dir"] / "summit.tsv"
    sheet.write_text(
        "name\tfile\tclass\tsummit\nA\tpeaks/a.bed\tTF\t\nG\tpeaks/genes.bed\tTF\t50\n"
    )
    err = _cli(tiny, capsys, targets=sheet)
    assert err == (
        "danq prepare: error: peaks/genes.bed (target 1 G): summit requested but the file has 12 "
        "columns, not narrowPeak's 10; empty the sheet's summit column for this target"
    )
