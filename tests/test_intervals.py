"""Interval rules of `prepare`, checked by hand on tiny cases (bins of 200 bp, threshold 100 bp)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from danq_pipeline import intervals as iv
from danq_pipeline.errors import DanQError
from danq_pipeline.targets import read_targets_sheet

LENGTHS = {"chr1": 10_000, "chr2": 5_000}


def _bed(path: Path, rows: list[tuple], gz: bool = False) -> Path:
    text = "".join("\t".join(map(str, r)) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _positives(rows: list[tuple[str, int, int]], threshold: int = 100) -> dict[str, np.ndarray]:
    table = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    return iv.positive_bins(iv.merge_peaks(table), 200, threshold)


def test_exactly_half_covered_is_positive_one_base_less_is_not():
    pos = _positives([("chr1", 200, 300), ("chr1", 400, 499)])
    assert pos["chr1"].tolist() == [1], (
        "bin 1 has 100 bp covered (positive); bin 2 has 99 (negative)"
    )


def test_overlapping_peaks_of_one_target_are_merged_before_counting():
    # [1000,1060) + [1040,1100) = 100 bp union -> positive;
    # [1200,1260) + [1230,1290) = 90 bp union (120 bp summed) -> negative
    pos = _positives(
        [("chr1", 1040, 1100), ("chr1", 1000, 1060), ("chr1", 1230, 1290), ("chr1", 1200, 1260)]
    )
    assert pos["chr1"].tolist() == [5]


def test_peak_spanning_two_bins_labels_each_by_its_own_share():
    pos = _positives([("chr1", 1300, 1500), ("chr1", 1650, 1900)])
    # bins 6 and 7 get 100 bp each; bin 8 gets 150 bp, bin 9 gets 100 bp
    assert pos["chr1"].tolist() == [6, 7, 8, 9]
    bins, cov = iv.bin_coverage(np.array([1650]), np.array([1950]), 200)
    assert bins.tolist() == [8, 9] and cov.tolist() == [150, 150]


def test_overlap_threshold_rounds_up_and_rejects_bad_fractions():
    assert iv.overlap_threshold(0.5, 200) == 100
    assert iv.overlap_threshold(0.3, 200) == 60  # 0.3*200 = 60.000000000000007 in floating point
    assert iv.overlap_threshold(0.001, 200) == 1  # any overlap
    with pytest.raises(DanQError):
        iv.overlap_threshold(0.0, 200)


def test_window_is_centred_on_its_bin():
    assert iv.window_starts(np.array([0, 5]), 200, 1000).tolist() == [-400, 600]
    with pytest.raises(DanQError, match="even"):
        iv.check_geometry(1001, 200)


def test_covered_bases_counts_partial_overlaps():
    starts, ends = np.array([100, 500]), np.array([200, 600])
    got = iv.covered_bases(
        starts, ends, np.array([0, 150, 150, 700]), np.array([100, 550, 160, 800])
    )
    assert got.tolist() == [0, 100, 10, 0]


def test_read_peaks_formats_and_gzip(tmp_path):
    narrow = _bed(
        tmp_path / "a.narrowPeak.gz",
        [
            ("chr1", 1000, 2000, "p", 0, ".", 5.0, 3.0, 2.0, 300),
            ("chr1", 100, 400, "q", 0, ".", 5.0, 3.0, 2.0, -1),
        ],
        gz=True,
    )
    peaks = iv.read_peaks(narrow, summit=50)
    assert peaks.n_columns == 10
    # summit base 1300 -> [1250, 1351); no summit (-1) -> midpoint 250 -> [200, 301)
    assert peaks.table.values.tolist() == [["chr1", 1250, 1351], ["chr1", 200, 301]]
    bed3 = _bed(tmp_path / "b.bed", [("chr1", 5, 6)])
    (tmp_path / "c.bed").write_text("track name=x\n# comment\n" + bed3.read_text())
    ext = iv.read_peaks(tmp_path / "c.bed", extend=100)
    assert ext.table.values.tolist() == [["chr1", 0, 106]], "extend clips at 0"


@pytest.mark.parametrize(
    "rows, reason, line",
    [
        ([("chr1", 10, 20), ("chr1", "x", 30)], "start 'x' is not an integer", 2),
        ([("chr1", 10, 20), ("chr1", 50, 40)], "start > end", 2),
        ([("chr1", 10, 20), ("chr1", 30)], "column", 2),
        ([("chr1", -5, 20)], "negative start", 1),
    ],
)
def test_malformed_peak_lines_name_file_and_line(tmp_path, rows, reason, line):
    path = _bed(tmp_path / "bad.bed", rows)
    with pytest.raises(DanQError, match=reason) as err:
        iv.read_peaks(path)
    assert f"bad.bed:{line}:" in str(err.value)


def test_empty_peak_file_is_an_error(tmp_path):
    (tmp_path / "empty.bed").write_text("track name=empty\n")
    with pytest.raises(DanQError, match="empty peak file"):
        iv.read_peaks(tmp_path / "empty.bed")


def test_peak_contigs_absent_from_fasta_suggest_prefix_fix():
    table = pd.DataFrame({"chrom": ["1", "2", "chr1"], "start": [0, 0, 0], "end": [5, 5, 5]})
    with pytest.raises(
        DanQError, match=r"2 contig\(s\) not in the FASTA: 1, 2.*add a 'chr' prefix"
    ):
        iv.check_peak_contigs(table, LENGTHS, "x.bed")


def test_targets_sheet_ids_relative_paths_and_duplicates(tmp_path):
    _bed(tmp_path / "a.bed", [("chr1", 0, 5)])
    (tmp_path / "sheet.tsv").write_text(
        "name\tfile\tclass\textend\nCTCF\ta.bed\tTF\t\nCTCF\ta.bed\tTF\t100\n"
    )
    sheet = read_targets_sheet(tmp_path / "sheet.tsv")
    assert sheet["id"].tolist() == [0, 1] and sheet["name"].tolist() == ["CTCF", "CTCF"]
    assert sheet["extend"].tolist() == [0, 100] and sheet["file"].iloc[0] == tmp_path / "a.bed"


def test_targets_sheet_unknown_class_names_line(tmp_path):
    _bed(tmp_path / "a.bed", [("chr1", 0, 5)])
    (tmp_path / "sheet.tsv").write_text("name\tfile\tclass\nA\ta.bed\tTF\nB\ta.bed\tATAC\n")
    with pytest.raises(DanQError, match=r"sheet.tsv:3: unknown class 'ATAC'.*DNase"):
        read_targets_sheet(tmp_path / "sheet.tsv")


@pytest.mark.parametrize(
    "row",
    [
        (
            "chr1",
            1000,
            2000,
            "gene",
            0,
            "+",
            1000,
            2000,
            "0",
            2,
            "10,20",
            "0,980",
        ),  # BED12: column 10 = blockCount
        ("chr1", 1000, 2000, "p", 0, "+", 5.0, 3.0),
    ],
)
def test_summit_needs_narrowpeak_columns(tmp_path, row):
    """summit is refused on anything but narrowPeak's 10 columns, naming the file; whole peaks still read."""
    path = _bed(tmp_path / "peaks.bed", [row])
    with pytest.raises(DanQError) as err:
        iv.read_peaks(path, summit=50)
    assert str(err.value) == (
        f"{path}: summit requested but the file has {len(row)} columns, not narrowPeak's 10; "
        "empty the sheet's summit column for this target"
    )
    assert iv.read_peaks(path).table.values.tolist() == [["chr1", 1000, 2000]]
