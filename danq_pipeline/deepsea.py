"""Import DeepSEA's training bundle (train.mat, valid.mat, test.mat) as windows HDF5 files.

The bundle (``deepsea_train_bundle.v0.9.tar.gz``, Zhou & Troyanskaya 2015) is what the DanQ
paper trained and tested on. Its layout, as each reader sees it:

================  ==========================  =======================  ======================
file              format                      sequences                labels
================  ==========================  =======================  ======================
train.mat         MATLAB v7.3 (= HDF5, h5py)  trainxdata (1000, 4, N)  traindata (919, N)
valid.mat         MATLAB v5 (scipy.io)        validxdata (N, 4, 1000)  validdata (N, 919)
test.mat          MATLAB v5 (scipy.io)        testxdata (N, 4, 1000)   testdata (N, 919)
================  ==========================  =======================  ======================

MATLAB stores arrays column-major and HDF5 row-major, so a v7.3 file's HDF5 dataspace holds
the MATLAB dimensions *reversed*: MATLAB's ``trainxdata`` is (N, 4, 1000), exactly like the v5
sets, and h5py shows it as (1000, 4, N) - position, channel, window - with the window axis
varying fastest on disk. The reader therefore slices ``[:, :, a:b]`` (bounded memory: one block
of windows at a time) and transposes each block to (n, 4, 1000). A plain HDF5 file without
MATLAB markers (like the DanQ repository's ``example.h5``) is read as (N, 4, 1000) as stored.

Sequences are one-hot uint8 with channel order **A, G, C, T**; they become the project's
A=0 C=1 G=2 T=3 N=4 codes (an all-zero column is N). Every set holds its forward windows
followed by their reverse complements (row k + N/2 is the reverse complement of row k), which
the output records as ``rc_pairs=True`` after checking a sample. The bundle has no genomic
coordinates: every window gets contig ``unknown`` and start -1. Targets are the 919 DeepSEA
chromatin profiles in their fixed order (125 DNase, 690 TF, 104 histone), named
``cell|assay|treatment`` from the DanQ paper's table; names repeat and are never merged.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pandas as pd

from danq_pipeline._io import atomic_path, ensure_writable
from danq_pipeline.dataset import WindowsWriter
from danq_pipeline.encode import reverse_complement_codes
from danq_pipeline.errors import DanQError, DanQWarning
from danq_pipeline.targets import deepsea_classes, targets_frame

DEEPSEA_ORDER = "AGCT"  # channel order of the bundle's one-hot arrays
WINDOW = 1000
N_TARGETS = 919
SPLITS = ("train", "valid", "test")
PAPER_TABLE = "danq_paper_aucs.tsv"  # packaged copy of data/deepsea/danq_paper_aucs.tsv
UNKNOWN_CONTIG = "unknown"
_MAT5_MAGIC = b"MATLAB 5.0 MAT-file"
_MAT73_MAGIC = b"MATLAB 7.3 MAT-file"
_CODE_OF_SUM = np.array([4, 0, 1, 2, 3], dtype=np.uint8)  # weighted channel sum -> A0 C1 G2 T3 N4
_RC_SAMPLE = 32  # windows per set checked for the reverse-complement layout


def variable_names(split: str) -> tuple[str, str]:
    """DeepSEA's (sequence, label) variable names for a split, e.g. ('validxdata', 'validdata')."""
    if split not in SPLITS:
        raise DanQError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return f"{split}xdata", f"{split}data"


def paper_table() -> pd.DataFrame:
    """The DanQ paper's per-target AUC table (919 rows in target order), as shipped.

    Read with ``keep_default_na=False`` so treatments literally named "NA" stay strings;
    AUC columns are numeric with NaN for the one target without test positives.
    """
    with resources.files("danq_pipeline").joinpath("data").joinpath(PAPER_TABLE).open("r") as fh:
        table = pd.read_csv(fh, sep="\t", keep_default_na=False, dtype=str)
    for col in table.columns[3:]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    return table


def deepsea_targets() -> pd.DataFrame:
    """The 919 DeepSEA targets: id, name, class, source, cell_type, assay, treatment.

    ``id`` is the column index 0..918 in the bundle's label matrices; ``name`` is
    ``cell|assay|treatment`` (DeepSEA's own naming; 76 names repeat and stay separate rows);
    ``class`` is DNase for the first 125, TF for the next 690, histone for the last 104.
    """
    table = paper_table()
    cell, assay, treat = (table.iloc[:, i].astype(str) for i in range(3))
    names = (cell + "|" + assay + "|" + treat).tolist()
    classes = deepsea_classes()
    frame = targets_frame(names, classes, sources=["DeepSEA bundle"] * len(names))
    return frame.assign(cell_type=cell.values, assay=assay.values, treatment=treat.values)


class _Layout(NamedTuple):
    """How a stored sequence array maps to (N, 4, L): which axis holds the windows."""

    window_axis: int  # 0: (N, 4, L) as stored; 2: (L, 4, N) (MATLAB v7.3 seen through h5py)
    label_axis: int  # axis of the labels array that runs over windows


class DeepSEASet:
    """One split file of the bundle, read in blocks of windows.

    Parameters
    ----------
    path : path-like
        ``train.mat`` (MATLAB v7.3/HDF5), ``valid.mat`` / ``test.mat`` (MATLAB v5), or any of
        them in the other format; a plain HDF5 file holding ``<split>xdata`` as (N, 4, 1000)
        also works (labels then optional, see `has_labels`).
    split : {"train", "valid", "test"}
        Selects the variable names (``trainxdata`` / ``traindata`` and so on).
    """

    def __init__(self, path: str | os.PathLike, split: str) -> None:
        self.path = Path(path)
        self.split = split
        self.xname, self.yname = variable_names(split)
        if not self.path.is_file():
            raise DanQError(
                f"{self.path}: no such file; pass DeepSEA's {split}.mat from the bundle"
            )
        self._h5: h5py.File | None = None
        if h5py.is_hdf5(self.path):
            self._open_hdf5()
        else:
            self._open_mat5()
        self._check_shapes()

    # -- opening ---------------------------------------------------------------------------
    def _open_hdf5(self) -> None:
        self.format = "MATLAB v7.3 (HDF5)"
        self._h5 = h5py.File(self.path, "r")
        names = sorted(self._h5.keys())
        if self.xname not in self._h5:
            raise self._missing(self.xname, names)
        self._x = self._h5[self.xname]
        self._y = self._h5[self.yname] if self.yname in self._h5 else None
        matlab = _is_matlab73(self.path, self._x)
        if not matlab:
            self.format = "HDF5"
        self.layout = _Layout(2, 1) if matlab else _Layout(0, 0)

    def _open_mat5(self) -> None:
        with open(self.path, "rb") as fh:
            head = fh.read(128)
        if not head.startswith(_MAT5_MAGIC):
            raise DanQError(
                f"{self.path}: not a MATLAB .mat file (neither a MATLAB v5 header nor HDF5); "
                f"pass DeepSEA's {self.split}.mat from deepsea_train_bundle"
            )
        self.format = "MATLAB v5"
        found = _mat5_variables(self.path)
        if self.xname not in found:
            raise self._missing(self.xname, sorted(found))
        self._x = _mat5_open(self.path, self.xname)
        self._y = _mat5_open(self.path, self.yname) if self.yname in found else None
        self.layout = _Layout(0, 0)

    def _missing(self, name: str, found: list[str]) -> DanQError:
        shown = ", ".join(found[:8]) or "none"
        return DanQError(
            f"{self.path}: no variable {name!r} (found: {shown}); "
            f"--{self.split} expects DeepSEA's {self.split}.mat with {self.xname}/{self.yname}"
        )

    def _check_shapes(self) -> None:
        shape = tuple(self._x.shape)
        want = "(1000, 4, N) as HDF5 dims" if self.layout.window_axis == 2 else "(N, 4, 1000)"
        if len(shape) != 3 or shape[1] != 4 or shape[2 - self.layout.window_axis] != WINDOW:
            raise DanQError(
                f"{self.path}: {self.xname} has shape {shape}, expected {want} one-hot "
                f"({self.format}); is this DeepSEA's {self.split}.mat?"
            )
        if self._y is None:
            return
        yshape = tuple(self._y.shape)
        want_y = [len(self), N_TARGETS]
        if self.layout.label_axis == 1:
            want_y.reverse()
        if yshape != tuple(want_y):
            raise DanQError(
                f"{self.path}: {self.yname} has shape {yshape}, expected {tuple(want_y)} "
                f"(windows x {N_TARGETS} targets, {self.format})"
            )

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._x.shape[self.layout.window_axis])

    @property
    def has_labels(self) -> bool:
        """Whether the file holds the label matrix (``<split>data``)."""
        return self._y is not None

    @property
    def block_quantum(self) -> int:
        """Windows per HDF5 chunk along the window axis (1 when unchunked): blocks align to it."""
        chunks = getattr(self._x, "chunks", None)
        return int(chunks[self.layout.window_axis]) if chunks else 1

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes (n, 1000) uint8 (A=0 C=1 G=2 T=3 N=4) and labels (n, 919) uint8 of [start, stop)."""
        if self.layout.window_axis == 2:  # (L, 4, n) as stored: convert, then one transpose
            codes = agct_codes(np.asarray(self._x[:, :, start:stop]))
            codes = None if codes is None else np.ascontiguousarray(codes.T)
        else:
            codes = agct_codes(np.asarray(self._x[start:stop]))
        if codes is None:
            raise DanQError(
                f"{self.path}: {self.xname} windows {start}-{stop} are not one-hot "
                f"(values above 1 or several channels set); expected DeepSEA's uint8 one-hot"
            )
        if self._y is None:
            return codes, None
        y = self._y[:, start:stop].T if self.layout.label_axis == 1 else self._y[start:stop]
        return codes, np.ascontiguousarray(y, dtype=np.uint8)

    def close(self) -> None:
        """Release the file handle (and any memory map)."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
        self._x = self._y = None

    def __enter__(self) -> DeepSEASet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def agct_codes(x: np.ndarray) -> np.ndarray | None:
    """DeepSEA one-hot (A,G,C,T channels on axis 1) -> base codes, or None if not one-hot.

    Works on either stored orientation, (n, 4, L) -> (n, L) or (L, 4, n) -> (L, n), without
    transposing the 4x larger one-hot first. Same result as
    ``encode.codes_from_one_hot(x, order="AGCT")`` (all-zero column = N), ~20x faster: each
    channel is weighted by its code + 1 and summed, so a valid column sums to 0 (N) .. 4.
    """
    a, g, c, t = (x[:, i] for i in range(4))
    total = a.astype(np.uint16) + g + c + t
    if total.size and total.max() > 1:
        return None
    return _CODE_OF_SUM[a + 3 * g + 2 * c + 4 * t]


def _is_matlab73(path: Path, dataset: h5py.Dataset) -> bool:
    """True when the HDF5 file was written by MATLAB (v7.3 header in the userblock or MATLAB_class)."""
    with open(path, "rb") as fh:
        head = fh.read(len(_MAT73_MAGIC))
    return head == _MAT73_MAGIC or "MATLAB_class" in dataset.attrs


# -- import ----------------------------------------------------------------------------------
def import_deepsea(
    *,
    out_dir: str | os.PathLike,
    train: str | os.PathLike | None = None,
    valid: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    chunk_windows: int = 10000,
    max_train_windows: int | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Convert the bundle's split files into ``out_dir/{split}.h5`` plus ``out_dir/targets.tsv``.

    Parameters
    ----------
    out_dir : path-like
        Output folder (created). Each file is written under a temporary name and renamed.
    train, valid, test : path-like, optional
        DeepSEA's ``train.mat``, ``valid.mat``, ``test.mat``; any subset (at least one).
    chunk_windows : int, optional
        Windows read per block (memory ~10 kB per window: 10000 -> ~100 MB). Default is 10000.
    max_train_windows : int, optional
        Keep only this many training windows: the first ``max_train_windows // 2`` forward
        windows and their reverse complements (pairs stay intact). Default is all.
    progress : bool, optional
        Show a tqdm bar per split on stderr. Default is True.

    Returns
    -------
    outputs : dict
        ``{"train": Path, ..., "targets": Path}`` for the files written.
    """
    sources = {"train": train, "valid": valid, "test": test}
    if all(v is None for v in sources.values()):
        raise DanQError("nothing to import; pass at least one of --train, --valid, --test")
    ensure_writable(out_dir, "out_dir", folder=True)
    sets = {split: DeepSEASet(src, split) for split, src in sources.items() if src is not None}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    try:
        for split, ds in sets.items():
            limit = max_train_windows if split == "train" else None
            written[split] = import_split(
                ds,
                out / f"{split}.h5",
                chunk_windows=chunk_windows,
                max_windows=limit,
                progress=progress,
            )
    finally:
        for ds in sets.values():
            ds.close()
    written["targets"] = write_targets_tsv(out / "targets.tsv")
    return written


def write_targets_tsv(path: str | os.PathLike) -> Path:
    """Write the 919-target table (id, name, class, source, cell_type, assay, treatment) as TSV."""
    path = Path(path)
    # a unique temporary name: per-split import jobs may write the same table concurrently
    with atomic_path(path, unique=True) as tmp:
        deepsea_targets().to_csv(tmp, sep="\t", index=False)
    return path


def import_split(
    ds: DeepSEASet,
    out: str | os.PathLike,
    *,
    chunk_windows: int = 10000,
    max_windows: int | None = None,
    progress: bool = True,
) -> Path:
    """Stream one opened split into a windows HDF5 file, block by block; returns its path."""
    if not ds.has_labels:
        raise DanQError(
            f"{ds.path}: no variable {ds.yname!r} (the labels); "
            f"--{ds.split} expects DeepSEA's {ds.split}.mat with {ds.xname}/{ds.yname}"
        )
    if chunk_windows < 1:
        raise DanQError(f"--chunk-windows must be at least 1 (got {chunk_windows})")
    ranges = row_ranges(len(ds), max_windows)
    rc_ok = check_rc_pairs(ds)
    attrs = {
        "rc_pairs": rc_ok,
        "coordinates": "unknown: the DeepSEA bundle has none (contig 'unknown', start -1)",
        "source": {
            "file": str(ds.path),
            "format": ds.format,
            "variables": [ds.xname, ds.yname],
            "windows_in_source": len(ds),
            "rows": [list(r) for r in ranges],
            "channel_order": DEEPSEA_ORDER,
        },
    }
    block = _block_size(chunk_windows, ds.block_quantum)
    with WindowsWriter(
        out,
        window=WINDOW,
        targets=deepsea_targets(),
        contigs=[UNKNOWN_CONTIG],
        split=ds.split,
        attrs=attrs,
    ) as writer:
        with _progress(sum(b - a for a, b in ranges), ds.split, progress) as bar:
            for codes, labels in _blocks(ds, ranges, block):
                n = len(codes)
                writer.append(codes, labels, np.zeros(n, np.int32), np.full(n, -1, np.int64))
                bar.update(n)
    return Path(out)


def row_ranges(n: int, max_windows: int | None) -> list[tuple[int, int]]:
    """Source rows to keep: all, or the first m forward windows plus their m reverse complements."""
    if max_windows is None or max_windows >= n:
        return [(0, n)]
    if max_windows < 2:
        raise DanQError(f"--max-train-windows must be at least 2 (got {max_windows})")
    half, m = n // 2, max_windows // 2
    return [(0, m), (half, half + m)]


def check_rc_pairs(ds: DeepSEASet, sample: int = _RC_SAMPLE) -> bool:
    """Check on the first `sample` windows that row k + N/2 is row k's reverse complement.

    Returns False (with a `DanQWarning`) when the layout does not hold, so evaluation
    does not average a window with an unrelated one.
    """
    n = len(ds)
    half = n // 2
    k = min(sample, half)
    if n % 2 or k == 0:
        warnings.warn(
            f"{ds.path}: {n} windows cannot be forward + reverse-complement halves; rc_pairs=False",
            DanQWarning,
            stacklevel=2,
        )
        return False
    fwd, yf = ds.read(0, k)
    rev, yr = ds.read(half, half + k)
    ok = np.array_equal(reverse_complement_codes(fwd), rev) and (
        yf is None or np.array_equal(yf, yr)
    )
    if not ok:
        warnings.warn(
            f"{ds.path}: the second half is not the reverse complement of the first "
            "(checked the first windows); rc_pairs=False",
            DanQWarning,
            stacklevel=2,
        )
    return bool(ok)


def _block_size(chunk_windows: int, quantum: int) -> int:
    """Round the block to whole HDF5 chunks along the window axis, so no chunk is read twice."""
    return max(quantum, (chunk_windows // quantum) * quantum)


def _blocks(
    ds: DeepSEASet, ranges: list[tuple[int, int]], block: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (codes, labels) blocks of at most `block` windows over the row ranges, in order."""
    for a, b in ranges:
        for i in range(a, b, block):
            codes, labels = ds.read(i, min(i + block, b))
            yield codes, labels


def _progress(total: int, split: str, enabled: bool):
    """A tqdm bar over windows on stderr (silent when disabled or not a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=f"import {split}",
        unit="win",
        unit_scale=True,
        disable=(not enabled) or None,
        leave=False,
    )


# -- MATLAB v5 (valid.mat, test.mat) ---------------------------------------------------------
_MI_DTYPES = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    9: "f8",
    12: "i8",
    13: "u8",
}
_MI_COMPRESSED = 15


class _Mat5Array:
    """An uncompressed numeric MATLAB v5 variable on disk, sliced along its first axis.

    MATLAB stores it column-major, so rows [a, b) are strided on disk; each slice maps the
    file, copies the rows and unmaps it again, so nothing stays resident between blocks.
    """

    def __init__(self, path: Path, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, dtype
        self.chunks = None

    def __getitem__(self, rows: slice) -> np.ndarray:
        mm = np.memmap(
            self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape, order="F"
        )
        try:
            return np.array(mm[rows], order="C")
        finally:
            del mm


def _mat5_variables(path: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the variables in a MATLAB v5 file (reads headers only)."""
    from scipy.io import whosmat

    try:
        return {name: tuple(shape) for name, shape, _ in whosmat(path)}
    except Exception as err:  # scipy raises assorted errors on truncated or foreign files
        raise DanQError(
            f"{path}: unreadable MATLAB v5 file ({err}); re-download the bundle"
        ) from None


def _mat5_map(path: Path, name: str) -> _Mat5Array | None:
    """Locate an uncompressed numeric variable's data in the file (None: compressed or unusual).

    Walks the variable headers with scipy's v5 reader (a private module: if it moves, every
    variable simply goes through loadmat).
    """
    try:
        from scipy.io.matlab._mio5 import MatFile5Reader
    except ImportError:
        return None
    with open(path, "rb") as fh:
        reader = MatFile5Reader(fh)
        reader.initialize_read()
        reader.read_file_header()
        order = reader.byte_order
        while not reader.end_of_stream():
            tag = np.frombuffer(fh.read(8), dtype=order + "u4")
            fh.seek(-8, os.SEEK_CUR)
            header, next_pos = reader.read_var_header()
            if (header.name or b"").decode("latin1") != name:
                fh.seek(next_pos)
                continue
            if tag[0] == _MI_COMPRESSED:
                return None
            mdtype, nbytes = np.frombuffer(fh.read(8), dtype=order + "u4")
            shape = tuple(int(d) for d in header.dims)
            dtype = np.dtype(order + _MI_DTYPES.get(int(mdtype), "V1"))
            if mdtype in _MI_DTYPES and nbytes == int(np.prod(shape)) * dtype.itemsize:
                return _Mat5Array(path, fh.tell(), shape, dtype)
            return None
    return None


def _mat5_open(path: Path, name: str) -> _Mat5Array | np.ndarray:
    """Map an uncompressed variable in place; load a compressed one whole with scipy.io.loadmat."""
    mapped = _mat5_map(path, name)
    if mapped is not None:
        return mapped
    from scipy.io import loadmat

    return loadmat(path, variable_names=[name])[name]
