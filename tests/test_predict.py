"""`danq predict` and the prediction API: sequences, regions (tiled), bigWig tracks.

A tiny random-weight model and a tiny test windows file (eval_fixtures); the FASTA's chrT is
the windows laid end to end, so every window of the test file is also a genomic region.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from eval_fixtures import LENGTH, tiny_setup

from danq_pipeline.cli import main
from danq_pipeline.dataset import WindowsH5
from danq_pipeline.encode import N_CODE, decode, encode, one_hot
from danq_pipeline.errors import DanQError
from danq_pipeline.predict_io import (
    DEFAULT_STRIDE,
    predict_regions,
    predict_sequences,
    write_tracks,
)

pyBigWig = pytest.importorskip("pyBigWig")
CHR_U = "ACGTTGCAAC" * 12  # 120 bp: a short contig for the contig-end cases


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """model.pt, test.h5 (60 windows), genome.fa (chrT = the windows end to end, chrU), windows.bed
    and windows.fa (the same windows as regions and as sequences)."""
    tmp = tmp_path_factory.mktemp("predict")
    paths = tiny_setup(tmp, n_test=60, n_train=20)
    data = WindowsH5(paths["test"])
    codes = data.read_codes(0, len(data))[0]
    coords = data.coordinates()
    (tmp / "genome.fa").write_text(f">chrT\n{decode(codes.reshape(-1))}\n>chrU\n{CHR_U}\n")
    coords.assign(name=[f"w{i}" for i in range(len(coords))]).to_csv(
        tmp / "windows.bed", sep="\t", header=False, index=False
    )
    (tmp / "windows.fa").write_text("".join(f">w{i}\n{decode(c)}\n" for i, c in enumerate(codes)))
    return {
        **paths,
        "tmp": tmp,
        "codes": codes,
        "coords": coords,
        "fasta": tmp / "genome.fa",
        "bed": tmp / "windows.bed",
        "seqs": tmp / "windows.fa",
    }


def _danq(*args: object) -> int:
    return main(["predict", "--threads", "1", "--device", "cpu", *map(str, args)])


def _h5_probs(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        return h5["probabilities"][:]


def test_regions_and_sequences_equal_evaluate_predictions(
    setup, tmp_path, one_torch_thread
) -> None:
    from danq_pipeline.evaluate import evaluate_model

    evaluate_model(
        setup["model"],
        setup["test"],
        tmp_path / "eval",
        baseline=False,
        device="cpu",
        figures=False,
        progress=False,
    )
    expected = _h5_probs(tmp_path / "eval" / "predictions.h5")
    assert (
        _danq(
            "--model",
            setup["model"],
            "--fasta",
            setup["fasta"],
            "--bed",
            setup["bed"],
            "--out-prefix",
            tmp_path / "r",
        )
        == 0
    )
    assert (
        _danq(
            "--model", setup["model"], "--sequences", setup["seqs"], "--out-prefix", tmp_path / "s"
        )
        == 0
    )
    np.testing.assert_allclose(_h5_probs(tmp_path / "r.h5"), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(_h5_probs(tmp_path / "s.h5"), expected, rtol=0, atol=1e-6)
    tsv = pd.read_csv(tmp_path / "r.tsv", sep="\t")
    assert list(tsv.columns[:7]) == [
        "chrom",
        "start",
        "end",
        "name",
        "window_start",
        "window_end",
        "padded_bp",
    ]
    assert (tsv["window_start"] == setup["coords"]["start"]).all() and (tsv["padded_bp"] == 0).all()
    np.testing.assert_allclose(
        tsv[["t0", "t1", "t2", "t3", "t4"]].to_numpy(), expected, rtol=2e-6, atol=1e-6
    )
    with h5py.File(tmp_path / "r.h5", "r") as h5:
        assert h5.attrs["format"] == "danq-predictions-regions" and h5.attrs["window"] == LENGTH
        assert list(h5["targets/name"].asstr()[:]) == ["t0", "t1", "t2", "t3", "t4"]
        assert (h5["rows/window_start"][:] == setup["coords"]["start"].to_numpy()).all()


def test_api_inputs_agree(setup, one_torch_thread) -> None:
    codes = setup["codes"][:12]
    strings = [decode(c) for c in codes]
    from_codes = predict_sequences(setup["model"], codes, device="cpu")
    assert from_codes.shape == (12, 5) and from_codes.dtype == np.float32
    np.testing.assert_array_equal(
        predict_sequences(setup["model"], strings, device="cpu"), from_codes
    )
    np.testing.assert_array_equal(
        predict_sequences(setup["model"], one_hot(codes), device="cpu"), from_codes
    )
    frame = predict_sequences(setup["model"], setup["seqs"], as_frame=True, device="cpu")
    assert list(frame.index[:3]) == ["w0", "w1", "w2"] and list(frame.columns) == [
        "t0",
        "t1",
        "t2",
        "t3",
        "t4",
    ]
    np.testing.assert_allclose(
        frame.to_numpy()[:12], from_codes, rtol=0, atol=1e-6
    )  # other batch: ~1 ulp
    forward = predict_sequences(setup["model"], codes, device="cpu", rc_average=False)
    assert np.abs(forward - from_codes).max() > 1e-6  # strand averaging changes the numbers


def test_bigwig_values_equal_the_table_at_window_centres(setup, tmp_path, one_torch_thread) -> None:
    assert (
        _danq(
            "--model",
            setup["model"],
            "--fasta",
            setup["fasta"],
            "--bed",
            setup["bed"],
            "--stride",
            20,
            "--out-prefix",
            tmp_path / "r",
            "--bigwig",
            tmp_path / "bw",
            "--targets",
            "t0,t3",
        )
        == 0
    )
    tsv = pd.read_csv(tmp_path / "r.tsv", sep="\t")
    assert [c for c in tsv.columns if c.startswith("t")] == ["t0", "t3"]
    probs = _h5_probs(tmp_path / "r.h5")
    for col, name in ((0, "t0"), (3, "t3")):
        bw = pyBigWig.open(str(tmp_path / "bw" / f"{name}.bw"))
        assert bw.isBigWig() and bw.chroms() == {"chrT": 60 * LENGTH, "chrU": len(CHR_U)}
        centre = (tsv["window_start"] + LENGTH // 2).to_numpy()
        got = np.array([bw.values("chrT", int(c), int(c) + 1)[0] for c in centre])
        np.testing.assert_allclose(got, probs[:, col], rtol=1e-6)
        np.testing.assert_allclose(got, tsv[name], rtol=2e-6)
        first = bw.intervals("chrT")[0]
        assert first[:2] == (20, 40)  # window 0-60: the 20 bp at its centre, bases 20-39
        bw.close()


def test_long_region_is_tiled_at_the_stride(setup, tmp_path, one_torch_thread) -> None:
    bed = pd.DataFrame({"chrom": ["chrT"], "start": [1000], "end": [1455], "name": ["long"]})
    rows = predict_regions(setup["model"], setup["fasta"], bed, stride=25, device="cpu")
    # ceil((455 - 60) / 25) + 1 = 17 windows spanning 16 * 25 + 60 = 460 bp, centred on the region
    assert len(rows) == 17 and (rows["name"] == "long").all()
    assert (np.diff(rows["window_start"]) == 25).all()
    mid = 1000 + 455 // 2
    assert (
        rows["window_start"].iat[0] == mid - 460 // 2
        and rows["window_end"].iat[-1] == mid - 230 + 460
    )
    assert rows["window_start"].iat[0] <= 1000 and rows["window_end"].iat[-1] >= 1455
    genome_codes = encode(Path(setup["fasta"]).read_text().split("\n")[1])
    windows = np.stack([genome_codes[s : s + LENGTH] for s in rows["window_start"]])
    np.testing.assert_array_equal(
        rows[["t0", "t1", "t2", "t3", "t4"]].to_numpy(),
        predict_sequences(setup["model"], windows, device="cpu"),
    )
    short = predict_regions(setup["model"], setup["fasta"], bed.assign(end=1031), device="cpu")
    assert (
        len(short) == 1 and short["window_start"].iat[0] == 1000 + 31 // 2 - LENGTH // 2
    )  # Selene's centring
    paths = write_tracks(
        setup["model"],
        setup["fasta"],
        bed,
        tmp_path / "bw",
        targets="t1",
        stride=25,
        device="cpu",
        progress=False,
    )
    bw = pyBigWig.open(str(paths[0]))
    bins = bw.intervals("chrT")
    assert len(bins) == 17 and all(a[1] == b[0] for a, b in zip(bins, bins[1:], strict=False)), (
        bins
    )  # abutting bins
    assert bins[0][:2] == (rows["window_start"].iat[0] + 17, rows["window_start"].iat[0] + 42)
    bw.close()


def test_bigwig_of_overlapping_unsorted_regions_is_sorted_and_never_overlaps(
    setup, tmp_path, one_torch_thread
) -> None:
    bed = pd.DataFrame(
        {"chrom": ["chrT", "chrT", "chrT"], "start": [1000, 1010, 400], "end": [1060, 1200, 460]}
    )
    rows = predict_regions(setup["model"], setup["fasta"], bed, stride=20, device="cpu")
    (path,) = write_tracks(
        setup["model"],
        setup["fasta"],
        bed,
        tmp_path,
        targets="t0",
        stride=20,
        device="cpu",
        progress=False,
    )
    bw = pyBigWig.open(str(path))
    bins = bw.intervals("chrT")
    assert [b[0] for b in bins] == sorted(b[0] for b in bins) and all(
        a[1] <= b[0] for a, b in zip(bins, bins[1:], strict=False)
    )
    assert bins[0] == pytest.approx(
        (420, 440, rows["t0"].iat[-1])
    )  # the BED's last region comes first
    assert bins[1][:2] == (1020, 1040) and bins[2][:2] == (
        1040,
        1045,
    )  # region 2's first bin, cut where region 1's ends
    np.testing.assert_allclose([bins[1][2], bins[2][2]], rows["t0"].iloc[:2], rtol=1e-6)
    bw.close()


def test_contig_end_refused_unless_padded(setup, tmp_path, capsys, one_torch_thread) -> None:
    bed = tmp_path / "edge.bed"
    bed.write_text("chrT\t0\t60\tok\nchrU\t100\t120\tedge\n")
    assert (
        _danq(
            "--model",
            setup["model"],
            "--fasta",
            setup["fasta"],
            "--bed",
            bed,
            "--out-prefix",
            tmp_path / "o",
            "--bigwig",
            tmp_path / "bw",
            "--targets",
            "t0",
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{bed}:2:" in err and "--pad-short" in err, err
    assert not list(tmp_path.glob("o*")) and not (tmp_path / "bw").exists()
    assert (
        _danq(
            "--model",
            setup["model"],
            "--fasta",
            setup["fasta"],
            "--bed",
            bed,
            "--out-prefix",
            tmp_path / "o",
            "--pad-short",
        )
        == 0
    )
    tsv = pd.read_csv(tmp_path / "o.tsv", sep="\t")
    assert tsv["padded_bp"].tolist() == [0, 20]  # window 80-140 on a 120-bp contig
    padded = np.full(LENGTH, N_CODE, np.uint8)
    padded[:40] = encode(CHR_U[80:])
    np.testing.assert_allclose(
        tsv.loc[1, ["t0", "t1"]].to_numpy(float),
        predict_sequences(setup["model"], padded[None], device="cpu")[0, :2],
        rtol=2e-6,
    )


def test_short_sequences_need_pad_short(setup, tmp_path, capsys, one_torch_thread) -> None:
    seqs = tmp_path / "short.fa"
    seqs.write_text(">full\n" + decode(setup["codes"][0]) + "\n>short\nACGTACGTAC\n")
    assert (
        _danq("--model", setup["model"], "--sequences", seqs, "--out-prefix", tmp_path / "s") == 2
    )
    err = capsys.readouterr().err.strip()
    assert "'short'" in err and "--pad-short" in err and "\n" not in err, err
    assert not list(tmp_path.glob("s.*"))
    assert (
        _danq(
            "--model",
            setup["model"],
            "--sequences",
            seqs,
            "--out-prefix",
            tmp_path / "s",
            "--pad-short",
        )
        == 0
    )
    tsv = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert tsv["name"].tolist() == ["full", "short"] and tsv["padded_bp"].tolist() == [
        0,
        LENGTH - 10,
    ]
    centred = "N" * 25 + "ACGTACGTAC" + "N" * 25
    np.testing.assert_allclose(
        _h5_probs(tmp_path / "s.h5")[1],
        predict_sequences(setup["model"], [centred], device="cpu")[0],
        rtol=1e-6,
    )
    with pytest.raises(DanQError, match="longer than the model"):
        predict_sequences(setup["model"], ["A" * (LENGTH + 1)], pad=True, device="cpu")
    with pytest.raises(
        DanQError, match="set `pad` to centre it"
    ) as err:  # the API names its parameter
        predict_sequences(setup["model"], ["ACGT"], device="cpu")
    assert err.value.params == ("pad",)


@pytest.mark.parametrize(
    "case, needle",
    [
        ("bad_line", "bad.bed:3: not a region"),
        ("unknown_target", "unknown target name(s) nope"),
        ("stride", "stride 61: must be between 1"),
        ("no_fasta", "--bed needs --fasta"),
        ("bigwig_sequences", "--bigwig needs genomic regions"),
        ("unknown_contig", "bad.bed:2: contig 'chr9'"),
    ],
)
def test_bad_inputs_one_line_exit_2(
    setup, tmp_path, capsys, case, needle, one_torch_thread
) -> None:
    bad = tmp_path / "bad.bed"
    bad.write_text(
        "# header\nchr9\t0\t60\n"
        if case == "unknown_contig"
        else "# header\nchrT\t0\t60\nchrT\tten\t60\n"
    )
    base = ["--model", setup["model"], "--out-prefix", tmp_path / "o"]
    args = {
        "bad_line": ["--fasta", setup["fasta"], "--bed", bad],
        "unknown_target": ["--fasta", setup["fasta"], "--bed", setup["bed"], "--targets", "nope"],
        "stride": ["--fasta", setup["fasta"], "--bed", setup["bed"], "--stride", 61],
        "no_fasta": ["--bed", setup["bed"]],
        "bigwig_sequences": ["--sequences", setup["seqs"], "--bigwig", tmp_path / "bw"],
        "unknown_contig": ["--fasta", setup["fasta"], "--bed", bad],
    }[case]
    assert _danq(*base, *args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err, err
    assert not list(tmp_path.glob("o.*")) and not (tmp_path / "bw").exists()


def test_help_states_the_api_default_stride(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert f"default: {DEFAULT_STRIDE}" in capsys.readouterr().out
