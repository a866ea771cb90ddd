"""DeepSEA bundle import: layouts, alphabet, reverse-complement pairs, errors, bounded memory.

The miniature bundles are written here in DeepSEA's exact layouts: train.mat as MATLAB v7.3
(HDF5 with MATLAB's 512-byte userblock header and MATLAB_class attributes, array dimensions
reversed as MATLAB writes them) and valid/test.mat as MATLAB v5 via scipy.io.savemat.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io

from danq_pipeline.cli import main
from danq_pipeline.dataset import WindowsH5
from danq_pipeline.deepsea import (
    DeepSEASet,
    deepsea_targets,
    import_deepsea,
    paper_table,
)
from danq_pipeline.encode import codes_from_one_hot, decode, reverse_complement_codes

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "deepsea" / "example.h5"
PAPER = REPO / "data" / "deepsea" / "danq_paper_aucs.tsv"
AGCT_CHANNEL = np.array([0, 2, 1, 3])  # project code (A=0 C=1 G=2 T=3) -> DeepSEA channel
MOTIF = "CACGTGAC"


# -- miniature bundle writers (DeepSEA's layouts) --------------------------------------------
def agct_one_hot(codes: np.ndarray) -> np.ndarray:
    """Codes (n, L) -> DeepSEA one-hot (n, 4, L) uint8, channels A,G,C,T; N (4) = all zero."""
    x = np.zeros((codes.shape[0], 4, codes.shape[1]), dtype=np.uint8)
    n_idx, pos = np.nonzero(codes < 4)
    x[n_idx, AGCT_CHANNEL[codes[n_idx, pos]], pos] = 1
    return x


def mini_set(n_fwd: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes, MATLAB-view one-hot (2n, 4, 1000) and labels (2n, 919), second half = RCs.

    Windows with the planted motif are positive for every third target (learnable); the
    other labels are sparse noise; a few N bases test the all-zero columns.
    """
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n_fwd, 1000), dtype=np.uint8)
    has = rng.random(n_fwd) < 0.5
    motif = np.frombuffer(MOTIF.encode(), np.uint8)
    lut = {ord(b): i for i, b in enumerate("ACGT")}
    codes[np.ix_(has, np.arange(496, 496 + len(motif)))] = [lut[b] for b in motif]
    codes[:, 10:13] = 4
    labels = (rng.random((n_fwd, 919)) < 0.03).astype(np.uint8)
    labels[:, ::3] = has[:, None]
    codes = np.concatenate([codes, reverse_complement_codes(codes)])
    labels = np.concatenate([labels, labels])
    return codes, agct_one_hot(codes), labels


def write_mat73(
    path: Path, arrays: dict[str, np.ndarray], chunk_windows: int | None = None
) -> None:
    """Write MATLAB-view arrays as MATLAB v7.3 does: HDF5, dims reversed, userblock header.

    MATLAB is column-major, so an (N, 4, 1000) array lands in HDF5 as (1000, 4, N) with
    the first MATLAB axis varying fastest; ``a.T`` (all axes reversed) is exactly that.
    """
    with h5py.File(path, "w", userblock_size=512) as h5:
        for name, a in arrays.items():
            data = np.ascontiguousarray(a.T)
            chunks = None if chunk_windows is None else (*data.shape[:-1], chunk_windows)
            ds = h5.create_dataset(
                name, data=data, chunks=chunks, compression="gzip" if chunks else None
            )
            ds.attrs["MATLAB_class"] = np.bytes_("uint8")
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  5 10:00:00 2015 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + b"\x00" * 8 + struct.pack("<H", 0x0200) + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header)


def write_bundle(folder: Path, n_train: int = 60, n_valid: int = 20, n_test: int = 20) -> dict:
    """train.mat (v7.3), valid.mat and test.mat (v5) with forward + RC halves; returns truth."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for split, n, seed in (("train", n_train, 1), ("valid", n_valid, 2), ("test", n_test, 3)):
        codes, x, y = mini_set(n, seed)
        truth[split] = (codes, y)
        path = folder / f"{split}.mat"
        if split == "train":
            write_mat73(path, {"trainxdata": x, "traindata": y})
        else:
            scipy.io.savemat(path, {f"{split}xdata": x, f"{split}data": y})
    return truth


# -- tests -------------------------------------------------------------------------------------
def test_example_h5_reverse_complement_pairs(tmp_path):
    raw = h5py.File(EXAMPLE, "r")["testxdata"][:]  # (8, 4, 1000), A,G,C,T
    expected = ["".join("AGCT"[c] for c in col.argmax(0)) for col in raw]  # independent decode
    with DeepSEASet(EXAMPLE, "test") as ds:
        codes, labels = ds.read(0, len(ds))
    assert labels is None and codes.shape == (8, 1000)
    assert [decode(c) for c in codes] == expected
    assert np.array_equal(codes, codes_from_one_hot(raw, order="AGCT"))
    for k in range(4):
        assert np.array_equal(codes[k + 4], reverse_complement_codes(codes[k])), (
            f"seq {k + 4} != rc(seq {k})"
        )
    # the same real sequences through the full CLI import, as a v5 test.mat with labels
    y = np.zeros((8, 919), np.uint8)
    y[[0, 4], 5] = 1
    scipy.io.savemat(tmp_path / "test.mat", {"testxdata": raw, "testdata": y})
    assert (
        main(
            [
                "import-deepsea",
                "--test",
                str(tmp_path / "test.mat"),
                "--out-dir",
                str(tmp_path / "w"),
                "--quiet",
            ]
        )
        == 0
    )
    w = WindowsH5(tmp_path / "w" / "test.h5")
    got, labels = w.read_codes(0, 8)
    assert w.rc_pairs and w.attrs["alphabet"] == "ACGT" and len(w.targets) == 919
    assert [decode(c) for c in got] == expected and np.array_equal(labels, y)
    assert np.array_equal(got[4:], reverse_complement_codes(got[:4]))


def test_generated_mat73_is_what_matlab_writes(tmp_path):
    codes, x, y = mini_set(3, seed=0)
    write_mat73(tmp_path / "train.mat", {"trainxdata": x, "traindata": y})
    with h5py.File(tmp_path / "train.mat", "r") as h5:
        assert h5["trainxdata"].shape == (1000, 4, 6), "h5py sees MATLAB's (N,4,1000) reversed"
        assert h5["traindata"].shape == (919, 6)
        assert h5.userblock_size == 512
        # DanQ_train.py's own reading: transpose (2, 0, 1) -> (N, 1000, 4), channels A,G,C,T
        danq_view = np.transpose(h5["trainxdata"][:], (2, 0, 1))
    assert np.array_equal(danq_view, np.transpose(x, (0, 2, 1)))
    with pytest.raises(NotImplementedError, match="v7.3"):
        scipy.io.loadmat(tmp_path / "train.mat")  # scipy recognises the header as v7.3
    with DeepSEASet(tmp_path / "train.mat", "train") as ds:
        got, labels = ds.read(0, 6)
        assert ds.format == "MATLAB v7.3 (HDF5)"
    assert np.array_equal(got, codes) and np.array_equal(labels, y)


@pytest.mark.parametrize("compressed", [False, True], ids=["v5-mapped", "v5-zlib"])
@pytest.mark.parametrize("chunked", [None, 7], ids=["v73-contiguous", "v73-chunked"])
def test_import_bundle_roundtrip(tmp_path, compressed, chunked):
    truth = {}
    for split, n, seed in (("train", 25, 1), ("valid", 10, 2)):
        codes, x, y = mini_set(n, seed)
        truth[split] = (codes, y)
    write_mat73(
        tmp_path / "train.mat",
        {"trainxdata": mini_set(25, 1)[1], "traindata": truth["train"][1]},
        chunk_windows=chunked,
    )
    scipy.io.savemat(
        tmp_path / "valid.mat",
        {"validxdata": mini_set(10, 2)[1], "validdata": truth["valid"][1]},
        do_compression=compressed,
    )
    out = import_deepsea(
        out_dir=tmp_path / "w",
        train=tmp_path / "train.mat",
        valid=tmp_path / "valid.mat",
        chunk_windows=8,
        progress=False,
    )
    assert sorted(out) == ["targets", "train", "valid"]
    for split, (codes, y) in truth.items():
        w = WindowsH5(out[split])
        got, labels = w.read_codes(0, len(w))
        assert np.array_equal(got, codes) and np.array_equal(labels, y), split
        assert w.rc_pairs and w.attrs["split"] == split and w.window == 1000
        coords = w.coordinates()
        assert set(coords["chrom"]) == {"unknown"} and (coords["start"] == -1).all()
    assert not list((tmp_path / "w").glob("*.part"))


def test_max_train_windows_keeps_pairs(tmp_path):
    codes, x, y = mini_set(30, seed=4)
    write_mat73(tmp_path / "train.mat", {"trainxdata": x, "traindata": y})
    out = import_deepsea(
        out_dir=tmp_path,
        train=tmp_path / "train.mat",
        max_train_windows=20,
        chunk_windows=6,
        progress=False,
    )
    w = WindowsH5(out["train"])
    got, labels = w.read_codes(0, len(w))
    assert len(w) == 20 and w.rc_pairs
    assert np.array_equal(got[:10], codes[:10]) and np.array_equal(got[10:], codes[30:40])
    assert np.array_equal(got[10:], reverse_complement_codes(got[:10]))
    assert w.attrs["source"]["rows"] == [[0, 10], [30, 40]]


def test_targets_table():
    t = deepsea_targets()
    assert len(t) == 919 and t["id"].tolist() == list(range(919))
    assert t["class"].value_counts().to_dict() == {"TF": 690, "DNase": 125, "histone": 104}
    assert t.loc[0, "name"] == "8988T|DNase|None" and t.loc[918, "class"] == "histone"
    assert t["name"].duplicated().sum() == 76, "duplicate names stay separate rows"
    assert t.loc[576, "treatment"] == "NA", "a treatment literally named NA stays a string"
    assert (
        REPO / "danq_pipeline" / "data" / "danq_paper_aucs.tsv"
    ).read_bytes() == PAPER.read_bytes()
    assert paper_table()["DanQ ROC AUC"].isna().sum() == 1  # K562 BRF1: no test positives


def test_import_refuses_wrong_files(tmp_path, capsys):
    def err(*argv: str) -> str:
        assert main(["import-deepsea", "--out-dir", str(tmp_path / "w"), "--quiet", *argv]) == 2
        msg = capsys.readouterr().err.strip()
        assert "\n" not in msg and "Traceback" not in msg
        return msg

    (tmp_path / "notes.txt").write_text("not a mat file\n")
    assert "not a MATLAB .mat file" in err("--valid", str(tmp_path / "notes.txt"))
    assert "no such file" in err("--test", str(tmp_path / "missing.mat"))
    codes, x, y = mini_set(2, seed=5)
    scipy.io.savemat(tmp_path / "v.mat", {"validxdata": x, "validdata": y})
    msg = err("--test", str(tmp_path / "v.mat"))  # valid.mat passed as --test
    assert (
        "no variable 'testxdata'" in msg and "validxdata" in msg and str(tmp_path / "v.mat") in msg
    )
    scipy.io.savemat(tmp_path / "t.mat", {"testxdata": x[:, :, :500], "testdata": y})
    assert "shape (4, 4, 500)" in err("--test", str(tmp_path / "t.mat"))
    scipy.io.savemat(tmp_path / "t2.mat", {"testxdata": x, "testdata": y[:, :900]})
    assert "expected (4, 919)" in err("--test", str(tmp_path / "t2.mat"))
    scipy.io.savemat(tmp_path / "t3.mat", {"testxdata": x * 2, "testdata": y})
    assert "not one-hot" in err("--test", str(tmp_path / "t3.mat"))
    assert "at least one of" in err()
    assert not (tmp_path / "w" / "test.h5").exists()


@pytest.mark.parametrize("fmt", ["v7.3", "v5"])
def test_memory_stays_bounded(tmp_path, fmt):
    """Importing a file many times larger than the block never holds more than a few blocks."""
    n_fwd, block = 4000, 100
    path = tmp_path / "big.mat"
    codes, x, y = mini_set(n_fwd, seed=6)
    if fmt == "v7.3":
        write_mat73(path, {"trainxdata": x, "traindata": y}, chunk_windows=100)
        split = "train"
    else:
        scipy.io.savemat(path, {"testxdata": x, "testdata": y})
        split = "test"
    size = x.nbytes  # what loading the sequences whole would take (the file may be compressed)
    del x
    tracemalloc.start()
    try:
        out = import_deepsea(
            out_dir=tmp_path / "w", **{split: path}, chunk_windows=block, progress=False
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == 32e6
    assert block * 4000 < peak < size / 4, (
        f"peak {peak / 1e6:.1f} MB for {size / 1e6:.1f} MB of sequence"
    )
    w = WindowsH5(out[split])
    assert len(w) == 2 * n_fwd and np.array_equal(w.read_codes(7990, 8000)[0], codes[7990:8000])


# -- end to end: CLI and workflow --------------------------------------------------------------
def _check_evaluation(ev: Path, n_test_fwd: int) -> None:
    """metrics.tsv covers all 919 targets beside the paper's values; per-class summary exists."""
    metrics = pd.read_csv(
        ev / "metrics.tsv", sep="\t", keep_default_na=False, na_values=["NaN", ""]
    )
    paper = paper_table()
    assert len(metrics) == 919 and metrics["id"].tolist() == list(range(919))
    assert metrics["name"].tolist() == deepsea_targets()["name"].tolist()
    assert (metrics["n_pos"] + metrics["n_neg"] == n_test_fwd).all(), (
        "one score per forward/RC pair"
    )
    assert np.allclose(metrics["paper_danq_auroc"], paper["DanQ ROC AUC"], equal_nan=True)
    assert np.isnan(metrics.loc[598, "paper_danq_auroc"])  # K562 BRF1: no positives in the paper
    summary = pd.read_csv(ev / "reference_summary.tsv", sep="\t")
    assert {"DNase", "TF", "histone", "all"} <= set(summary["class"])
    assert summary["median_reference"].between(0, 1).all()


def test_cli_import_train_evaluate_against_paper(tmp_path):
    write_bundle(tmp_path / "bundle", n_train=60, n_valid=10, n_test=20)
    w, ev, model = tmp_path / "windows", tmp_path / "evaluate", tmp_path / "model" / "danq.pt"
    mats = [f"--{s}={tmp_path / 'bundle' / f'{s}.mat'}" for s in ("train", "valid", "test")]
    assert main(["import-deepsea", *mats, "--out-dir", str(w), "--quiet"]) == 0
    assert sorted(p.name for p in w.iterdir()) == ["targets.tsv", "test.h5", "train.h5", "valid.h5"]
    train_args = [
        "--train",
        str(w / "train.h5"),
        "--valid",
        str(w / "valid.h5"),
        "--out",
        str(model),
    ]
    assert (
        main(
            [
                "train",
                *train_args,
                "--preset",
                "small",
                "--epochs",
                "1",
                "--batch-size",
                "40",
                "--device",
                "cpu",
                "--no-rc-augment",
                "--threads",
                "2",
            ]
        )
        == 0
    )
    history = pd.read_csv(model.parent / "history.tsv", sep="\t")
    assert len(history) == 1 and history["train_samples"].iloc[0] == 120
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(w / "test.h5"),
                "--out-dir",
                str(ev),
                "--no-baseline",
                "--reference",
                str(PAPER),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    _check_evaluation(ev, n_test_fwd=20)


def _workflow_dir(tmp_path: Path) -> Path:
    """A working folder with the DeepSEA test scenario as config.yaml, a bundle and data/."""
    (tmp_path / "data").symlink_to(REPO / "data")
    shutil.copy(REPO / ".test" / "config_deepsea.yaml", tmp_path / "config.yaml")
    write_bundle(tmp_path / "bundle", n_train=60, n_valid=10, n_test=20)
    return tmp_path


def _snakemake(workdir: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_workflow_lint_with_deepsea_config(tmp_path, tool_env):
    run = _snakemake(_workflow_dir(tmp_path), tool_env, "--lint")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Congratulations, your workflow is in a good condition" in run.stdout + run.stderr


@pytest.mark.slow
def test_workflow_runs_deepsea_config(tmp_path, tool_env):
    work = _workflow_dir(tmp_path)
    run = _snakemake(work, tool_env, "--cores", "2", "--show-failed-logs")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert (
        "rule prepare" not in run.stdout + run.stderr
        and "import_deepsea" in run.stdout + run.stderr
    )
    windows = work / "results" / "windows"
    for split, n in (("train", 120), ("valid", 20), ("test", 40)):
        w = WindowsH5(windows / f"{split}.h5")
        assert len(w) == n and w.rc_pairs and len(w.targets) == 919
    assert (windows / "targets.tsv").exists() and (work / "results" / "model" / "danq.pt").exists()
    _check_evaluation(work / "results" / "evaluate", n_test_fwd=20)
    assert (work / "results" / "report" / "report.html").stat().st_size > 0
